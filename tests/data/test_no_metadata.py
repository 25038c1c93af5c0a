"""A plain interactions CSV without item metadata (no genres column) still calibrates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def test_csv_without_genres_calibrates_with_one_topic(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["user,item,timestamp,rating"]
    for user in range(120):
        time = 1_000_000 + user * 10
        for _ in range(int(rng.integers(5, 25))):
            time += int(rng.integers(60, 4000))
            rows.append(f"{user},{int(rng.integers(0, 80))},{time},{int(rng.integers(1, 6))}")
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rec_gym.calibrate",
            "--data",
            str(log),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "1 topics" in result.stdout
