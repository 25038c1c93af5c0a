"""Smoke tests of the SB3-throughput and soak benchmarks at a tiny size (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, tmp_path: Path) -> tuple[str, dict]:
    out = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, json.loads(out.read_text())


def test_sb3_throughput_benchmark_runs_tiny(tmp_path: Path) -> None:
    stdout, payload = _run("bench_sb3.py", tmp_path)
    assert "## SB3 training throughput" in stdout
    assert payload["results"]
    for result in payload["results"]:
        assert result["recenv"]["median"] > 0 and result["cartpole"]["median"] > 0
        assert result["ratio"] == result["recenv"]["median"] / result["cartpole"]["median"]


def test_soak_benchmark_runs_tiny(tmp_path: Path) -> None:
    stdout, payload = _run("bench_soak.py", tmp_path)
    assert "## Soak" in stdout
    assert payload["steps"] == 5_000 and payload["episodes"] > 0
    rss = payload["rss_mib"]
    assert 0 < rss["start"] <= rss["max"] and rss["end"] <= rss["max"]
    assert len(payload["samples"]) >= 2
