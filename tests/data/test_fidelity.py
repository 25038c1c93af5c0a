"""Fidelity metrics (hand-checked) and the report files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rec_gym.data.calibration import calibrate
from rec_gym.data.errors import DataError
from rec_gym.data.fidelity import (
    expected_calibration_error,
    fidelity_report,
    ks_distance,
    pairwise_auc,
    total_variation,
)
from rec_gym.data.loaders import load_log
from rec_gym.data.report import REPORT_FILES, write_report
from tests.data.conftest import FAST


def test_pairwise_auc_by_hand() -> None:
    assert pairwise_auc(np.array([2.0]), np.array([1.0])) == (1.0, 1)
    assert pairwise_auc(np.array([1.0]), np.array([2.0])) == (0.0, 1)
    # pairs: (3>2) (3>1) (1<2) (1=1 -> 0.5) -> 2.5 / 4
    assert pairwise_auc(np.array([3.0, 1.0]), np.array([2.0, 1.0])) == (0.625, 4)
    auc, pairs = pairwise_auc(np.array([1.0]), np.array([]))
    assert math.isnan(auc) and pairs == 0


def test_expected_calibration_error_by_hand() -> None:
    prob = np.array([0.05, 0.05, 0.95, 0.95])
    perfect, bins = expected_calibration_error(prob, np.array([0, 0, 1, 1]))
    assert perfect == pytest.approx(0.05)  # |0 - 0.05| and |1 - 0.95| in two bins
    assert bins[0]["count"] == 2 and bins[9]["count"] == 2 and bins[5]["count"] == 0
    wrong, _ = expected_calibration_error(prob, np.array([1, 1, 0, 0]))
    assert wrong == pytest.approx(0.95)
    # One bin [0.2, 0.3): mean prob 0.2, rate 0.5; bin [0.9, 1]: 0.9 vs 1 -> (2*0.3 + 0.1)/3.
    ece, _ = expected_calibration_error(np.array([0.2, 0.2, 0.9]), np.array([0, 1, 1]))
    assert ece == pytest.approx((2 * 0.3 + 0.1) / 3)


def test_ks_and_total_variation_by_hand() -> None:
    assert ks_distance(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 4])) == 0.0
    assert ks_distance(np.array([1, 1]), np.array([2, 2])) == 1.0
    assert ks_distance(np.array([1, 2]), np.array([2, 2])) == 0.5
    assert total_variation(np.array([0.2, 0.8]), np.array([0.6, 0.4])) == pytest.approx(0.4)


def test_report_on_synthetic_log(latest_dir: Path, cache_dir: Path, tmp_path: Path) -> None:
    world = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    log = load_log(latest_dir)
    report = fidelity_report(world, log, n_sim_users=200, timing={"cached_load_seconds": 0.1})
    assert report["dataset"]["heldout_rows"] == int((log.time >= world.cut_time).sum())
    ranking = report["ranking"]
    # Planted taste structure: the simulator ranks held-out likes far above random items.
    assert ranking["auc"] > 0.8 and ranking["auc"] > ranking["auc_popularity_baseline"]
    for value in (
        report["calibration"]["ece"],
        report["ctr"]["real_heldout"],
        report["ctr"]["simulated_popularity_policy"],
        report["session_length"]["ks"],
        report["genre_share"]["tv_distance"],
    ):
        assert 0.0 <= value <= 1.0
    shares = report["genre_share"]
    assert sum(shares["real"].values()) == pytest.approx(1.0)
    assert sum(shares["simulated"].values()) == pytest.approx(1.0)
    assert sum(report["session_length"]["simulated_lengths"]) == 200

    paths = write_report(report, tmp_path / "report")
    assert sorted(p.name for p in paths) == sorted(REPORT_FILES)
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["ranking"]["auc"] == pytest.approx(ranking["auc"])
    markdown = (tmp_path / "report" / "report.md").read_text()
    for needle in ("Held-out AUC", "ECE", "CTR real", "KS distance", "total variation"):
        assert needle in markdown
    assert f"{ranking['auc']:.3f}" in markdown


def test_report_needs_heldout_rows(latest_dir: Path, cache_dir: Path) -> None:
    log = load_log(latest_dir)
    settings = FAST.__class__(**{**FAST.to_dict(), "cut_time": int(log.time.max()) + 1})
    world = calibrate(latest_dir, settings=settings, cache_dir=cache_dir)
    with pytest.raises(DataError, match="no interactions at or after the cut"):
        fidelity_report(world, log)
