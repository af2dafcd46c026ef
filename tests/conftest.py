"""pytest configuration shared by every test module."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

# Headless figures in the test process itself.  Not via MPLBACKEND: kernels
# started by the notebook tests inherit the environment, and must keep the
# inline backend so that executed lessons really draw their figures.
matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))
