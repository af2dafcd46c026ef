"""pytest configuration shared by every test module."""

from __future__ import annotations

import matplotlib

# Headless figures in the test process itself.  Not via MPLBACKEND: kernels
# started by the notebook tests inherit the environment, and must keep the
# inline backend so that executed lessons really draw their figures.
matplotlib.use("Agg")
