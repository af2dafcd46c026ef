"""One uid per student on Kubernetes, recorded where the instructor's owner check can read it (issue 26).

deploy/values.yaml's ``hub.extraConfig`` "20-exchange-uids" runs every user's pod as a uid of
their own (``200000 +`` their hub id; the members of "instructors" share ``200000``) and records
it in their ``auth_state`` as ``course_uid``, carrying it over when a new launch replaces the
auth_state; ``python -m toychat.lms_roster --uids`` exports it for ``nbgrader collect``.

The blocks are run as the chart runs them (in name order, into one config) and given real
JupyterHub users (``jupyterhub.orm`` in an in-memory database, ``jupyterhub.user.User`` with
encrypted auth_state).  The first test builds the pod with the real KubeSpawner (7.0.0, the
chart's) configured by those blocks: ``get_pod_manifest`` reads no cluster, only a kube-config
naming one.  Only the login handler is a stand-in: the hook calls its ``find_user``, which is
JupyterHub's ``BaseHandler.find_user`` (the user of that name, or None).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from support.browser import require
from support.nbtools import REPO

LTI_ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"

#: A kube-config naming a cluster that is never contacted (KubeSpawner loads one when it starts).
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: course}}]
current-context: none
"""


def chart_config() -> Any:
    """The values' "10-course-roles" and "20-exchange-uids" blocks run into one config, in name
    order and in one namespace, as the chart's jupyterhub_config.py runs hub.extraConfig."""
    import yaml
    from traitlets.config import Config

    values = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text(encoding="utf-8"))
    c = Config()
    scope: dict[str, Any] = {"c": c}
    for key in ("10-course-roles", "20-exchange-uids"):
        exec(values["hub"]["extraConfig"][key], scope)
    return c


@pytest.fixture
def hub_users(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Real hub users in a fresh in-memory hub database, with auth_state encryption on: two
    students (one launched, one with no auth_state yet) and an instructor."""
    from jupyterhub import orm
    from jupyterhub.crypto import CryptKeeper
    from jupyterhub.user import User

    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", secrets.token_hex(32))
    CryptKeeper.clear_instance()
    db = orm.new_session_factory("sqlite:///:memory:")()
    instructors = orm.Group(name="instructors")
    db.add(instructors)
    users: dict[str, Any] = {}
    for name in ("s-ada", "s-bob", "t-tom"):
        row = orm.User(name=name)
        db.add(row)
        if name.startswith("t-"):
            instructors.users.append(row)
        db.commit()
        users[name] = User(row, settings={"db": db})
    asyncio.run(users["s-ada"].save_auth_state({"sub": "s-ada", LTI_ROLES: [LEARNER]}))
    try:
        yield users
    finally:
        db.close()
        CryptKeeper.clear_instance()


def test_the_pod_runs_as_the_students_own_uid_on_a_real_kubespawner(
    hub_users: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG, encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    try:
        from kubernetes_asyncio.config import kube_config
        from kubespawner import KubeSpawner
    except ImportError:
        require("jupyterhub-kubespawner is not installed (requirements.txt pins the chart's 7.0.0)")
    # read from the environment when the module is first imported
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
    config = chart_config()

    async def pod_security(name: str) -> dict[str, Any]:
        spawner = KubeSpawner(_mock=True, user=hub_users[name], config=config)
        pod = await spawner.get_pod_manifest()
        [container] = pod.spec.containers
        environment = {variable.name: variable.value for variable in container.env}
        return {**container.security_context, "COURSE_UNIX_ACCOUNTS": environment.get("COURSE_UNIX_ACCOUNTS")}

    async def run() -> list[dict[str, Any]]:
        return [await pod_security(name) for name in ("s-ada", "s-bob", "t-tom", "s-ada")]

    ada, bob, tom, ada_again = asyncio.run(run())
    assert ada["runAsUser"] == 200000 + hub_users["s-ada"].id
    assert bob["runAsUser"] == 200000 + hub_users["s-bob"].id
    assert ada["runAsUser"] != bob["runAsUser"]
    assert tom["runAsUser"] == 200000, "the instructors' shared uid, which owns their volume"
    assert ada_again == ada, "a restarted server runs as the same uid"
    assert ada["runAsGroup"] == 100
    # recorded beside the launch's claims, which stay as they were
    state = asyncio.run(hub_users["s-ada"].get_auth_state())
    assert state == {"sub": "s-ada", LTI_ROLES: [LEARNER], "course_uid": ada["runAsUser"]}
    assert asyncio.run(hub_users["s-bob"].get_auth_state()) == {"course_uid": bob["runAsUser"]}
    # the instructor's nbgrader collect compares owners by uid (deploy/jupyter/instructor/nbgrader_config.py)
    assert tom["COURSE_UNIX_ACCOUNTS"] == "uid"


def test_the_uid_is_recorded_in_auth_state_for_the_roster(hub_users: dict[str, Any]) -> None:
    """The hook KubeSpawner awaits for ``uid`` (the same call the test above makes through it)."""
    from toychat.lms_roster import course_uids

    course_uid = chart_config().KubeSpawner.uid
    ada = hub_users["s-ada"]
    uid = asyncio.run(course_uid(SimpleNamespace(user=ada)))
    assert uid == 200000 + ada.id
    state = asyncio.run(ada.get_auth_state())
    assert course_uids([{"name": ada.name, "auth_state": state}]) == {"s-ada": uid}


def test_a_new_launch_keeps_the_recorded_uid(hub_users: dict[str, Any]) -> None:
    """A launch replaces the whole auth_state; the login hook carries the uid over, and still
    sets the hub group from the launch's roles (the "10-course-roles" hook it wraps)."""
    config = chart_config()
    ada = hub_users["s-ada"]
    uid = asyncio.run(config.KubeSpawner.uid(SimpleNamespace(user=ada)))
    handler = SimpleNamespace(find_user=lambda name: hub_users.get(name))
    hook = config.Authenticator.post_auth_hook

    launch = {"name": "s-ada", "auth_state": {"sub": "s-ada", LTI_ROLES: [LEARNER], "nonce": "2"}}
    after = asyncio.run(hook(None, handler, launch))
    assert after["auth_state"]["course_uid"] == uid
    assert after["auth_state"]["nonce"] == "2"
    assert after["groups"] == []
    # a first launch (no hub user yet) records nothing: the first spawn does
    first = {"name": "s-new", "auth_state": {"sub": "s-new", LTI_ROLES: [INSTRUCTOR]}}
    after = asyncio.run(hook(None, handler, first))
    assert "course_uid" not in after["auth_state"]
    assert after["groups"] == ["instructors"]
