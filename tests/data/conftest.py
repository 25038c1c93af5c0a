"""Fixtures of the data-layer tests: synthetic logs in tmp folders and the real datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rec_gym.data.calibration import CalibrationSettings
from tests.data.synthetic import SyntheticLog, make_log, write_latest

#: The real datasets: ``REC_GYM_DATA`` if set, else ``shared/data`` beside the repository
#: (where CI puts it).
REAL_DATA = Path(
    os.environ.get("REC_GYM_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)

#: Small, fast settings for synthetic logs.
FAST = CalibrationSettings(latent_dim=4, n_simulated_users=100, mf_iterations=6)


def real_dataset(name: str) -> Path:
    """A real dataset folder; skips when missing, but fails when the ``CI`` variable is set."""
    path = REAL_DATA / name
    if not path.is_dir():
        message = f"real dataset {path} is missing (set REC_GYM_DATA to the shared data folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def synthetic_log() -> SyntheticLog:
    """The synthetic log (drawn once)."""
    return make_log()


@pytest.fixture
def latest_dir(tmp_path: Path, synthetic_log: SyntheticLog) -> Path:
    """The synthetic log as a MovieLens-latest folder in a fresh tmp dir."""
    return write_latest(synthetic_log, tmp_path / "ml-synthetic")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """An empty cache directory."""
    return tmp_path / "cache"
