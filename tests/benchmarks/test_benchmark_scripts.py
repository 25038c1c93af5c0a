"""Smoke tests: every benchmark script runs end to end at a tiny size (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "title"),
    [
        ("bench_env.py", "Single env: steps/s"),
        ("bench_vector.py", "Batched env: user-steps/s"),
        ("bench_memory.py", "Peak memory"),
    ],
)
def test_benchmark_script_runs_tiny(script: str, title: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert f"## {title}" in completed.stdout
    assert "| ---" in completed.stdout.replace("|---", "| ---")  # a Markdown table
    payload = json.loads(out.read_text())
    assert payload["results"], "no measurement recorded"
    assert payload["machine"]["cores"] >= 1
    for result in payload["results"]:
        value = result.get("median", result.get("peak"))
        assert value is not None and value > 0
