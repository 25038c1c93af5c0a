"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Where the real datasets live: ``<repo>/../shared/data`` on our machines and in CI
#: (read-only; never copy MovieLens into the repo), or ``REC_GYM_DATA``.
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("REC_GYM_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data_dir() -> Path:
    """The shared dataset folder.

    Skips the test when the folder is missing, except under CI (the ``CI`` variable is set),
    where a missing folder fails the test instead.
    """
    if not SHARED_DATA.is_dir():
        message = f"shared data folder {SHARED_DATA} is missing; set REC_GYM_DATA to it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA
