# The grading container of docs/instructor_guide.md, section 6: nbgrader and the course's
# libraries, nothing of the course's answers (never solutions/ or .git: autograde takes the
# hidden tests from the gradebook mounted at run time).  Build from the repository root:
#
#   docker build -f deploy/grading.Dockerfile -t e2ee-grader .
#
# tests/test_dockerfiles.py performs its COPY and RUN steps in a clean folder (apt-get install
# resolved with apt-get -s, apt-get update left out) and a fresh
# virtual environment when no Docker engine is at hand, and runs `docker build` when one is.
FROM python:3.11-slim

# The sealed grader starts each student's kernel with bubblewrap, prlimit and setpriv
# (docs/instructor_guide.md, section 6.1); run the container with a seccomp profile that lets
# bwrap create namespaces, or grade with --GuardedExecute.sandbox=False, one student a container.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap util-linux && rm -rf /var/lib/apt/lists/*

WORKDIR /tmp/course
COPY requirements-course.txt ./
RUN pip install --no-cache-dir -r requirements-course.txt
COPY pyproject.toml setup.py README.md ./
COPY data/ ./data/
COPY toychat/ ./toychat/
COPY jupyter-config/ ./jupyter-config/
RUN pip install --no-cache-dir --no-deps . ./jupyter-config
RUN rm -rf /tmp/course
WORKDIR /course
