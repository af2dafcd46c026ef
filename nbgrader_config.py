"""nbgrader configuration for the course, read from the repository root.

Instructors edit notebooks in ``solutions/`` (nbgrader's *source* folder); the
student versions in ``exercises/`` (nbgrader's *release* folder) are generated
from them with ``nbgrader generate_assignment <name> --force`` and committed,
so self-study readers have them without running nbgrader.
"""

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "e2ee-online-safety"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# A student's cell that loops for ever is stopped after this many seconds;
# grading then goes on with the next cell.
c.Execute.timeout = 60

# Release notebooks say clearly where the answer goes.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}

# The course's own grading pieces (toychat/grading.py), importable from the
# course root even where the course is not installed as a package.
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Every released exercise starts with the cells of one header notebook,
# solutions/header.ipynb ("How it works": where answers go, visible and hidden
# tests, what to do before submitting), so the five exercises cannot drift apart.
from toychat.grading import exercise_header  # noqa: E402

c.IncludeHeaderFooter.header = exercise_header(os.path.dirname(os.path.abspath(__file__)))

# Autograde: a submission whose graded cells were deleted, duplicated or moved is
# flagged (gradebook and log, with the reason) and graded as far as it can be,
# never stopping the class's run; test cells are put back from the gradebook
# without a false "checksum has changed" warning for every untouched cell (a
# changed cell is still reported); the student's cells run in a sandboxed
# kernel and the test cells, visible and hidden, in a second, trusted kernel
# that calls the student's functions across the process boundary and gets back
# only plain data (SealedExecute, toychat/sealed.py), so no student code sees,
# skips or fools a test; output is bounded while it arrives (1 MB a cell, 4 MB a
# notebook: more is discarded, the cell stopped and the submission flagged,
# toychat/output_bound.py); and a test cell scores all or nothing (no partial
# credit read from its output).  These are nbgrader's default lists with the
# course's preprocessors swapped or added in.
c.Autograde.sanitize_preprocessors = [
    "toychat.grading.CheckTestCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "toychat.grading.RestoreTestCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "toychat.output_bound.BoundedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "toychat.grading.PassFailTests",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Sealed execution: the student's kernel runs in bubblewrap as the unprivileged
# account nobody, seeing only the Python installation and the course package
# (no course folder, solutions/, gradebook.db, .git, this file or other
# submissions), with no network, a clean environment and bounded resources.
# Needs bwrap, prlimit and setpriv (Debian: bubblewrap, util-linux); see the
# instructor guide, "How grading is sealed".
c.GuardedExecute.sandbox = True

# Feedback: scores, visible tests and the student's own code, but no line of
# any hidden test (not even in a traceback) and none of the grader's paths;
# HTML a student wrote (markdown, displayed outputs) is escaped, not rendered.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "toychat.grading.ScrubHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Formgrader and feedback render submissions through an HTML exporter built from
# this file: a submission is rewritten before any template sees it (Markdown and
# written answers rendered and cleaned with an allow-list, raw cells and
# scriptable outputs shown as text; toychat/formgrader_safety.py).  nbconvert's
# own SanitizeHTML is not used after it: it would turn the cleaned HTML into
# visible tags.
c.HTMLExporter.preprocessors = ["toychat.formgrader_safety.SanitizeSubmission"]
c.HTMLExporter.sanitize_html = True

# Export: nbgrader's CSV plus which submissions still have parts to grade by hand.
c.ExportApp.plugin_class = "toychat.grading.FlaggingCsvExport"
