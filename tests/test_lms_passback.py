"""toychat.lms_passback: scores reach a simulated LMS through LTI Advantage AGS.

The fake LMS runs in this process on 127.0.0.1 and plays the platform's part as the AGS
specification and Canvas's Score API describe it (sources in the module's docstring): an OAuth 2
token URL that accepts only a client-credentials request whose JWT the tool signed with the key
the platform holds; a line-item container (GET lists, POST creates, each with its media type);
and a scores URL per line item that accepts only ``application/vnd.ims.lis.v1.score+json`` with
a valid score (``userId``, ISO 8601 ``timestamp`` with its offset, the allowed progress words,
``scoreMaximum`` beside any ``scoreGiven``) and the token it issued.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pylti1p3")
jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from support.grading import COURSE, small_gradebook  # noqa: E402
from toychat.lms_passback import (  # noqa: E402
    ENDPOINT_CLAIM,
    SCOPE_LINEITEM,
    SCOPE_SCORE,
    SCORE_MEDIA_TYPE,
    ToolRegistration,
    endpoint_from_claims,
    grade_service,
    pass_back,
    post_scores,
    tool_jwks,
)

ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
CLIENT_ID = "10000000000042"


class FakeLms:
    """The platform's AGS side: its state, and the checks it makes of every request."""

    def __init__(self, tool_public_pem: bytes) -> None:
        self.public_key = serialization.load_pem_public_key(tool_public_pem)
        self.base = ""
        self.tokens: set[str] = set()
        self.lineitems: list[dict[str, Any]] = []
        self.scores: dict[str, list[dict[str, Any]]] = {}
        self.refused: list[str] = []

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return 400, {"error": "invalid_request"}
        try:
            claims = jwt.decode(
                form["client_assertion"], self.public_key, algorithms=["RS256"], audience=f"{self.base}/token"
            )
        except (KeyError, jwt.PyJWTError) as error:
            return 401, {"error": "invalid_client", "detail": str(error)}
        if claims["iss"] != CLIENT_ID or claims["sub"] != CLIENT_ID or not claims.get("jti"):
            return 401, {"error": "invalid_client"}
        token = f"token-{len(self.tokens) + 1}"
        self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope")}

    def authorised(self, headers: Any) -> bool:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        return scheme == "Bearer" and token in self.tokens

    def create_lineitem(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if headers.get("Content-Type") != LINEITEM_TYPE:
            return 415, {"error": "line items are " + LINEITEM_TYPE}
        if not body.get("label") or not float(body.get("scoreMaximum", 0)) > 0:
            return 400, {"error": "a line item needs a label and a positive scoreMaximum"}
        item = {**body, "id": f"{self.base}/lineitems/{len(self.lineitems) + 1}"}
        self.lineitems.append(item)
        return 201, item

    def post_score(self, item: int, headers: Any, body: dict[str, Any]) -> int:
        if headers.get("Content-Type") != SCORE_MEDIA_TYPE:
            self.refused.append(f"content type {headers.get('Content-Type')}")
            return 415
        problems = []
        if not isinstance(body.get("userId"), str) or not body["userId"]:
            problems.append("userId")
        try:
            if dt.datetime.fromisoformat(body["timestamp"]).utcoffset() is None:
                problems.append("timestamp without offset")
        except (KeyError, ValueError):
            problems.append("timestamp")
        if body.get("activityProgress") not in ACTIVITY or body.get("gradingProgress") not in GRADING:
            problems.append("progress")
        if "scoreGiven" in body and not isinstance(body.get("scoreMaximum"), int | float):
            problems.append("scoreMaximum")
        if problems:
            self.refused.append(", ".join(problems))
            return 400
        self.scores.setdefault(self.lineitems[item - 1]["label"], []).append(body)
        return 200


@pytest.fixture
def tool_keys() -> tuple[str, str]:
    """The tool's RSA key pair (private, public), PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


@pytest.fixture
def lms(tool_keys: tuple[str, str]) -> Iterator[FakeLms]:
    state = FakeLms(tool_keys[1].encode())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Quiet."""

        def reply(self, status: int, body: Any = None, media: str = "application/json") -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def read(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if not state.authorised(self.headers):
                return self.reply(401, {"error": "no token"})
            if self.path == "/lineitems":
                return self.reply(200, state.lineitems, CONTAINER_TYPE)
            return self.reply(404, {"error": self.path})

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/token":
                form = dict(urllib.parse.parse_qsl(self.read().decode()))
                return self.reply(*state.token(form))
            if not state.authorised(self.headers):
                return self.reply(401, {"error": "no token"})
            body = json.loads(self.read() or b"{}")
            if self.path == "/lineitems":
                status, item = state.create_lineitem(self.headers, body)
                return self.reply(status, item, LINEITEM_TYPE)
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "lineitems" and parts[2] == "scores":
                return self.reply(state.post_score(int(parts[1]), self.headers, body))
            return self.reply(404, {"error": self.path})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _tool(lms: FakeLms, keys: tuple[str, str]) -> ToolRegistration:
    return ToolRegistration("https://lms.example.edu", CLIENT_ID, f"{lms.base}/token", keys[0], keys[1])


def _endpoint(lms: FakeLms) -> dict[str, Any]:
    claims = {ENDPOINT_CLAIM: {"scope": [SCOPE_LINEITEM, SCOPE_SCORE], "lineitems": f"{lms.base}/lineitems"}}
    return endpoint_from_claims(claims)


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new gradebook stamps its schema version with the ``alembic`` executable from PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.integration  # the fake LMS listens on a socket
def test_gradebook_scores_reach_the_lms_one_line_item_per_assignment(
    lms: FakeLms, tool_keys: tuple[str, str], tmp_path: Path
) -> None:
    from nbgrader.api import Gradebook

    url = small_gradebook(tmp_path / "gradebook.db")
    service = grade_service(_tool(lms, tool_keys), _endpoint(lms))
    with Gradebook(url, COURSE) as gb:
        posted = pass_back(gb, service)
    assert lms.refused == []
    assert [item["label"] for item in lms.lineitems] == ["ex01_encryption", "ex02_chat"]
    assert [item["tag"] for item in lms.lineitems] == ["ex01_encryption", "ex02_chat"]
    assert [item["scoreMaximum"] for item in lms.lineitems] == [13, 13]
    assert posted == {"ex01_encryption": f"{lms.base}/lineitems/1", "ex02_chat": f"{lms.base}/lineitems/2"}
    ex01 = {s["userId"]: s for s in lms.scores["ex01_encryption"]}
    assert set(ex01) == {"sub-ada", "sub-grace", "sub-alan"}  # the LTI sub is the nbgrader id
    assert (ex01["sub-ada"]["scoreGiven"], ex01["sub-ada"]["scoreMaximum"]) == (12.5, 13)
    assert (ex01["sub-ada"]["activityProgress"], ex01["sub-ada"]["gradingProgress"]) == ("Completed", "FullyGraded")
    # grace's written part waits for a grader: no partial score, the LMS is told a grader is needed
    assert "scoreGiven" not in ex01["sub-grace"]
    assert ex01["sub-grace"]["gradingProgress"] == "PendingManual"
    assert ex01["sub-alan"]["scoreGiven"] == 0  # never submitted
    assert {s["userId"]: s["scoreGiven"] for s in lms.scores["ex02_chat"]} == {
        "sub-ada": 10,
        "sub-grace": 10,
        "sub-alan": 0,
    }


@pytest.mark.integration  # the fake LMS listens on a socket
def test_a_second_pass_back_reuses_the_line_item(lms: FakeLms, tool_keys: tuple[str, str]) -> None:
    service = grade_service(_tool(lms, tool_keys), _endpoint(lms))
    when = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    first = post_scores(service, "ex03_scanning", 20, {"sub-ada": 15.0}, when)
    second = post_scores(service, "ex03_scanning", 20, {"sub-ada": 18.0}, when + dt.timedelta(hours=1))
    assert first == second
    assert len(lms.lineitems) == 1
    assert [s["scoreGiven"] for s in lms.scores["ex03_scanning"]] == [15, 18]


@pytest.mark.integration  # the fake LMS listens on a socket
def test_the_lms_refuses_a_tool_signed_with_another_key(lms: FakeLms, tool_keys: tuple[str, str]) -> None:
    """The fake LMS is not a pushover: a token request signed with a key it does not hold fails."""
    from pylti1p3.exception import LtiServiceException

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tool = ToolRegistration("https://lms.example.edu", CLIENT_ID, f"{lms.base}/token", other_pem, tool_keys[1])
    with pytest.raises(LtiServiceException):
        post_scores(grade_service(tool, _endpoint(lms)), "ex01_encryption", 13, {"sub-ada": 1.0})
    assert lms.scores == {}


def test_tool_jwks_is_the_key_the_lms_holds(tool_keys: tuple[str, str]) -> None:
    tool = ToolRegistration("https://lms.example.edu", CLIENT_ID, "https://lms.example.edu/token", *tool_keys)
    [key] = tool_jwks(tool)["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in key, "never the private part"


def test_a_launch_without_ags_says_what_to_enable() -> None:
    with pytest.raises(ValueError, match="grade passback"):
        endpoint_from_claims({})


@pytest.mark.integration  # the fake LMS listens on a socket
def test_the_lms_refuses_a_score_that_is_not_the_ags_media_type(lms: FakeLms, tool_keys: tuple[str, str]) -> None:
    """The media-type and field checks the passback tests rely on do refuse a wrong request."""
    from pylti1p3.exception import LtiServiceException
    from pylti1p3.service_connector import ServiceConnector

    connector = ServiceConnector(_tool(lms, tool_keys).registration())
    lms.lineitems.append({"id": f"{lms.base}/lineitems/1", "label": "ex01_encryption", "scoreMaximum": 13})
    score = {"userId": "sub-ada", "scoreGiven": 1, "scoreMaximum": 13, "timestamp": "2026-12-05T09:00:00+00:00"}
    score |= {"activityProgress": "Completed", "gradingProgress": "FullyGraded"}
    url = f"{lms.base}/lineitems/1/scores"
    with pytest.raises(LtiServiceException):
        connector.make_service_request([SCOPE_SCORE], url, is_post=True, data=json.dumps(score))
    with pytest.raises(LtiServiceException):
        bad = {**score, "gradingProgress": "Done", "timestamp": "2026-12-05T09:00:00"}
        connector.make_service_request(
            [SCOPE_SCORE], url, is_post=True, data=json.dumps(bad), content_type=SCORE_MEDIA_TYPE
        )
    assert lms.refused == ["content type application/json", "timestamp without offset, progress"]
    connector.make_service_request(
        [SCOPE_SCORE], url, is_post=True, data=json.dumps(score), content_type=SCORE_MEDIA_TYPE
    )
    assert lms.scores == {"ex01_encryption": [score]}


@pytest.mark.integration  # the fake LMS listens on a socket
def test_the_command_posts_one_assignment_from_the_settings_file(
    lms: FakeLms, tool_keys: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toychat.lms_passback import main

    url = small_gradebook(tmp_path / "gradebook.db")
    (tmp_path / "tool.key").write_text(tool_keys[0])
    (tmp_path / "tool.pub").write_text(tool_keys[1])
    settings = {
        "issuer": "https://lms.example.edu",
        "client_id": CLIENT_ID,
        "token_url": f"{lms.base}/token",
        "private_key": "tool.key",
        "public_key": "tool.pub",
        "lineitems": f"{lms.base}/lineitems",
        "scope": [SCOPE_LINEITEM, SCOPE_SCORE],
    }
    (tmp_path / "passback.json").write_text(json.dumps(settings))
    assert main([str(tmp_path / "passback.json"), "--assignment", "ex02_chat", "--db", url, "--course", COURSE]) == 0
    assert capsys.readouterr().out == f"ex02_chat: scores posted to {lms.base}/lineitems/1\n"
    assert list(lms.scores) == ["ex02_chat"]
    assert len(lms.scores["ex02_chat"]) == 3
