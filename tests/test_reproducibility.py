"""The same numbers on every machine: every pinned result, bit for bit, at every CPU level.

numpy chooses its sorting and maths code by the CPU it runs on (SSE, AVX2, AVX-512 …), OpenBLAS
its matrix kernels, and the C library its ``exp``/``log`` (with or without FMA).  Where an answer
is not unique (ties in a sort, the last bit of a logarithm) the choice used to show: ex04's hidden
known answer held only on CPUs without AVX-512.  Here every experiment whose numbers the course
prints, pins or grades against (``support/digest.py``) runs in fresh processes with each level of
numpy's dispatch this machine can emulate (``NPY_DISABLE_CPU_FEATURES``), with OpenBLAS told to
use older kernels (``OPENBLAS_CORETYPE``), and with the C library's FMA and AVX variants masked
(``GLIBC_TUNABLES``); every digest must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Minutes: every pinned experiment, once per emulated machine (about ten fresh processes).
pytestmark = pytest.mark.slow


def _dispatch_features() -> list[str]:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def _settings() -> dict[str, dict[str, str]]:
    """Environment overrides, one per emulated machine: each numpy dispatch level from the
    highest this CPU has down to the build's baseline, then older BLAS kernels and a libm
    without FMA at the full level."""
    found = _dispatch_features()
    settings = {
        "numpy " + (found[i - 1] if i else "baseline"): {"NPY_DISABLE_CPU_FEATURES": " ".join(found[i:])}
        for i in range(len(found) + 1)
    }
    if sys.platform == "linux":
        settings["OpenBLAS Prescott kernels"] = {"OPENBLAS_CORETYPE": "Prescott"}
        settings["OpenBLAS Haswell kernels"] = {"OPENBLAS_CORETYPE": "Haswell"}
        settings["glibc without AVX2/FMA/AVX-512"] = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F"}
    return settings


def _run(overrides: dict[str, str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    env.update(overrides)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    done = subprocess.run(
        [sys.executable, "-m", "support.digest"], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, object]]:
    settings = _settings()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(settings, pool.map(_run, settings.values()), strict=True))
    return results


def test_each_level_really_ran_with_its_features(runs: dict[str, dict[str, object]]) -> None:
    """The emulation took effect: each numpy level ran with exactly the features it kept."""
    found = _dispatch_features()
    for i in range(len(found) + 1):
        name = "numpy " + (found[i - 1] if i else "baseline")
        assert runs[name]["cpu_features"] == found[:i], name


def test_every_pinned_result_is_identical_at_every_level(runs: dict[str, dict[str, object]]) -> None:
    names = list(runs)
    reference = runs[names[0]]["digests"]
    assert isinstance(reference, dict)
    assert len(reference) > 30
    for name in names[1:]:
        digests = runs[name]["digests"]
        assert isinstance(digests, dict)
        differ = sorted(key for key in reference if digests.get(key) != reference[key])
        assert not differ, f"{name} differs from {names[0]} in {differ}"


@pytest.mark.notebook
@pytest.mark.parametrize("keep", [0, 1], ids=["numpy baseline", "numpy one level up"])
def test_ex04_model_answer_passes_its_hidden_tests_on_other_cpus(
    keep: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The model answer, hidden tests included, in a kernel whose numpy may use only the
    baseline (or one level of) vector code: as on a grader with an older CPU; and its written
    answer's figures (`ex04.…`) are still the ones the solution computes there."""
    import nbformat

    from support.nbtools import REPORT_NOTED, error_outputs, execute_notebook, wrongly_anchored

    found = _dispatch_features()
    if keep >= len(found):
        pytest.skip("this CPU has no dispatch level above the baseline")
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", " ".join(found[keep:]))
    path = ROOT / "solutions" / "ex04_reporting_and_metadata" / "ex04_reporting_and_metadata.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_NOTED))
    nbformat.write(nb, tmp_path / path.name)
    nb, _ = execute_notebook(tmp_path / path.name, cwd=path.parent, timeout=300, allow_errors=True)
    assert error_outputs(nb) == []
    noted = json.loads(nb.cells.pop().outputs[0]["text"])
    assert wrongly_anchored(nb, "ex04.", noted) == []
