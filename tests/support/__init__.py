"""Helpers shared by the test modules: notebooks and timings (:mod:`support.nbtools`), real
JupyterLab and Chromium (:mod:`support.browser`), real JupyterHub (:mod:`support.hub`) and the
point values of graded cells (:mod:`support.grading`).

pytest puts ``tests/`` on the import path (``pythonpath`` in pyproject.toml), so tests import
them as ``support.<module>``.  The course building shared with the autograding benchmark
(:mod:`benchmarks.classroom`) stays in the benchmarks, which run without ``tests/``.
"""
