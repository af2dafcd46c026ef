"""The images build: every Dockerfile the course ships, step by step.

With a Docker engine, ``docker build`` of each stage.  Without one (as here), each stage's
steps are performed in a clean temporary folder standing in for the image's file system and a
fresh virtual environment standing in for its Python: ``WORKDIR`` and ``COPY`` (from the
repository, as from the build context) for real; every ``pip install`` of a ``RUN`` line is
resolved against the package index exactly as written (``pip install --dry-run --report``, which
fails on a file or folder the image lacks, a conflict or a requirement that does not exist), and
the course's own projects (its wheel, its Jupyter settings) are installed for real, without their
dependencies (those are what the dry run resolved).  The other commands of a ``RUN`` line that
act on the image's files (``rm``, ``mkdir``, ``chmod``) are run for real on the stand-in folder,
every path in the image taken to the same path in it: a ``chmod`` of a path the stage does not
have fails, and so does an ``rm`` that removes nothing (``rm -f`` would pass over a misspelt path
in silence, in Docker too).  ``apt-get install`` is resolved against this machine's Debian package
lists as written (``apt-get install -s``: installs nothing, fails on a package Debian does not
have); ``apt-get update`` is not run (it would rewrite this machine's package lists, not the
image's), and the ``rm`` of its lists in the same line is checked against this machine's apt
folders, which a Debian base image shares.  ``USER`` is not simulated: every step runs as this
test's user.  The hub stage's base, the chart's hub image, is stood in for by
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

import glob
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
#: Commands a RUN line may hold besides pip and apt-get, run here on the image's stand-in folder.
RUN_HERE = {"rm", "mkdir", "chmod"}
#: Where ``apt-get update`` keeps its package lists (not run here; a Debian base image has it).
APT_STATE = "/var/lib/apt"


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
    """Perform ``stage``'s steps in ``folder`` (the image's /, ``folder / "root"``) and a fresh
    virtual environment (``folder / "venv"``, made at the first pip line)."""
    root, env_dir = folder / "root", folder / "venv"
    root.mkdir()
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
            cwd, apt_ran = workdir, False
            for command in (shlex.split(part) for part in rest.split("&&")):
                if command[0] == "cd":
                    cwd = os.path.normpath(os.path.join(cwd, command[1]))
                elif command[:2] == ["pip", "install"]:
                    if not python.exists():
                        venv.EnvBuilder(with_pip=True).create(env_dir)
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
                elif command[0] == "apt-get":
                    apt_ran = True
                    apt_get(stage.name, command)
                else:
                    assert command[0] in RUN_HERE, f"{stage.name}: RUN {' '.join(command)}: not a step this test knows"
                    run_on_image(stage.name, command, root, host(".", cwd), apt_ran=apt_ran)
    return Result(env_dir, resolved)


#: apt-get install lines already resolved in this session.
_APT_RESOLVED: set[tuple[str, ...]] = set()


def apt_get(stage: str, command: list[str]) -> None:
    """``apt-get install`` as written, resolved against this machine's Debian package lists
    (``-s``: simulated, nothing installed); ``apt-get update`` is left out (it rewrites this
    machine's lists, not the image's)."""
    if command[1:2] == ["update"]:
        return
    assert command[1:2] == ["install"], f"{stage}: RUN {' '.join(command)}: not a step this test knows"
    args = [a for a in command[2:] if a not in ("-y", "--yes", "-q", "-qq")]
    if tuple(args) in _APT_RESOLVED:
        return
    simulated = subprocess.run(
        ["apt-get", "install", "-s", *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert simulated.returncode == 0, f"{stage}: RUN {' '.join(command)}:\n{simulated.stderr[-2000:]}"
    _APT_RESOLVED.add(tuple(args))


def run_on_image(stage: str, command: list[str], root: Path, cwd: Path, *, apt_ran: bool) -> None:
    """Run ``rm``, ``mkdir`` or ``chmod`` with the image's paths taken into ``root`` (shell globs
    expanded there, as the image's shell would); relative paths are taken from ``cwd``.

    Fails when the command fails (``chmod`` of a missing path), when a path leaves ``root``, and
    when an ``rm`` names a path the stage does not have: in Docker ``rm -rf`` of a misspelt path
    succeeds and removes nothing.  The one exception is ``rm`` of apt's package lists after an
    ``apt-get`` in the same line: ``apt-get update`` is not run here, so the folder must be one
    this machine's apt has (a Debian base image has the same)."""
    program, *words = command
    operands = [k for k, w in enumerate(words) if not w.startswith("-")]
    mode = operands[0] if program == "chmod" and operands else None  # chmod's first operand: the mode
    args: list[str] = []
    for k, word in enumerate(words):
        if word.startswith("-") or k == mode:
            args.append(word)
            continue
        target = Path(os.path.normpath(root / word.lstrip("/") if word.startswith("/") else cwd / word))
        assert target == root or root in target.parents, f"{stage}: RUN {' '.join(command)}: leaves the image"
        matches = sorted(glob.glob(str(target))) if glob.has_magic(word) else [str(target)]
        if program == "rm" and not any(os.path.lexists(m) for m in matches):
            in_apt = word.startswith(APT_STATE + "/") and apt_ran
            assert in_apt, f"{stage}: RUN {' '.join(command)}: {word} is not in the image (a wrong path?)"
            assert Path(os.path.dirname(word)).is_dir(), f"{stage}: RUN {' '.join(command)}: apt has no {word}"
            continue
        args.extend(matches or [str(target)])
    if program == "rm" and not any(not a.startswith("-") for a in args):
        return  # only apt's lists, which are not here
    done = subprocess.run([program, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{stage}: RUN {' '.join(command)}:\n{done.stderr[-2000:]}"


def layout_problems(name: str, root: Path) -> list[str]:
    """What is wrong with the files stage ``name`` left in the image's stand-in folder ``root``: the
    build folder left behind; in the student image, the exchange's mount point missing where
    values.yaml mounts the volume, or a course file or folder that not every account can read."""
    problems = []
    if (root / "tmp" / "course").exists():
        problems.append("/tmp/course, the build folder, is left in the image")
    if name == "singleuser":
        import yaml

        values = yaml.safe_load((DEPLOY / "values.yaml").read_text(encoding="utf-8"))
        mounts = values["singleuser"]["storage"]["extraVolumeMounts"]
        [exchange] = [m["mountPath"] for m in mounts if m["name"] == "nbgrader-exchange"]
        if not (root / exchange.lstrip("/")).is_dir():
            problems.append(f"{exchange}: no mount point for the exchange volume")
        for path in (root / "srv" / "course").rglob("*"):
            wanted = 0o005 if path.is_dir() else 0o004  # a+rX: others may read, and enter folders
            if path.stat().st_mode & wanted != wanted:
                problems.append(f"/{path.relative_to(root)}: not readable by every account")
    return problems


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
    assert layout_problems(name, tmp_path / "root") == []

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


def _misspelt(path: str) -> str:
    """``path`` with its last component that is not a shell glob misspelt (``/tmp/course`` ->
    ``/tmp/coursex``, ``/var/lib/apt/lists/*`` -> ``/var/lib/apt/listsx/*``)."""
    parts = path.split("/")
    last = max(k for k, part in enumerate(parts) if part and not glob.has_magic(part))
    parts[last] += "x"
    return "/".join(parts)


def _file_paths(rest: str) -> list[str]:
    """The paths the ``rm``, ``mkdir`` and ``chmod`` commands of a RUN line name."""
    paths = []
    for command in (shlex.split(part) for part in rest.split("&&")):
        if command[0] in RUN_HERE:
            operands = [w for w in command[1:] if not w.startswith("-")]
            paths += operands[1:] if command[0] == "chmod" else operands
    return paths


@pytest.mark.parametrize(("dockerfile", "name"), STAGES, ids=[n for _, n in STAGES])
def test_a_wrong_path_in_a_run_step_fails(dockerfile: str, name: str, tmp_path: Path) -> None:
    """Each stage's steps other than pip, as shipped, run on the stand-in folder and leave the
    image as the checks above want it; with any one path of an ``rm``, ``mkdir`` or ``chmod``
    misspelt, they fail (the command itself, or what the image then holds)."""
    [stage] = [s for s in parse((REPO / dockerfile).read_text(encoding="utf-8")) if s.name == name]
    steps = [(i, rest) for i, rest in stage.steps if not (i == "RUN" and "pip install" in rest)]
    (tmp_path / "shipped").mkdir()
    perform(Stage(name, stage.base, steps), tmp_path / "shipped")
    assert layout_problems(name, tmp_path / "shipped" / "root") == []

    mutants = [(k, path) for k, (i, rest) in enumerate(steps) if i == "RUN" for path in _file_paths(rest)]
    assert mutants, f"{name}: no rm, mkdir or chmod step to check"
    for n, (k, path) in enumerate(mutants):
        commands = [shlex.split(part) for part in steps[k][1].split("&&")]
        rest = " && ".join(shlex.join([_misspelt(w) if w == path else w for w in c]) for c in commands)
        mutant = Stage(name, stage.base, [*steps[:k], ("RUN", rest), *steps[k + 1 :]])
        folder = tmp_path / f"mutant{n}"
        folder.mkdir()
        try:
            perform(mutant, folder)
        except AssertionError:
            continue
        assert layout_problems(name, folder / "root"), f"{name}: RUN {rest} passed with {path} misspelt"
