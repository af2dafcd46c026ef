"""Speed and scale measurements for the course: ``python -m benchmarks``.

Each benchmark measures the course's own code *and* the baseline a user would
otherwise use, in the same run, and reports medians of repeated runs and the
ratio.  Each section is stamped with the load average before and after it
and a machine floor; one measured on a loaded machine is not written unless
``--allow-loaded`` says so, and a failing case is recorded and the run goes
on (see ``benchmarks/__main__.py``).  Results go to ``benchmarks/RESULTS.md`` (linked from the README),
whose hand-written lab report, on what the figures mean, a run keeps;
``--quick`` runs every benchmark at a tiny size so CI can check they still
work, without claiming anything about speed.
"""
