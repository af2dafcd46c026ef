"""What the course expects of the Zero to JupyterHub chart, stated here rather than copied from it.

The chart is not on PyPI, Debian or npm, so its own ``values.schema.json`` cannot be installed at
test time without the network.  Instead this module states, in our own words and by hand:

* ``VALUES``: the keys ``deploy/values.yaml`` uses and the type (or the allowed words) of each,
  as the chart's configuration reference documents them
  (https://z2jh.jupyter.org/en/stable/resources/reference.html, read for chart 4.4.0).  It covers
  only what the course's values set: a key added to ``deploy/values.yaml`` must be looked up in
  that reference and added here, or ``tests/test_deploy.py`` fails on it.  Sections the chart
  passes through to JupyterHub or Kubernetes unchecked (``hub.config``, ``hub.extraConfig``,
  ``hub.services``, lifecycle hooks, network-policy rules, volumes) are checked for their shape
  only.
* ``HUB_IMAGE``: what the chart's hub image runs, per chart version: the pins the course relies
  on, from the chart's ``images/hub/requirements.txt`` at the version's tag
  (https://github.com/jupyterhub/zero-to-jupyterhub-k8s/blob/4.4.0/images/hub/requirements.txt).
  ``tests/test_dockerfiles.py`` resolves the hub image's additions beside them.

The full schema check is online-only: with ``helm pull jupyterhub/jupyterhub --version 4.4.0
--untar`` and ``Z2JH_CHART`` pointing at the unpacked chart, ``tests/test_deploy.py`` also
validates the values against the chart's own schema and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class MappingOf:
    """A mapping with free keys whose values all match ``value`` (``None``: anything)."""

    value: Spec | None = None


@dataclass(frozen=True)
class ListOf:
    """A list whose items all match ``item`` (``None``: anything)."""

    item: Spec | None = None


#: A specification: a type or tuple of types, a set of allowed words, a nested mapping of keys,
#: or one of the free shapes above.
Spec = Union[type, tuple, frozenset, dict, MappingOf, ListOf]  # noqa: UP007 (a runtime alias)

NUMBER = (int, float)
#: A Kubernetes quantity ("512M", "2G") or a plain number of bytes.
QUANTITY = (str, int, float)
#: Kubernetes objects the chart passes through (a volume, a mount, a port, a lifecycle handler).
K8S_OBJECT = MappingOf()

VALUES: dict[str, Spec] = {
    "proxy": {
        "https": {
            "enabled": bool,
            "type": frozenset({"letsencrypt", "manual", "offload", "secret"}),
            "hosts": ListOf(str),
            "letsencrypt": {"contactEmail": str},
            "secret": {"name": str, "key": str, "crt": str},
        },
    },
    "hub": {
        "image": {"name": str, "tag": str},
        "db": {"type": frozenset({"sqlite-pvc", "sqlite-memory", "mysql", "postgres", "other"})},
        # Traitlets configuration: section (a Configurable's class name) -> trait -> value.
        "config": MappingOf(MappingOf()),
        "extraConfig": MappingOf(str),
        "services": MappingOf(MappingOf()),
        # passed to JupyterHub's load_roles as they are, named after their key
        "loadRoles": MappingOf(
            {
                "description": str,
                "scopes": ListOf(str),
                "users": ListOf(str),
                "groups": ListOf(str),
                "services": ListOf(str),
            }
        ),
        "service": {"extraPorts": ListOf(K8S_OBJECT)},
        "networkPolicy": {"ingress": ListOf(K8S_OBJECT)},
        "extraEnv": MappingOf(str),
    },
    "singleuser": {
        "image": {"name": str, "tag": str},
        "defaultUrl": str,
        "cmd": (str, list),
        "memory": {"guarantee": QUANTITY, "limit": QUANTITY},
        "cpu": {"guarantee": NUMBER, "limit": NUMBER},
        "storage": {
            "type": frozenset({"dynamic", "static", "none"}),
            "capacity": str,
            "homeMountPath": str,
            "extraVolumes": ListOf(K8S_OBJECT),
            "extraVolumeMounts": ListOf(K8S_OBJECT),
        },
        "lifecycleHooks": {"postStart": K8S_OBJECT},
        "extraEnv": MappingOf(str),
        "extraLabels": MappingOf(str),
        "networkPolicy": {"egressAllowRules": {"nonPrivateIPs": bool}},
    },
    "cull": {"enabled": bool, "timeout": int, "every": int, "users": bool},
    "scheduling": {
        "userScheduler": {"enabled": bool},
        "podPriority": {"enabled": bool},
        "userPlaceholder": {"enabled": bool, "replicas": int},
    },
    "prePuller": {"continuous": {"enabled": bool}},
    "debug": {"enabled": bool},
}

#: The chart versions the course has been set up against, and the packages of each one's hub
#: image (quay.io/jupyterhub/k8s-hub:<version>) the course's configuration relies on.
HUB_IMAGE: dict[str, dict[str, str]] = {
    "4.4.0": {
        "jupyterhub": "5.5.0",
        "jupyterhub-ltiauthenticator": "1.6.3",
        "jupyterhub-kubespawner": "7.0.0",
    },
}


def _is(value: Any, types: tuple[type, ...]) -> bool:
    """``isinstance``, except that a bool is not a number (YAML's ``true`` is no timeout)."""
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def problems(value: Any, spec: Spec | None = None, path: str = "") -> list[str]:
    """What in ``value`` does not match ``spec`` (``VALUES`` by default), one line per problem.

    >>> problems({"cull": {"timeout": "1800", "enabld": True}})
    ['cull.timeout: expected int, got str', 'cull.enabld: not a key the course checked in the reference']
    """
    spec = VALUES if spec is None and not path else spec
    if spec is None:
        return []
    where = path or "(values)"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {type(value).__name__}"]
        found: list[str] = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if key in spec:
                found += problems(item, spec[key], here)
            else:
                found.append(f"{here}: not a key the course checked in the reference")
        return found
    if isinstance(spec, MappingOf):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {type(value).__name__}"]
        return [p for key, item in value.items() for p in problems(item, spec.value, f"{path}.{key}")]
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for k, item in enumerate(value) for p in problems(item, spec.item, f"{path}[{k}]")]
    if isinstance(spec, frozenset):
        return [] if value in spec else [f"{where}: {value!r} is not one of {sorted(spec)}"]
    types = spec if isinstance(spec, tuple) else (spec,)
    if _is(value, types):
        return []
    return [f"{where}: expected {' or '.join(t.__name__ for t in types)}, got {type(value).__name__}"]


def hub_config_code(values: dict[str, Any]) -> str:
    """Python for a ``jupyterhub_config.py`` that loads ``values``' hub sections as the chart's own
    ``jupyterhub_config.py`` does (chart 4.4.0, ``jupyterhub/files/hub/jupyterhub_config.py``, in
    its order): each ``hub.services`` entry appended to ``c.JupyterHub.services`` under its key as
    ``name``, with an ``api_token`` (the chart makes one in its Secret; here a fresh random one);
    each ``hub.loadRoles`` entry appended to ``c.JupyterHub.load_roles`` under its key as
    ``name``; each ``hub.config`` section applied; then ``hub.extraConfig`` run in key order.
    The chart's own Kubernetes settings (spawner, addresses, the idle culler's service) are not
    included: a test adds its own."""
    import json
    import textwrap

    hub = values["hub"]
    sections = {key: hub.get(key, {}) for key in ("services", "loadRoles", "config", "extraConfig")}
    return textwrap.dedent(f"""
        import json as _json
        import secrets as _secrets
        _hub = _json.loads({json.dumps(json.dumps(sections))})
        for _key, _service in _hub["services"].items():
            _service.setdefault("name", _key)
            _service.pop("apiToken", None)
            _service["api_token"] = _secrets.token_hex(32)
            c.JupyterHub.services.append(_service)
        for _key, _role in _hub["loadRoles"].items():
            _role.setdefault("name", _key)
            c.JupyterHub.load_roles.append(_role)
        for _section, _cfg in _hub["config"].items():
            c[_section].update(_cfg)
        for _key, _code in sorted(_hub["extraConfig"].items()):
            exec(_code)
    """)
