"""The W2 binary target as the run states it: each binary row carries the model's own rate
measured just before it, and the verdict is the share of that rate, not of the rate taken
at the run's start, which the host's drift can put far from it."""

from __future__ import annotations

from bench.loadgen import Row
from bench.run import render, rows_from_markdown, targets
from bench.workloads import WORKLOADS

W2_BINARY = next(w for w in WORKLOADS if w.key == "W2-binary")
START_RATE = 5000.0  # the host was fast when the run began


def run_file(binary_rows: list[Row]) -> str:
    """A results file as bench.run writes it, with only the W2 binary table filled."""
    tables = [f"### {w.key}: {w.title}\n" for w in WORKLOADS if w.key != "W2-binary"]
    return "\n".join(
        [
            "Run 2026-11-29 03:00 UTC on host.",
            "",
            "- mlp: 40,000 single-row forward passes/s in-process, 1 thread, on core 0",
            f"- cnn: {START_RATE:,.0f} single-image forward passes/s in-process, 1 thread",
            "",
            render(W2_BINARY, binary_rows),
            "",
            *tables,
        ]
    )


def pier_rows(model_rate: float) -> list[Row]:
    return [
        Row("pier", 16, 2900.0, 5.0, 9.0, 0, 400.0, 1.0, requests=29000, model_rate=model_rate),
        Row("pier", 64, 3000.0, 20.0, 30.0, 0, 400.0, 1.0, requests=30000, model_rate=3600),
    ]


def w2_binary_line(text: str) -> str:
    tables, start_rate = rows_from_markdown(text)
    assert start_rate == START_RATE
    return next(t for t in targets(tables, start_rate) if t.startswith("W2-binary"))


def test_the_share_is_of_the_rate_measured_just_before_the_best_row() -> None:
    line = w2_binary_line(run_file(pier_rows(model_rate=3500)))
    assert line.startswith("W2-binary (met)")
    assert "83% of the CNN's in-process rate just before that run, 3,600/s" in line
    assert "60% of the rate at the start of the run, 5,000/s" in line


def test_a_rate_just_before_that_the_server_missed_is_a_miss() -> None:
    rows = [Row("pier", 64, 3000.0, 20.0, 30.0, 0, 400.0, 1.0, requests=1, model_rate=4000)]
    assert w2_binary_line(run_file(rows)).startswith("W2-binary (missed)")


def test_an_earlier_file_without_the_rates_is_judged_on_the_start_rate() -> None:
    text = run_file([Row("pier", 64, 4100.0, 20.0, 30.0, 0, 400.0, 1.0, requests=1)])
    assert "model alone" not in text
    line = w2_binary_line(text)
    assert line.startswith("W2-binary (met)") and "82% of the CNN's in-process rate 5,000" in line
