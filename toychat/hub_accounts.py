"""Which Unix account a hub user's files belong to, and nbgrader's ownership check made to know it.

On The Littlest JupyterHub (TLJH) the course keeps the hub name (the launch's LTI ``sub``) as the
student's nbgrader id, because grade passback addresses scores by it
(``deploy/jupyter/student/nbgrader_config.py``).  TLJH, however, runs each user's server as a Unix
account of its own making: ``jupyter-`` followed by the hub name, and when that is 26 characters or
more, its first 26 characters, a hyphen and the first five hex digits of the SHA-256 of the whole
prefixed name, so that it fits the 32-character limit of a Linux user name (TLJH's
``tljh/normalize.py``, ``generate_system_username``, called by ``tljh/user_creating_spawner.py``
with ``"jupyter-" + user.name``; its documentation, ``docs/topic/security.md``, "System user
accounts", says "longer than 26 characters", but the code hashes from 26 on).  A Canvas ``sub`` is
a 36-character UUID, so every Canvas student's account is such a shortened name.

nbgrader's ``collect`` compares the owner of each submission folder with the student id it
carries (``nbgrader/exchange/default/collect.py``), so on TLJH it would call every honest
submission a "cheating attempt" and an impostor's warning would be lost among them.
:class:`OwnerCheckedCollect` compares the owner with the account the hub made for that id
instead; the instructor's nbgrader configuration selects it::

    c.ExchangeFactory.collect = "toychat.hub_accounts.OwnerCheckedCollect"
    c.OwnerCheckedCollect.accounts = "tljh"   # or "hub-name": the account is the hub name
                                              # or "uid": the student's recorded uid (Kubernetes)

On Kubernetes (deploy/values.yaml, ``20-exchange-uids``) every pod runs as the numeric uid the hub
gave its user and recorded as ``course_uid`` in the user's ``auth_state``; no pod has names for
those uids.  With ``accounts = "uid"`` the check compares each folder's numeric owner with the
uid recorded for the student id it carries, from the table ``python -m toychat.lms_roster --uids``
writes (:attr:`OwnerCheckedCollect.uids`).

No TLJH code is imported or copied: :func:`tljh_unix_name` is written from the behaviour above
and ``tests/test_hub_accounts.py`` holds it to values TLJH's own function gives.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from textwrap import dedent
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect
from traitlets import Enum, Unicode

#: What TLJH puts before every hub name to make the Unix account's name.
TLJH_PREFIX = "jupyter-"
#: A name this long or longer (with the prefix, in characters) is shortened.
TLJH_SHORTEN_FROM = 26
#: How many hex digits of the name's SHA-256 a shortened name ends with.
TLJH_HASH_DIGITS = 5


def tljh_unix_name(hub_name: str) -> str:
    """The Unix account The Littlest JupyterHub creates for the hub user ``hub_name``.

    >>> tljh_unix_name("ada")
    'jupyter-ada'
    >>> tljh_unix_name("f47ac10b-58cc-4372-a567-0e02b2c3d479")
    'jupyter-f47ac10b-58cc-4372-79d99'
    """
    name = TLJH_PREFIX + hub_name
    if len(name) < TLJH_SHORTEN_FROM:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return f"{name[:TLJH_SHORTEN_FROM]}-{digest[:TLJH_HASH_DIGITS]}"


#: What :func:`expected_owner` gives under the ``"uid"`` rule for an id with no recorded uid
#: (no folder's owner reads so, so its submission is always flagged).
NO_RECORDED_UID = "no recorded uid"


def expected_owner(student_id: str, accounts: str, uids: Mapping[str, int] | None = None) -> str:
    """The owner a submission carrying ``student_id`` must have, under a hub's account rule.

    ``accounts`` is ``"tljh"`` (TLJH's ``jupyter-`` accounts), ``"hub-name"`` (each server runs
    as the account named after the hub user, as JupyterHub's ``LocalProcessSpawner`` does) or
    ``"uid"`` (each server runs as the numeric uid recorded for the user in ``uids``, hub name ->
    uid, as the course's Kubernetes values do; the owner is then that number, written out).

    >>> expected_owner("ada", "hub-name")
    'ada'
    >>> expected_owner("ada", "uid", {"ada": 200007})
    '200007'
    >>> expected_owner("eve", "uid", {"ada": 200007})
    'no recorded uid'
    """
    if accounts == "tljh":
        return tljh_unix_name(student_id)
    if accounts == "hub-name":
        return student_id
    if accounts == "uid":
        uid = (uids or {}).get(student_id)
        return NO_RECORDED_UID if uid is None else str(uid)
    raise ValueError(f"unknown account rule {accounts!r}: expected 'tljh', 'hub-name' or 'uid'")


def folder_owner(path: str, numeric: bool = False) -> str:
    """Who owns ``path``: the Unix account's name (``"unknown id"`` for an unnamed uid), or with
    ``numeric`` the uid itself, written out."""
    import pwd

    uid = os.stat(path).st_uid
    if numeric:
        return str(uid)
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "unknown id"


class OwnerCheckedCollect(ExchangeCollect):
    """nbgrader's ``collect``, its ownership check comparing with the hub's account for each id.

    Everything else (which submission is taken, where it is copied) is nbgrader's own.  The
    warning keeps nbgrader's words ("claims to be submitted by … but is owned by …; cheating
    attempt?") and adds the account that should own it.
    """

    accounts = Enum(
        ["tljh", "hub-name", "uid"],
        default_value="tljh",
        help="How the hub names a user's Unix account: 'tljh' (jupyter-<name>, shortened when "
        "long), 'hub-name' (the hub name itself) or 'uid' (the numeric uid recorded for the user, "
        "read from the table in 'uids').",
    ).tag(config=True)

    uids = Unicode(
        "uids.csv",
        help="With accounts='uid': the CSV (columns id, uid) that python -m toychat.lms_roster "
        "--uids writes from the hub; a relative path is taken from the course directory.",
    ).tag(config=True)

    #: hub name -> recorded uid, read at the start of a collect with ``accounts="uid"``.
    _uid_table: dict[str, int] | None = None

    def copy_files(self) -> None:
        """Check each submission's owner against the hub's account, then collect as nbgrader does."""
        if not (self.check_owner and sys.platform != "win32"):
            super().copy_files()
            return
        if self.accounts == "uid":
            self._uid_table = self._read_uid_table()
        for record in self.src_records:
            self.warn_if_not_owned(record)
        # nbgrader's own comparison, with the hub name, would warn on every honest submission
        self.set_trait("check_owner", False)
        try:
            super().copy_files()
        finally:
            self.set_trait("check_owner", True)

    def warn_if_not_owned(self, record: dict[str, Any]) -> bool:
        """Log nbgrader's warning when the submission's folder is not the student's; True if so."""
        path = os.path.join(self.inbound_path, record["filename"])
        student_id = record["username"]
        numeric = self.accounts == "uid"
        owner = folder_owner(path, numeric=numeric)
        expected = expected_owner(student_id, self.accounts, self._uid_table)
        if owner == expected:
            return False
        self.log.warning(
            dedent(
                """
                {} claims to be submitted by {} but is owned by {}; cheating attempt?
                (the hub's account for {} is {}; you may disable this warning by unsetting the
                option CollectApp.check_owner)
                """
            ).format(path, student_id, owner, student_id, expected)
        )
        return True

    def _read_uid_table(self) -> dict[str, int]:
        """The recorded uids (:func:`toychat.lms_roster.read_uids`); empty, with a warning, if absent."""
        from toychat.lms_roster import read_uids

        path = os.path.join(self.coursedir.root, self.uids)
        try:
            return read_uids(path)
        except FileNotFoundError:
            self.log.warning(
                "no uid table at %s: every submission is flagged; write it with "
                "python -m toychat.lms_roster HUB_URL --uids %s",
                path,
                self.uids,
            )
            return {}
