"""The relay's quotas on its command line (``--mailbox-messages``, ``--mailbox-bytes``,
``--sender-messages``, ``--sender-bytes``), in the hub services the deploy files start,
and in a real relay process that announces and enforces them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.relay_load import RelayProcess
from support.nbtools import REPO
from toychat import Client
from toychat.relay import RemoteServer
from toychat.relay.cli import build_parser, parse_size, quota_from_args
from toychat.relay.errors import MailboxFull
from toychat.relay.limits import Quota

QUOTA_OPTIONS = ("--mailbox-messages", "--mailbox-bytes", "--sender-messages", "--sender-bytes")


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1048576), ("256M", 256 * 1024**2), ("64MiB", 64 * 1024**2), ("2 G", 2 * 1024**3), ("1_000", 1000)],
)
def test_sizes_are_read_in_powers_of_1024(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-5M", "1.5M", "12Q", "M", "ten"])
def test_a_size_that_is_not_one_is_refused_by_name(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a size"):
        parse_size(text)


def test_without_options_the_relay_keeps_its_default_quota() -> None:
    assert quota_from_args(build_parser().parse_args([])) == Quota()


def test_each_quota_option_sets_its_own_field() -> None:
    args = build_parser().parse_args(
        ["--mailbox-messages", "7", "--mailbox-bytes", "3M", "--sender-messages", "2", "--sender-bytes", "5K"]
    )
    assert quota_from_args(args) == Quota(
        mailbox_messages=7, mailbox_bytes=3 * 1024**2, sender_messages=2, sender_bytes=5 * 1024
    )


@pytest.mark.parametrize("option", QUOTA_OPTIONS)
def test_a_quota_of_zero_stops_the_relay_before_it_starts(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([option, "0"])
    assert stopped.value.code == 2
    assert option in capsys.readouterr().err


def relay_argv(command: list[str]) -> list[str]:
    """The arguments after ``-m toychat.relay`` in a service command (a list, or ``sh -c "…"``)."""
    if command[:2] == ["sh", "-c"]:
        command = shlex.split(command[2])
    return command[command.index("toychat.relay") + 1 :]


def tljh_relay_command() -> list[str]:
    """The relay service's command as TLJH's hub would load ``30-course-relay.py``."""

    class Config:
        def __init__(self) -> None:
            self.JupyterHub = argparse.Namespace(services=[], load_roles=[])
            self.Spawner = argparse.Namespace(environment={})

    config = Config()
    path = REPO / "deploy" / "tljh" / "jupyterhub_config.d" / "30-course-relay.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config, "__name__": "config"})
    [service] = [s for s in config.JupyterHub.services if s["name"] == "toychat-relay"]
    return service["command"]


def k8s_relay_command() -> list[str]:
    values: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "values.yaml").read_text())
    return values["hub"]["services"]["toychat-relay"]["command"]


@pytest.mark.parametrize("load", [tljh_relay_command, k8s_relay_command], ids=["tljh", "zero-to-jupyterhub"])
def test_the_shipped_hub_services_state_the_quota_and_it_parses(load: Any) -> None:
    argv = relay_argv(load())
    assert all(option in argv for option in QUOTA_OPTIONS), argv
    args = build_parser().parse_args(argv)
    assert args.hub
    # the deploy files write out the defaults, so a course sees (and can change) what it runs with
    assert quota_from_args(args) == Quota()


def test_the_guide_lists_every_quota_option() -> None:
    guide = (REPO / "docs" / "deploying.md").read_text()
    assert all(f"`{option}`" in guide for option in QUOTA_OPTIONS)


@pytest.mark.integration
def test_a_relay_started_with_a_quota_announces_and_enforces_it(tmp_path: Path) -> None:
    relay = RelayProcess(
        db=tmp_path / "class.sqlite",
        log_path=tmp_path / "relay.log",
        extra_args=("--mailbox-messages", "3", "--sender-messages", "2", "--mailbox-bytes", "1M"),
    )
    relay.start()
    try:
        with urllib.request.urlopen(f"{relay.url}/api/info", timeout=10) as response:
            announced = json.loads(response.read())["quota"]
        assert announced == dataclasses.asdict(Quota(mailbox_messages=3, sender_messages=2, mailbox_bytes=1024**2))
        server = RemoteServer(relay.url)
        ada, ben, cy = (Client(name, server) for name in ("ada", "ben", "cy"))
        ada.send("cy", "one")
        ada.send("cy", "two")
        with pytest.raises(MailboxFull):  # a third from one sender: --sender-messages 2
            ada.send("cy", "three")
        ben.send("cy", "three")
        with pytest.raises(MailboxFull):  # a fourth in one mailbox: --mailbox-messages 3
            ben.send("cy", "four")
        assert sorted(m.text for m in cy.receive()) == ["one", "three", "two"]
        assert cy.receive() == []  # this fetch acknowledges the three: they leave the mailbox
        ada.send("cy", "after reading")  # mail read no longer counts
    finally:
        relay.stop()
    assert os.stat(relay.db).st_mode & 0o077 == 0
