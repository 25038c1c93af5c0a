"""Acceptance on the real MovieLens data in ``../shared/data`` (read there, never copied).

Skipped when the data is missing, except under CI (``CI`` set), where it fails instead.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rec_gym.data.calibration import CalibratedWorld, calibrate
from rec_gym.data.fidelity import fidelity_report
from rec_gym.data.loaders import load_log
from tests.data.conftest import real_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ml100k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, CalibratedWorld]:
    data = real_dataset("ml-100k")
    cache = tmp_path_factory.mktemp("cache")
    return data, cache, calibrate(data, cache_dir=cache)


def _headline(report: dict[str, Any]) -> list[float]:
    return [
        report["ranking"]["auc"],
        report["calibration"]["ece"],
        report["ctr"]["real_heldout"],
        report["ctr"]["simulated_popularity_policy"],
        report["session_length"]["ks"],
        report["genre_share"]["tv_distance"],
    ]


def test_ml100k_heldout_auc(ml100k: tuple[Path, Path, CalibratedWorld]) -> None:
    data, _, world = ml100k
    assert world.meta["format"] == "movielens-100k"
    assert world.config.n_items > 1000 and world.config.n_topics == 19
    report = fidelity_report(world, load_log(data))
    assert report["ranking"]["auc"] >= 0.85
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in _headline(report))


def test_latest_small_calibrates(tmp_path: Path) -> None:
    data = real_dataset("ml-latest-small")
    world = calibrate(data, cache_dir=tmp_path)
    assert world.meta["format"] == "movielens-latest"
    report = fidelity_report(world, load_log(data), n_sim_users=500)
    assert report["ranking"]["auc"] > report["ranking"]["auc_popularity_baseline"]
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in _headline(report))


def test_cli_writes_the_report(ml100k: tuple[Path, Path, CalibratedWorld], tmp_path: Path) -> None:
    data, cache, world = ml100k
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "rec_gym.calibrate", "--data", str(data), "--report", str(out)]
        + ["--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(world.path) in result.stdout  # the cached calibration was reused
    report = json.loads((out / "report.json").read_text())
    assert report["ranking"]["auc"] >= 0.85
    assert report["timing"]["cached_load_seconds"] is not None
    for name in ("report.md", "session_length.png", "genre_share.png", "calibration.png"):
        assert (out / name).stat().st_size > 0


def test_env_checkers_and_determinism(ml100k: tuple[Path, Path, CalibratedWorld]) -> None:
    data, cache, _ = ml100k
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("RecEnv-MovieLens-v0", data_dir=data, cache_dir=cache)
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)

    def rollout(seed: int) -> list[tuple[float, bool, bool]]:
        env = gym.make("RecEnv-MovieLens-v0", data_dir=data, cache_dir=cache)
        n_items = env.unwrapped.config.n_items  # type: ignore[attr-defined]
        env.reset(seed=seed)
        trace = []
        for step in range(40):
            _, reward, terminated, truncated, _ = env.step(step * 13 % n_items)
            trace.append((float(reward), terminated, truncated))
            if terminated or truncated:
                env.reset()
        return trace

    assert rollout(1) == rollout(1)
