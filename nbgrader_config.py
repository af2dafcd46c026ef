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
