"""LTI Advantage Assignment and Grade Services (AGS): nbgrader's scores posted to the LMS gradebook.

The instructor's side of grade passback, with ``pylti1p3`` (the ``lms`` extra) doing the
protocol: the tool signs a JWT with its own private key, exchanges it at the platform's OAuth 2
token URL for an access token (client-credentials grant), finds or creates one **line item**
(gradebook column) per nbgrader assignment (tagged with the assignment's name), and posts one
**score** per student to that line item's ``/scores`` URL, as ``application/vnd.ims.lis.v1.score+json``
with ``userId`` (the learner's LTI ``sub``, which is the nbgrader student id on the course's hub),
``scoreGiven``, ``scoreMaximum``, ``timestamp``, ``activityProgress`` and ``gradingProgress``.
Sources: the AGS specification (https://www.imsglobal.org/spec/lti-ags/v2p0/) and Canvas's Score
API (https://developerdocs.instructure.com/services/canvas/file.all_resources/score), which says
that Canvas ignores ``scoreGiven`` when ``gradingProgress`` is ``NotReady``, ``Failed`` or
``Pending``, and that ``PendingManual`` asks for a grader's intervention.

So a submission whose written part still waits for a grader is posted as ``Submitted`` /
``PendingManual`` without a score, never as a partial score; a finished one as ``Completed`` /
``FullyGraded``; a student who never submitted scores 0 (as in nbgrader's CSV export).

What the platform must know and give (docs/deploying.md, "Grades back to the LMS"): the tool's
public key (:func:`tool_jwks`, pasted into the LTI registration, e.g. Canvas's developer key),
the AGS scopes granted to the tool, and, from any launch in the course, the AGS endpoint claim
(``lineitems`` URL and scopes), which :func:`endpoint_from_claims` reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import requests
from nbgrader.api import Gradebook
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from toychat.lms_export import ENDPOINT_CLAIM, collect_scores

if TYPE_CHECKING:
    from pylti1p3.assignments_grades import TAssignmentsGradersData

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
#: The media type of a score (AGS 2.0, score publish service).
SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"


@dataclass(frozen=True)
class ToolRegistration:
    """The course's tool as the LMS knows it: the ids and URLs of its LTI 1.3 registration and
    the private key whose public half the LMS holds."""

    issuer: str
    client_id: str
    token_url: str
    private_key_pem: str
    public_key_pem: str
    #: The ``aud`` of the token request's JWT when the platform wants another than the token URL.
    audience: str = ""

    def registration(self) -> Registration:
        """The same registration as ``pylti1p3`` takes it."""
        reg = (
            Registration()
            .set_issuer(self.issuer)
            .set_client_id(self.client_id)
            .set_auth_token_url(self.token_url)
            .set_tool_private_key(self.private_key_pem)
            .set_tool_public_key(self.public_key_pem)
        )
        if self.audience:
            reg.set_auth_audience(self.audience)
        return reg


def tool_jwks(tool: ToolRegistration) -> dict[str, Any]:
    """The tool's public key set (JWKS), as an LMS's LTI registration asks for it."""
    return {"keys": tool.registration().get_jwks()}


def endpoint_from_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The AGS endpoint (``lineitems`` URL, ``scope``) from an LTI 1.3 launch's claims.

    >>> endpoint_from_claims({ENDPOINT_CLAIM: {"lineitems": "https://lms/l", "scope": [SCOPE_SCORE]}})
    {'lineitems': 'https://lms/l', 'scope': ['https://purl.imsglobal.org/spec/lti-ags/scope/score']}
    """
    endpoint = dict(claims.get(ENDPOINT_CLAIM) or {})
    if not endpoint.get("lineitems"):
        raise ValueError("the launch carries no AGS endpoint: enable grade passback in the LMS's tool settings")
    return endpoint


def grade_service(
    tool: ToolRegistration, endpoint: Mapping[str, Any], session: requests.Session | None = None
) -> AssignmentsGradesService:
    """pylti1p3's AGS client for one course (its ``endpoint`` claim)."""
    data = cast("TAssignmentsGradersData", dict(endpoint))
    return AssignmentsGradesService(ServiceConnector(tool.registration(), session), data)


def score(user_id: str, given: float | None, maximum: float, when: dt.datetime) -> Grade:
    """One score as AGS posts it: final, or (``given`` is None) waiting for a grader.

    >>> when = dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC)
    >>> json.loads(score("sub-1", 12.5, 13, when).get_value())["gradingProgress"]
    'FullyGraded'
    >>> sorted(json.loads(score("sub-1", None, 13, when).get_value()))
    ['activityProgress', 'gradingProgress', 'timestamp', 'userId']
    """
    grade = Grade().set_user_id(user_id).set_timestamp(when.astimezone(dt.UTC).isoformat())
    if given is None:
        return grade.set_activity_progress("Submitted").set_grading_progress("PendingManual")
    return (
        grade.set_score_given(given)
        .set_score_maximum(maximum)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
    )


def post_scores(
    service: AssignmentsGradesService,
    assignment: str,
    maximum: float,
    scores: Mapping[str, float | None],
    when: dt.datetime | None = None,
) -> str:
    """Post every student's score for ``assignment`` to its line item (found by tag, or created
    with the assignment's name and maximum); returns the line item's URL."""
    wanted = LineItem().set_tag(assignment).set_label(assignment).set_resource_id(assignment)
    lineitem = service.find_or_create_lineitem(wanted.set_score_maximum(maximum), find_by="tag")
    when = when or dt.datetime.now(dt.UTC)
    for user_id, given in scores.items():
        service.put_grade(score(user_id, given, maximum, when), lineitem)
    return str(lineitem.get_id())


def pass_back(
    gradebook: Gradebook, service: AssignmentsGradesService, assignments: list[str] | None = None
) -> dict[str, str]:
    """Every assignment's scores from the gradebook to the LMS: assignment -> line item URL."""
    names, rows = collect_scores(gradebook, assignments or ())
    posted: dict[str, str] = {}
    for name in names:
        maximum = float(gradebook.find_assignment(name).max_score)
        posted[name] = post_scores(service, name, maximum, {row.student_id: row.scores[name] for row in rows})
    return posted


def load_settings(path: str | Path) -> tuple[ToolRegistration, dict[str, Any]]:
    """The tool's registration and the course's AGS endpoint from a JSON file of the instructor's:
    ``issuer``, ``client_id``, ``token_url``, ``private_key`` and ``public_key`` (PEM files,
    relative to the JSON file), optionally ``audience``; ``lineitems`` and ``scope`` (the AGS
    endpoint claim of a launch in the course)."""
    path = Path(path)
    settings = json.loads(path.read_text(encoding="utf-8"))
    keys = {name: (path.parent / settings[name]).read_text(encoding="utf-8") for name in ("private_key", "public_key")}
    tool = ToolRegistration(
        settings["issuer"],
        settings["client_id"],
        settings["token_url"],
        keys["private_key"],
        keys["public_key"],
        settings.get("audience", ""),
    )
    endpoint = endpoint_from_claims({ENDPOINT_CLAIM: {"lineitems": settings["lineitems"], "scope": settings["scope"]}})
    return tool, endpoint


def main(argv: list[str] | None = None) -> int:
    """``python -m toychat.lms_passback SETTINGS.json [--assignment NAME ...]``, in the course
    directory: every (or the named) assignment's scores from ``gradebook.db`` to the LMS."""
    parser = argparse.ArgumentParser(prog="python -m toychat.lms_passback", description=main.__doc__)
    parser.add_argument("settings", help="JSON file: the tool's registration and the course's AGS endpoint")
    parser.add_argument("--assignment", action="append", default=[], help="only this assignment (repeatable)")
    parser.add_argument("--db", default="sqlite:///gradebook.db", help="the gradebook (default: %(default)s)")
    parser.add_argument("--course", default="e2ee-online-safety", help="nbgrader course id (default: %(default)s)")
    args = parser.parse_args(argv)
    tool, endpoint = load_settings(args.settings)
    with Gradebook(args.db, args.course) as gradebook:
        posted = pass_back(gradebook, grade_service(tool, endpoint), args.assignment)
    for name, lineitem in posted.items():
        print(f"{name}: scores posted to {lineitem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
