"""Speed and scale measurements for the course: ``python -m benchmarks``.

Each benchmark measures the course's own code *and* the baseline a user would
otherwise use, in the same run, and reports medians of repeated runs and the
ratio.  Results go to ``benchmarks/RESULTS.md`` (linked from the README),
whose hand-written lab report, on what the figures mean, a run keeps;
``--quick`` runs every benchmark at a tiny size so CI can check they still
work, without claiming anything about speed.
"""
