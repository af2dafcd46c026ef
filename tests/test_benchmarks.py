"""The benchmarks run (quick mode), so they cannot rot. Speed is measured by
`python -m benchmarks`, never asserted in unit tests."""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import BENCHMARKS, main


def test_quick_mode_runs_every_benchmark_and_writes_the_results_file(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    assert main(["--quick", "--output", str(output)]) == 0
    text = output.read_text()
    assert text.startswith("# Benchmark results") and "Quick mode" in text
    assert "Chat throughput (E2EE, signed)" in text and "Double Ratchet" in text and "Course execution" in text and "Perceptual hashing" in text
    assert len(BENCHMARKS) >= 6 and "Autograding a class" in text and "in 2 shards" in text and "serially" in text
    assert "Platform simulation and detection" in text and "scaling exponent" in text
    assert "Classroom relay under load" in text and "SIGKILLed" in text
