"""The benchmarks run (quick mode), so they cannot rot. Speed is measured by
`python -m benchmarks`, never asserted in unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS, main


@pytest.mark.slow
def test_quick_mode_runs_every_benchmark_and_writes_the_results_file(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    assert main(["--quick", "--output", str(output)]) == 0
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    runnable = {p.stem for p in folder.glob("*.py") if "\ndef run(" in p.read_text(encoding="utf-8")}
    assert set(BENCHMARKS) == runnable, (
        f"benchmark modules not run, or listed but not there: {set(BENCHMARKS) ^ runnable}"
    )
    text = output.read_text()
    assert text.startswith("# Benchmark results")
    assert "Quick mode" in text
    assert "Chat throughput (E2EE, signed)" in text
    assert "Double Ratchet" in text
    assert "Course execution" in text
    assert "Perceptual hashing" in text
    assert "Autograding a class" in text
    assert "in 2 shards" in text
    assert "serially" in text
    assert "Platform simulation and detection" in text
    assert "scaling exponent" in text
    assert "Classroom relay under load" in text
    assert "SIGKILLed" in text
    assert "Classroom relay: memory over a long history and a restart" in text
    assert "just after SIGKILL and restart on the same files" in text
    assert "Sizing: memory and CPU per student" in text
    assert "single-user server" in text
    assert "Course site (Sphinx + MyST-NB)" in text
    assert "cold build (empty cache)" in text
    assert "rebuild after editing" in text
    assert "Headless runners (no timeout)" in text
    assert "papermill: lesson 00" in text


def test_a_partial_run_replaces_only_its_own_sections() -> None:
    from benchmarks.core import merge_sections

    old = "# Benchmark results\n\nheader\n\n## Chat\n\nold chat\n\n## Sizing\n\nold sizing\n"
    new = "# Benchmark results\n\nother header\n\n## Sizing\n\nnew sizing\n"
    merged = merge_sections(old, new, "2026-01-01 00:00 UTC")
    assert "old chat" in merged
    assert "header" in merged
    assert "other header" not in merged
    assert "new sizing" in merged
    assert "old sizing" not in merged
    assert "Measured 2026-01-01 00:00 UTC" in merged


def test_a_full_run_keeps_the_hand_written_lab_report() -> None:
    from benchmarks.core import LAB_REPORT, keep_lab_report

    old = f"# Benchmark results\n\nold header\n\n## Chat\n\nold chat\n\n## {LAB_REPORT}\n\nwhat it means\n"
    new = "# Benchmark results\n\nnew header\n\n## Chat\n\nnew chat\n\n## Sizing\n\nnew sizing\n"
    kept = keep_lab_report(old, new)
    expected = (
        f"# Benchmark results\n\nnew header\n\n## {LAB_REPORT}\n\nwhat it means\n\n"
        "## Chat\n\nnew chat\n\n## Sizing\n\nnew sizing\n"
    )
    assert kept == expected
    assert keep_lab_report(new, new) == new


def test_the_readme_points_to_the_results_file_and_its_lab_report() -> None:
    from benchmarks.core import LAB_REPORT

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    results = (repo / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    assert "`python -m benchmarks`" in readme
    assert "(benchmarks/RESULTS.md)" in readme
    assert results.count(f"\n## {LAB_REPORT}\n") == 1


def test_sizing_table_reads_the_measured_figures_and_grows_with_the_class() -> None:
    from benchmarks.sizing import NAME, class_table, figures_from_results

    section = (
        f"## {NAME}\n\n| case | value | unit |\n|---|---|---|\n"
        "| single-user server after serving JupyterLab | 150 | MiB RSS |\n"
        "| kernel: lessons/x.ipynb | 300 | MiB peak RSS |\n| kernel: lessons/y.ipynb | 100 | MiB peak RSS |\n"
        "| kernel: lessons/z.ipynb | 120 | MiB peak RSS |\n"
        "| largest kernel peak (3 notebooks) | 300 | MiB peak RSS |\n\n"
        "- kernel: lessons/x.ipynb: CPU 12.0 s over 20.0 s wall (60% of one core)\n"
    )
    figures = figures_from_results("# Benchmark results\n\n" + section)
    assert figures == {"server_mib": 150.0, "kernel_mib": 300.0, "median_kernel_mib": 120.0, "heaviest_cpu_s": 12.0}
    rows = class_table(**figures).splitlines()[2:]
    memory = [float(row.split("|")[3].split()[0]) for row in rows]
    assert [row.split("|")[1].strip() for row in rows] == ["30", "200", "1000"]
    assert memory == sorted(memory)
    assert memory[0] == round(30 * (150 + 300 + 120) / 1024 + 1, 1)
