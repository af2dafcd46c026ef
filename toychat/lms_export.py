"""Grades from nbgrader's gradebook as CSV files that Canvas and Moodle gradebooks import.

Used as nbgrader export plug-ins::

    nbgrader export --exporter=toychat.lms_export.CanvasCsvExport --to canvas.csv
    nbgrader export --exporter=toychat.lms_export.MoodleCsvExport --to moodle.csv

One row per student, one column per assignment (its score, manual grades included), like
the LMS's own gradebook export, which is what both LMSs take back:

* **Canvas** ("How do I import grades in the Gradebook?",
  https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807;
  a university's summary of the same rules:
  https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades):
  the columns ``Student`` ("Last, First"), ``ID`` (Canvas's user id), ``SIS User ID``,
  ``SIS Login ID`` and ``Section`` come first, then one column per assignment.  A learner is
  found by one of student name, ``ID`` or ``SIS User ID``; a column whose header names no
  existing Canvas assignment creates a new assignment, so map nbgrader's names to the Canvas
  columns ("Name (assignment id)", as Canvas's own export writes them) with
  ``CanvasCsvExport.columns``.  ``ID`` is the nbgrader student's ``lms_user_id``: in an LTI 1.3
  launch Canvas sends its user id when the developer key's custom fields ask for it
  (``canvas_user_id=$Canvas.user.id``, Canvas's "Variable Substitutions",
  https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.tools_variable_substitutions),
  in the launch's custom claim: :func:`roster_row` turns a launch's claims into the row
  ``nbgrader db student import`` takes.
* **Moodle** ("Grade import", https://docs.moodle.org/en/Grade_import): the import reads the
  CSV layout Moodle's own export writes, and at import the teacher maps one column to the
  user ("Map from" a column, "Map to" ``userid``, ``useridnumber`` or ``useremail``) and each
  score column to a grade item.  The file has ``First name``, ``Last name``, ``Email address``
  and ``Moodle user id`` (the student's ``lms_user_id``): map ``Email address`` to
  ``useremail``, or ``Moodle user id`` to ``userid``.

Learners are matched on what the LTI launch gave the hub: the nbgrader student id is the hub
user name (the launch's ``sub`` with ``LTI13Authenticator.username_key = "sub"``), and the LMS's
own id and e-mail come from the same launch (:func:`roster_row`).  A student without an LMS id
(and, for Moodle, without an e-mail) cannot be matched: the export names them in a warning.

A submission with parts still waiting for a grader (a written answer) has an incomplete
score: its cell is left **empty** and the export warns, so an upload never records a partial
score as final (``toychat.grading.FlaggingCsvExport`` lists those parts).  A student who never
submitted scores 0, as in nbgrader's own CSV export.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import ExportPlugin
from traitlets import Dict, Unicode

#: The LTI 1.3 custom properties claim (LTI Core 1.3, https://www.imsglobal.org/spec/lti/v1p3/),
#: where the LMS puts the tool configuration's custom fields, variables substituted.
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
#: The launch claim that carries the course's AGS endpoint (AGS 2.0; used by lms_passback and lms_roster).
ENDPOINT_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


@dataclass
class LearnerScores:
    """One student's row: who they are, and their score per assignment (``None``: incomplete)."""

    student_id: str
    first_name: str
    last_name: str
    email: str
    lms_user_id: str
    scores: dict[str, float | None] = field(default_factory=dict)


def collect_scores(
    gradebook: Gradebook, assignments: Iterable[str] = (), students: Iterable[str] = ()
) -> tuple[list[str], list[LearnerScores]]:
    """The assignments (in the gradebook's order) and every student's scores in them.

    ``assignments`` and ``students`` restrict the export as nbgrader's ``--assignment`` and
    ``--student`` do (empty: all).  A score is ``None`` while any part of the submission still
    needs a manual grade; a missing submission scores 0.
    """
    wanted_assignments, wanted_students = {str(a) for a in assignments}, {str(s) for s in students}
    names = [a.name for a in gradebook.assignments if not wanted_assignments or a.name in wanted_assignments]
    rows: list[LearnerScores] = []
    for student in gradebook.students:
        if wanted_students and student.id not in wanted_students:
            continue
        row = LearnerScores(
            student.id,
            student.first_name or "",
            student.last_name or "",
            student.email or "",
            student.lms_user_id or "",
        )
        for name in names:
            try:
                submission = gradebook.find_submission(name, student.id)
            except MissingEntry:
                row.scores[name] = 0.0
                continue
            pending = any(grade.needs_manual_grade for nb in submission.notebooks for grade in nb.grades)
            row.scores[name] = None if pending else float(submission.score)
        rows.append(row)
    return names, rows


def _score(value: float | None) -> str:
    """A score as the LMS reads it: a plain number (``12``, ``7.5``) or empty."""
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def canvas_table(
    names: list[str], rows: list[LearnerScores], columns: Mapping[str, str] | None = None
) -> list[list[str]]:
    """The Canvas gradebook import layout: header row, then one row per student.

    >>> row = LearnerScores("sub-1", "Ada", "Lovelace", "ada@example.edu", "4021", {"ex01": 12.5})
    >>> for line in canvas_table(["ex01"], [row], {"ex01": "Exercise 1 (77)"}):
    ...     print(line)
    ['Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section', 'Exercise 1 (77)']
    ['Lovelace, Ada', '4021', '', '', '', '12.5']
    """
    columns = columns or {}
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [columns.get(n, n) for n in names]
    body = [
        [f"{r.last_name}, {r.first_name}", r.lms_user_id, "", "", ""] + [_score(r.scores[n]) for n in names]
        for r in rows
    ]
    return [header, *body]


def moodle_table(
    names: list[str], rows: list[LearnerScores], columns: Mapping[str, str] | None = None
) -> list[list[str]]:
    """The Moodle grade import layout: header row, then one row per student.

    >>> row = LearnerScores("sub-1", "Ada", "Lovelace", "ada@example.edu", "4021", {"ex01": None})
    >>> for line in moodle_table(["ex01"], [row]):
    ...     print(line)
    ['First name', 'Last name', 'Email address', 'Moodle user id', 'ex01']
    ['Ada', 'Lovelace', 'ada@example.edu', '4021', '']
    """
    columns = columns or {}
    header = ["First name", "Last name", "Email address", "Moodle user id"] + [columns.get(n, n) for n in names]
    body = [[r.first_name, r.last_name, r.email, r.lms_user_id] + [_score(r.scores[n]) for n in names] for r in rows]
    return [header, *body]


def roster_row(username: str, claims: Mapping[str, Any]) -> dict[str, str]:
    """What ``nbgrader db student import`` needs of one learner, from their LTI 1.3 launch.

    ``username`` is the hub's name for them (the ``sub`` claim with the course's settings);
    names and e-mail are the launch's ``given_name``, ``family_name`` and ``email`` claims (sent
    when the LMS's privacy setting allows); the LMS's own user id is the custom claim's
    ``canvas_user_id`` (Canvas, from ``$Canvas.user.id``) or ``lms_user_id`` (any LMS whose tool
    configuration sets such a custom field).

    >>> roster_row("8f1c", {"given_name": "Ada", "family_name": "Lovelace",
    ...     "https://purl.imsglobal.org/spec/lti/claim/custom": {"canvas_user_id": "4021"}})
    {'id': '8f1c', 'first_name': 'Ada', 'last_name': 'Lovelace', 'email': '', 'lms_user_id': '4021'}
    """
    custom = claims.get(CUSTOM_CLAIM) or {}
    lms_id = custom.get("canvas_user_id") or custom.get("lms_user_id") or ""
    if str(lms_id).startswith("$"):  # the LMS did not substitute the variable (see module doc)
        lms_id = ""
    return {
        "id": username,
        "first_name": str(claims.get("given_name", "")),
        "last_name": str(claims.get("family_name", "")),
        "email": str(claims.get("email", "")),
        "lms_user_id": str(lms_id),
    }


class _LmsCsvExport(ExportPlugin):
    """Shared part of the LMS exports: collect, warn, write."""

    columns = Dict(
        {},
        help="nbgrader assignment name -> the LMS gradebook's column header for it (default: the assignment's name).",
    ).tag(config=True)
    default_file = Unicode("lms-grades.csv")

    def table(self, names: list[str], rows: list[LearnerScores]) -> list[list[str]]:
        raise NotImplementedError

    def unmatched(self, rows: list[LearnerScores]) -> list[str]:
        """Students the LMS cannot match: no LMS user id."""
        return [r.student_id for r in rows if not r.lms_user_id]

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or self.default_file
        names, rows = collect_scores(gradebook, self.assignment, self.student)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(self.table(names, rows))
        self.log.info("Exported %d students x %d assignments to %s", len(rows), len(names), dest)
        pending = sorted(f"{r.student_id}:{n}" for r in rows for n in names if r.scores[n] is None)
        if pending:
            self.log.warning(
                "%d score(s) left empty: parts still wait for a grader (%s)", len(pending), " ".join(pending)
            )
        missing = self.unmatched(rows)
        if missing:
            self.log.warning(
                "%d student(s) the LMS cannot match (no LMS user id in the gradebook): %s",
                len(missing),
                " ".join(missing),
            )


class CanvasCsvExport(_LmsCsvExport):
    """nbgrader grades in the layout Canvas's gradebook import reads (see the module doc)."""

    default_file = Unicode("canvas-grades.csv")

    def table(self, names: list[str], rows: list[LearnerScores]) -> list[list[str]]:
        return canvas_table(names, rows, self.columns)


class MoodleCsvExport(_LmsCsvExport):
    """nbgrader grades in the layout Moodle's CSV grade import reads (see the module doc)."""

    default_file = Unicode("moodle-grades.csv")

    def table(self, names: list[str], rows: list[LearnerScores]) -> list[list[str]]:
        return moodle_table(names, rows, self.columns)

    def unmatched(self, rows: list[LearnerScores]) -> list[str]:
        """Moodle matches on the user id or the e-mail: students with neither."""
        return [r.student_id for r in rows if not r.lms_user_id and not r.email]
