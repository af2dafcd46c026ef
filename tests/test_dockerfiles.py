"""The images build: every Dockerfile the course ships, step by step.

With a Docker engine, ``docker build`` of each stage.  Without one (as here), each stage's
steps are performed in a clean temporary folder standing in for the image's file system and a
fresh virtual environment standing in for its Python: ``WORKDIR`` and ``COPY`` (from the
repository, as from the build context) for real; every ``pip install`` of a ``RUN`` line is
resolved against the package index exactly as written (``pip install --dry-run --report``, which
fails on a file or folder the image lacks, a conflict or a requirement that does not exist), and
the course's own projects (its wheel, its Jupyter settings) are installed for real, without their
dependencies (those are what the dry run resolved).  The
other commands of a ``RUN`` line (``rm``, ``mkdir``, ``chmod``) only touch the image's own files
and are not run on this machine.  The hub stage's base, the chart's hub image, is stood in for by
the packages the course relies on in it, pinned to the versions that image carries
(``tests/support/chart.py``, ``HUB_IMAGE``): every pip line of the stage is resolved together
with them, so what the stage adds must install beside the chart's JupyterHub, LTI authenticator
and KubeSpawner (and what those pull in).  The rest of that image is taken on trust.

Then what the image holds is checked: the course package installed from a wheel (not editable)
with its data, the Jupyter settings that enable its server extension, JupyterHub in the series the
class targets run, and in the student and grading images no test or developer tooling.

It needs the package index (the student and grading images share one resolution of
requirements-course.txt): skipped with the reason when it cannot be reached, failed under ``CI``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.request
import venv
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import chart
from support.browser import require
from support.nbtools import REPO, record_timing

#: Each shipped Dockerfile and the stages built from it.
DOCKERFILES = {
    "deploy/Dockerfile": ("singleuser", "hub"),
    "deploy/grading.Dockerfile": ("grading",),
}
#: What a student or grading image must not carry (requirements.txt's test, site and tooling lines).
DEVELOPER_TOOLS = {"pytest", "hypothesis", "playwright", "ruff", "mypy", "pandas-stubs", "sphinx", "papermill"}
DEPLOY = REPO / "deploy"
#: The Zero to JupyterHub chart's hub image, tagged with the chart's version.
HUB_IMAGE = "quay.io/jupyterhub/k8s-hub:"
#: Commands a RUN line may hold besides pip: they act on the image's own files only (apt-get:
#: the image's system packages, e.g. bubblewrap for the sealed grader, which this machine has).
NOT_RUN_HERE = {"rm", "mkdir", "chmod", "chown", "apt-get"}


@dataclass
class Stage:
    """One stage of a Dockerfile: its name and its instructions, in order."""

    name: str
    base: str
    steps: list[tuple[str, str]] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else "grading"
            stages.append(Stage(name, words[0]))
        else:
            stages[-1].steps.append((instruction, rest.strip()))
    return stages


@dataclass
class Result:
    """What performing a stage left: its virtual environment and everything pip would install."""

    venv: Path
    resolved: dict[str, str]

    @property
    def site_packages(self) -> Path:
        [site] = self.venv.glob("lib/python*/site-packages")
        return site


def _pip(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_NO_CACHE_DIR", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(python), "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


#: Resolutions already made in this session, by pip arguments and the requirement files' text:
#: the student and grading images resolve the same requirements-course.txt once.
_RESOLVED: dict[tuple[str, ...], dict[str, str]] = {}


def _resolve(stage: str, python: Path, args: list[str], cwd: Path, report: Path) -> dict[str, str]:
    """What ``pip install ARGS`` would install (name -> version), resolved in ``cwd`` as written."""
    files = [cwd / args[k + 1] for k, a in enumerate(args[:-1]) if a in ("-r", "--requirement")]
    local = any(a.startswith((".", "/")) for a in args)
    key = (*args, *(f.read_text(encoding="utf-8") for f in files if f.is_file()))
    if not local and key in _RESOLVED:
        return _RESOLVED[key]
    dry = _pip(python, ["install", "--dry-run", "--ignore-installed", "--report", str(report), *args], cwd)
    assert dry.returncode == 0, f"{stage}: RUN pip install {' '.join(args)}:\n{dry.stderr[-3000:]}"
    found = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    if not local:
        _RESOLVED[key] = found
    return found


def perform(stage: Stage, folder: Path) -> Result:
    """Perform ``stage``'s steps in ``folder`` (the image's /) and a fresh virtual environment."""
    root, env_dir = folder / "root", folder / "venv"
    root.mkdir()
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    workdir = "/"

    def host(path: str, cwd: str) -> Path:
        return root / os.path.normpath(os.path.join(cwd, path)).lstrip("/")

    # What the base image already has must stay installable beside what a pip line adds: the
    # chart's hub image's JupyterHub, LTI authenticator and KubeSpawner, at the versions it pins,
    # are resolved with every pip line of the hub stage.
    base: list[str] = []
    if stage.base.startswith(HUB_IMAGE):
        version = stage.base[len(HUB_IMAGE) :]
        assert version in chart.HUB_IMAGE, f"{stage.name}: which packages does {stage.base} carry?"
        base = [f"{name}=={pin}" for name, pin in chart.HUB_IMAGE[version].items()]
    resolved: dict[str, str] = {}
    for instruction, rest in stage.steps:
        if instruction == "WORKDIR":
            workdir = os.path.normpath(os.path.join(workdir, rest))
            host(".", workdir).mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--chown")]
            assert not any(w.startswith("--") for w in words), f"{stage.name}: COPY {rest}: only --chown is handled"
            *sources, dest = words
            for source in sources:
                assert not source.startswith("solutions"), "hidden tests never go into an image"
                src = REPO / source
                assert src.exists(), f"{stage.name}: COPY {source}: not in the repository"
                if src.is_dir():
                    shutil.copytree(
                        src, host(dest, workdir), dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    target = host(dest, workdir)
                    if dest.endswith("/") or len(sources) > 1:
                        target.mkdir(parents=True, exist_ok=True)
                        target = target / src.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target)
        elif instruction == "RUN":
            cwd = workdir
            for command in (shlex.split(part) for part in rest.split("&&")):
                if command[0] == "cd":
                    cwd = os.path.normpath(os.path.join(cwd, command[1]))
                elif command[:2] == ["pip", "install"]:
                    # paths in the image (absolute ones too) are paths in the stand-in folder
                    args = [str(host(a, cwd)) if a.startswith("/") else a for a in command[2:] if a != "--no-cache-dir"]
                    resolved.update(
                        _resolve(stage.name, python, [*base, *args], host(".", cwd), folder / "report.json")
                    )
                    # Performed for real: a --no-deps install as written; otherwise the local
                    # projects of the line (their dependencies are the ones resolved above).
                    local = [a for a in args if a.startswith(".") or a.startswith("/")]
                    real_args = args if "--no-deps" in args else (["--no-deps", *local] if local else [])
                    if real_args:
                        real = _pip(python, ["install", "-q", *real_args], host(".", cwd))
                        assert real.returncode == 0, (
                            f"{stage.name}: RUN pip install {' '.join(args)}:\n{real.stderr[-3000:]}"
                        )
                else:
                    assert command[0] in NOT_RUN_HERE, (
                        f"{stage.name}: RUN {' '.join(command)}: not a step this test knows"
                    )
    return Result(env_dir, resolved)


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=60).returncode == 0


def _index_reachable() -> bool:
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/pip/", timeout=20) as response:
            return bool(response.status == 200)
    except OSError:
        return False


STAGES = [(dockerfile, name) for dockerfile, names in DOCKERFILES.items() for name in names]


@pytest.mark.slow  # minutes: each image's requirements installed into a fresh venv
@pytest.mark.parametrize(("dockerfile", "name"), STAGES, ids=[n for _, n in STAGES])
def test_each_image_builds(dockerfile: str, name: str, tmp_path: Path) -> None:
    start = time.perf_counter()
    [stage] = [s for s in parse((REPO / dockerfile).read_text(encoding="utf-8")) if s.name == name]
    if _docker_engine():
        target = [] if name == "grading" else ["--target", name]
        built = subprocess.run(
            ["docker", "build", "-f", dockerfile, *target, "-t", f"course-test-{name}", "."],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, built.stderr[-3000:]
        record_timing("deploy", f"docker build {dockerfile} ({name})", time.perf_counter() - start)
        return
    if not _index_reachable():
        require("the package index cannot be reached: the image steps resolve the requirements against it")
    result = perform(stage, tmp_path)

    # The course package, from a wheel (not editable), with its data.
    package = result.site_packages / "toychat"
    assert (package / "__init__.py").is_file(), f"{name}: the course package is not installed"
    assert sorted(p.name for p in (package / "data").glob("*.csv")) == ["claims.csv", "references.csv", "sources.csv"]
    assert not list(result.site_packages.glob("__editable__*toychat*")), f"{name}: toychat is an editable install"
    if name == "hub":
        # the relay's only needs beyond the chart's hub image, which keeps its own JupyterHub:
        # the stage names none of the image's packages, and its additions resolved beside them
        pins = chart.HUB_IMAGE[stage.base[len(HUB_IMAGE) :]]
        for instruction, rest in stage.steps:
            assert instruction != "RUN" or not any(p in rest for p in pins), f"hub: RUN {rest} reinstalls the base's"
        assert {n: result.resolved[n] for n in pins} == pins, "the hub stage's additions fit the chart's pins"
    else:
        server_config = result.venv / "etc" / "jupyter" / "jupyter_server_config.d" / "toychat.json"
        assert server_config.is_file(), f"{name}: the course's server extension is not enabled"
        assert {"jupyterlab", "nbgrader", "voila", "pynacl"} <= set(result.resolved), sorted(result.resolved)
        assert result.resolved["jupyterhub"].startswith("5."), "the user environment's JupyterHub is the hub's 5.x"
        carried = DEVELOPER_TOOLS & set(result.resolved)
        assert not carried, f"{name}: the image carries developer tooling {sorted(carried)}"
    record_timing("deploy", f"Dockerfile steps without Docker: {dockerfile} ({name})", time.perf_counter() - start)
