"""deploy/: the Zero-to-JupyterHub values and the images' Dockerfile, checked offline.

No Kubernetes cluster or Docker engine runs here.  What is checked:

* the values' structure and the choices docs/deploying.md promises (HTTPS, idle
  culling, per-user storage, the exchange volume where nbgrader's config looks,
  the relay service and its scopes, formgrader for instructors only);
* every key the values set, and its type, against the course's own statement of
  the chart's configuration reference (``tests/support/chart.py``; the chart is
  not on PyPI, Debian or npm, so its schema cannot be installed offline).  The
  check against the chart's own JSON schema and defaults needs the chart, which
  only the network brings: with ``Z2JH_CHART`` pointing at an unpacked chart
  (``helm pull jupyterhub/jupyterhub --version 4.4.0 --untar``) the same test
  runs it too;
* the Dockerfile copies what exists, never ``solutions/``;
* tests/test_lti.py loads the values' hub configuration into a real JupyterHub.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from support import chart
from support.nbtools import REPO

DEPLOY = REPO / "deploy"
#: The chart's top-level keys (Zero to JupyterHub 4.x values.yaml).
CHART_KEYS = {
    "fullnameOverride",
    "nameOverride",
    "enabled",
    "custom",
    "imagePullSecret",
    "imagePullSecrets",
    "hub",
    "rbac",
    "proxy",
    "singleuser",
    "scheduling",
    "prePuller",
    "ingress",
    "httpRoute",
    "cull",
    "debug",
    "global",
}


@pytest.fixture(scope="module")
def values() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((DEPLOY / "values.yaml").read_text(encoding="utf-8"))


def test_values_use_only_the_charts_keys_and_make_the_promised_choices(values: dict) -> None:
    assert set(values) <= CHART_KEYS, set(values) - CHART_KEYS
    https = values["proxy"]["https"]
    assert https["enabled"]
    assert https["hosts"]
    assert https["letsencrypt"]["contactEmail"]
    assert values["cull"]["enabled"]
    assert 0 < values["cull"]["timeout"] <= 3600
    storage = values["singleuser"]["storage"]
    assert storage["type"] == "dynamic"
    assert storage["capacity"]
    # the exchange volume is mounted where nbgrader's shared config looks for it
    [mount] = storage["extraVolumeMounts"]
    assert mount["mountPath"] in (DEPLOY / "jupyter" / "common" / "nbgrader_config.py").read_text()
    # the images are the course's own, not the chart's sample
    for part in ("hub", "singleuser"):
        assert "course" in values[part]["image"]["name"], part
    # every hub.config section is a Configurable class name, and the authenticator is LTI 1.3
    hub = values["hub"]
    assert all(section[:1].isupper() for section in hub["config"])
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "ltiauthenticator.lti13.auth.LTI13Authenticator"
    assert hub["config"]["LTI13Authenticator"]["username_key"] == "sub"
    for key, code in hub["extraConfig"].items():
        compile(code, key, "exec")
    # the relay runs as a hub service, and users' tokens may reach it (docs/deploying.md)
    relay = hub["services"]["toychat-relay"]
    assert "toychat.relay --hub" in " ".join(relay["command"])
    assert "access:services!service=toychat-relay" in hub["loadRoles"]["server"]["scopes"]
    assert values["singleuser"]["extraEnv"]["TOYCHAT_RELAY"].endswith("/services/toychat-relay")


#: Kubernetes memory quantities (the suffixes the values use), in MiB.
_QUANTITY_MIB = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}


def _mib(quantity: str) -> float:
    """A Kubernetes memory quantity ("512M", "1040Mi", "2G") in MiB."""
    import re

    number, suffix = re.fullmatch(r"([\d.]+)([KMG]i?)", str(quantity)).groups()  # type: ignore[union-attr]
    return float(number) * _QUANTITY_MIB[suffix]


def test_memory_guarantee_and_limit_come_from_the_measured_sizes(values: dict) -> None:
    """The student pod's guarantee holds one student as the sizing table counts one (server, the
    heaviest kernel, one more at the median), so the scheduler never packs more students on a node
    than the table's node count assumes; the limit holds the server with the heaviest kernel."""
    from benchmarks.sizing import figures_from_results, per_student_mib

    figures = figures_from_results((REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8"))
    memory = values["singleuser"]["memory"]
    assert _mib(memory["guarantee"]) >= per_student_mib(**figures), (memory, figures)
    assert _mib(memory["limit"]) >= figures["server_mib"] + figures["kernel_mib"], (memory, figures)
    assert _mib(memory["guarantee"]) <= _mib(memory["limit"])
    assert _mib("512M") < per_student_mib(**figures)  # the check can fail: the old guarantee would
    # the guide's sentence gives the measured figure the guarantee is set from
    guide = (REPO / "docs" / "deploying.md").read_text(encoding="utf-8")
    assert f"median peak: {per_student_mib(**figures):,.0f} MiB)" in guide


def test_role_configs_give_formgrader_to_instructors_only() -> None:
    student = json.loads((DEPLOY / "jupyter" / "student" / "jupyter_server_config.json").read_text())
    instructor = json.loads((DEPLOY / "jupyter" / "instructor" / "jupyter_server_config.json").read_text())
    key = "nbgrader.server_extensions.formgrader"
    assert student["ServerApp"]["jpserver_extensions"][key] is False
    assert instructor["ServerApp"]["jpserver_extensions"][key] is True
    page = json.loads((DEPLOY / "jupyter" / "student" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True


def test_dockerfile_copies_existing_paths_and_never_the_solutions() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert {"singleuser", "hub"} <= set(re.findall(r"^FROM \S+ AS (\w+)", text, flags=re.MULTILINE))
    sources = [
        src for line in re.findall(r"^COPY (?:--\S+ )*(.+)$", text, flags=re.MULTILINE) for src in line.split()[:-1]
    ]
    assert sources, sources
    assert all((REPO / src).exists() for src in sources), sources
    assert not any(src.startswith("solutions") for src in sources), "hidden tests never go into an image"
    assert "requirements-course.txt" in sources, "the student image installs the user environment only"
    assert "lessons/" in sources
    assert "exercises/" in sources


#: The JupyterHub each deployment target runs: the Zero to JupyterHub chart's hub image
#: (tests/support/chart.py, HUB_IMAGE, our pins of the chart's images/hub/requirements.txt) and
#: The Littlest JupyterHub's hub environment (tljh/requirements-hub-env.txt: jupyterhub>=5.2.0,<6).
CHART_JUPYTERHUB = {version: pins["jupyterhub"] for version, pins in chart.HUB_IMAGE.items()}
TLJH_JUPYTERHUB = ">=5.2.0,<6"


def _requirement(path: Path, name: str) -> str:
    """The version specifier of ``name`` in a requirements file."""
    [line] = [line for line in path.read_text(encoding="utf-8").splitlines() if re.match(rf"{name}\s*[<>=!~]", line)]
    return line[len(name) :].strip()


def test_one_jupyterhub_series_for_the_chart_tljh_and_the_course() -> None:
    from packaging.specifiers import SpecifierSet

    values_text = (DEPLOY / "values.yaml").read_text(encoding="utf-8")
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    guide = (REPO / "docs" / "deploying.md").read_text(encoding="utf-8")
    [chart] = set(re.findall(r"--version (\d+\.\d+\.\d+)", values_text))
    assert chart in CHART_JUPYTERHUB, f"chart {chart}: which JupyterHub does its hub image run?"
    assert re.findall(r"FROM quay.io/jupyterhub/k8s-hub:(\S+)", dockerfile) == [chart], "the hub image is the chart's"
    assert set(re.findall(r"jupyterhub/jupyterhub[^`]*--version (\d+\.\d+\.\d+)", guide)) == {chart}
    hub = CHART_JUPYTERHUB[chart]
    user_env = SpecifierSet(_requirement(REPO / "requirements-course.txt", "jupyterhub"))
    assert hub in user_env, f"the user environment's JupyterHub {user_env} excludes the chart's hub {hub}"
    # Every version the user environment allows is one TLJH allows too (it re-pins it at upgrades).
    tljh = SpecifierSet(TLJH_JUPYTERHUB)
    assert [v for v in ("5.4.0", "5.5.0", "5.5.4", "5.9.0", "6.0.0", "6.1.1") if v in user_env and v not in tljh] == []
    assert "6.0.0" not in user_env, "JupyterHub 6 is neither TLJH's nor the chart's"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    [hub_extra] = re.findall(r'^hub = \[.*"jupyterhub([^"]*)"\]', pyproject, flags=re.MULTILINE)
    assert SpecifierSet(hub_extra) == user_env, "pip install .[hub] asks for the same JupyterHub"


#: A profile's keys KubeSpawner 7 knows (its profile_list help); anything else is silently ignored.
KUBESPAWNER_PROFILE_KEYS = {"display_name", "default", "description", "slug", "kubespawner_override", "profile_options"}


def test_server_profiles_follow_the_hub_group(values: dict) -> None:
    from types import SimpleNamespace

    from traitlets.config import Config

    listed = values["singleuser"].get("profileList", [])
    assert all(set(profile) <= KUBESPAWNER_PROFILE_KEYS for profile in listed), listed
    c = Config()
    exec(values["hub"]["extraConfig"]["30-course-profiles"], {"c": c})
    profiles = c.KubeSpawner.profile_list
    assert callable(profiles), "KubeSpawner asks a callable profile_list at every spawn"

    def spawner(*groups: str) -> SimpleNamespace:
        """What the callable reads of KubeSpawner: the user's hub groups."""
        return SimpleNamespace(user=SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups]))

    student, instructor = profiles(spawner()), profiles(spawner("instructors"))
    assert [p["slug"] for p in student] == ["course"]
    assert [p["slug"] for p in instructor] == ["course", "instructor"]
    assert all(set(profile) <= KUBESPAWNER_PROFILE_KEYS for profile in instructor)


def test_instructors_own_volume_holds_the_course_directory_for_instructors_only(values: dict) -> None:
    """The instructor profile adds the instructors' volume to the chart's volumes (home,
    exchange), once however often the profile is applied; students' servers never mount it; it
    belongs to the instructors' shared uid, which no student has, with mode 0700."""
    from types import SimpleNamespace

    import yaml
    from traitlets.config import Config

    c = Config()
    scope: dict = {"c": c}
    exec(values["hub"]["extraConfig"]["20-exchange-uids"], scope)
    exec(values["hub"]["extraConfig"]["30-course-profiles"], {"c": c})

    def spawner(uid: int, *groups: str) -> SimpleNamespace:
        user = SimpleNamespace(id=uid, groups=[SimpleNamespace(name=g) for g in groups])
        home = {"name": "home", "persistentVolumeClaim": {"claimName": "claim-x"}}
        return SimpleNamespace(
            user=user,
            volumes=[home, *values["singleuser"]["storage"]["extraVolumes"]],
            volume_mounts=[{"name": "home", "mountPath": "/home/jovyan"}],
        )

    instructor, student = spawner(7, "instructors"), spawner(8)
    [profile] = [p for p in c.KubeSpawner.profile_list(instructor) if p["slug"] == "instructor"]
    for _ in range(2):  # KubeSpawner keeps the spawner between starts and applies the profile again
        for key in ("volumes", "volume_mounts"):
            setattr(instructor, key, profile["kubespawner_override"][key](instructor))
    names = [v["name"] for v in instructor.volumes]
    assert names == ["home", "nbgrader-exchange", "course-directory"]
    [mount] = [m for m in instructor.volume_mounts if m["name"] == "course-directory"]
    assert mount["mountPath"].startswith(values["singleuser"]["storage"]["homeMountPath"] + "/")
    for p in c.KubeSpawner.profile_list(student):
        assert "volumes" not in p.get("kubespawner_override", {}), "a student's profile mounts no course volume"

    claim, job = yaml.safe_load_all((DEPLOY / "instructor-volume.yaml").read_text(encoding="utf-8"))
    [course_volume] = [v for v in instructor.volumes if v["name"] == "course-directory"]
    assert claim["metadata"]["name"] == course_volume["persistentVolumeClaim"]["claimName"]
    import asyncio

    def course_uid(stand_in: SimpleNamespace) -> int:
        """The uid hook (async: it records the uid in auth_state, kept here in a dict; the real
        JupyterHub user and KubeSpawner run it in tests/test_exchange_uids.py)."""
        state: dict = {}

        async def get_auth_state() -> dict:
            return dict(state)

        async def save_auth_state(new: dict) -> None:
            state.update(new)

        stand_in.user.get_auth_state, stand_in.user.save_auth_state = get_auth_state, save_auth_state
        uid: int = asyncio.run(scope["course_uid"](stand_in))
        assert state == {"course_uid": uid}
        return uid

    assert course_uid(instructor) == course_uid(spawner(99, "instructors")) == scope["INSTRUCTOR_UID"]
    assert course_uid(student) != scope["INSTRUCTOR_UID"]
    assert all(course_uid(spawner(uid)) != scope["INSTRUCTOR_UID"] for uid in (1, 2, 10**6))
    [container] = job["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    assert f"chown {scope['INSTRUCTOR_UID']}:" in command
    assert "chmod 0700" in command
    [job_volume] = job["spec"]["template"]["spec"]["volumes"]
    assert job_volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_university_certificate_overlay(values: dict) -> None:
    """deploy/values-university-tls.yaml over values.yaml: the chart's "secret" HTTPS type with
    the TLS secret the overlay's own kubectl command creates; the relay keeps its address."""
    import yaml

    text = (DEPLOY / "values-university-tls.yaml").read_text(encoding="utf-8")
    merged = _merge(values, yaml.safe_load(text))
    assert chart.problems(merged) == []
    https = merged["proxy"]["https"]
    assert https["type"] == "secret"
    assert https["hosts"] == values["proxy"]["https"]["hosts"]
    assert re.search(rf"kubectl create secret tls {https['secret']['name']} ", text)
    assert merged["hub"]["services"] == values["hub"]["services"]


def test_exchange_volume_manifest_matches_the_values(values: dict) -> None:
    import yaml

    claim, job = yaml.safe_load_all((DEPLOY / "exchange-volume.yaml").read_text(encoding="utf-8"))
    [volume] = values["singleuser"]["storage"]["extraVolumes"]
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"]["name"] == volume["persistentVolumeClaim"]["claimName"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    [mount] = container["volumeMounts"]
    assert f"chmod 1777 {mount['mountPath']}" in " ".join(container["command"]), "the exchange root's sticky bit"
    [job_volume] = job["spec"]["template"]["spec"]["volumes"]
    assert job_volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def _merge(defaults: dict, override: dict) -> dict:
    merged = dict(defaults)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(defaults.get(key), dict)
        merged[key] = _merge(defaults[key], value) if both else value
    return merged


def test_values_match_the_charts_documented_keys_and_types(values: dict) -> None:
    """Every key deploy/values.yaml sets is one the chart's configuration reference documents,
    with the type it documents (tests/support/chart.py states them; no network needed).

    The chart's own JSON schema is checked as well only where the chart is at hand: it is not
    installable from PyPI, Debian or npm, so ``Z2JH_CHART`` must point at a chart unpacked with
    ``helm pull jupyterhub/jupyterhub --version <the values' version> --untar`` (online)."""
    [version] = set(re.findall(r"--version (\d+\.\d+\.\d+)", (DEPLOY / "values.yaml").read_text(encoding="utf-8")))
    assert version in chart.HUB_IMAGE, f"chart {version}: check its reference and state it in tests/support/chart.py"
    assert chart.problems(values) == []
    # The check is strict enough to catch a misspelt key, a wrong type or an unknown choice.
    misspelt = _merge(values, {"singleuser": {"memroy": {"limit": "2G"}}})
    assert chart.problems(misspelt) == ["singleuser.memroy: not a key the course checked in the reference"]
    assert chart.problems(_merge(values, {"cull": {"timeout": "1800"}})) == ["cull.timeout: expected int, got str"]
    assert chart.problems(_merge(values, {"cull": {"enabled": "yes"}})) == ["cull.enabled: expected bool, got str"]
    assert chart.problems(_merge(values, {"proxy": {"https": {"type": "university"}}}))
    assert chart.problems(_merge(values, {"hub": {"extraConfig": {"x": ["not", "code"]}}}))

    unpacked = os.environ.get("Z2JH_CHART")
    if unpacked:
        import jsonschema
        import yaml

        chart_dir = Path(unpacked)
        schema = yaml.safe_load((chart_dir / "values.schema.json").read_text(encoding="utf-8"))
        assert yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))["version"] == version
        defaults = yaml.safe_load((chart_dir / "values.yaml").read_text(encoding="utf-8"))
        validator = jsonschema.Draft7Validator(schema)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_merge(defaults, values))]
        assert not errors, errors


@pytest.mark.integration
def test_kernels_of_closed_tabs_are_culled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real JupyterLab with the role configuration a student gets (values.yaml's
    "10-course-roles": student, then common) culls kernels nobody is connected to: the policy
    view's (Voila runs its kernels in the same server's kernel manager) and notebooks' alike."""
    import urllib.request

    from support.browser import jupyterlab_server

    jupyter = DEPLOY / "jupyter"
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", f"{jupyter / 'student'}{os.pathsep}{jupyter / 'common'}")
    root = tmp_path / "root"
    root.mkdir()
    with jupyterlab_server(root) as url:
        base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
        request = urllib.request.Request(f"{base}/api/kernels?token={token}", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
        # The kernel manager starts its culler, and says so, once its first kernel has started.
        log_file, log = tmp_path / "root-jupyter-state" / "jupyterlab.log", ""
        for _ in range(40):
            log = log_file.read_text(errors="replace")
            if "Culling kernels" in log:
                break
            time.sleep(0.5)
    roles = [
        json.loads((jupyter / role / "jupyter_server_config.json").read_text()) for role in ("student", "instructor")
    ]
    culling = roles[0]["MappingKernelManager"]
    assert roles[1]["MappingKernelManager"] == culling, "instructors' closed tabs too"
    assert culling["cull_connected"] is False, "an open tab's kernel is never culled"
    timeout, interval = culling["cull_idle_timeout"], culling["cull_interval"]
    assert 0 < timeout <= 1800
    assert f"Culling kernels with idle durations > {timeout} seconds at {interval} second intervals" in log
    assert "Culling kernels even with connected clients" not in log
