"""Calibration: time split, determinism, the cut, the cache and the fitted pieces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import rec_gym.data.calibration as calibration
from rec_gym.config import RecEnvConfig
from rec_gym.data.cache import atomic_write
from rec_gym.data.calibration import (
    CalibratedWorld,
    CalibrationSettings,
    calibrate,
    engagement_levels,
    fit_world,
    leave_hazard,
    load_world,
    primary_topics,
    session_lengths,
    session_satiation,
)
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import ItemMetadata, load_log
from rec_gym.users import leave_probability
from tests.data.conftest import FAST
from tests.data.synthetic import GENRES, SyntheticLog, write_latest


def _fitted(world: CalibratedWorld) -> dict[str, object]:
    """Everything the fit produced (not provenance such as checksums or timings)."""
    return {
        "arrays": world.arrays(),
        "config": world.config.to_dict(),
        "fit": world.meta["fit"],
        "cut": world.cut_time,
        "genres": world.genre_names,
    }


def _assert_same_fit(first: CalibratedWorld, second: CalibratedWorld) -> None:
    a, b = _fitted(first), _fitted(second)
    assert a["config"] == b["config"] and a["fit"] == b["fit"] and a["cut"] == b["cut"]
    assert a["genres"] == b["genres"]
    for name, array in a["arrays"].items():  # type: ignore[attr-defined]
        assert np.array_equal(array, b["arrays"][name], equal_nan=True), name  # type: ignore[index]


def test_settings_are_validated() -> None:
    with pytest.raises(DataError, match="train_fraction=1.5 is invalid"):
        CalibrationSettings(train_fraction=1.5)
    with pytest.raises(DataError, match="purchase_threshold=3.0 is invalid: must be >="):
        CalibrationSettings(purchase_threshold=3.0)
    with pytest.raises(DataError, match="latent_dim=0"):
        CalibrationSettings(latent_dim=0)
    with pytest.raises(DataError, match="unknown calibration setting 'latent'"):
        CalibrationSettings.from_any({"latent": 3})


def test_engagement_mapping_for_ratings() -> None:
    log = load_log_from_rows([3.0, 3.5, 4.0, 4.5, 5.0])
    assert engagement_levels(log, CalibrationSettings()).tolist() == [0, 0, 1, 1, 2]
    strict = CalibrationSettings(click_threshold=4.5, purchase_threshold=5.0)
    assert engagement_levels(log, strict).tolist() == [0, 0, 0, 1, 2]


def load_log_from_rows(ratings: list[float]) -> calibration.InteractionLog:
    n = len(ratings)
    return calibration.InteractionLog(
        format="csv",
        user=np.ones(n, dtype=np.int64),
        item=np.arange(n, dtype=np.int64),
        value=np.array(ratings),
        time=np.arange(n, dtype=np.int64),
        signal="rating",
        items=ItemMetadata.empty(),
    )


def test_time_split_is_global_and_disjoint(latest_dir: Path, cache_dir: Path) -> None:
    world = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    log = load_log(latest_dir)
    cut = world.cut_time
    train = log.time < cut
    assert 0 < train.sum() < log.n_rows
    assert world.meta["counts"]["train_rows"] == int(train.sum())
    assert world.meta["counts"]["heldout_rows"] == int((~train).sum())
    rows = list(zip(log.user.tolist(), log.item.tolist(), log.time.tolist(), strict=True))
    before = {row for row, keep in zip(rows, train.tolist(), strict=True) if keep}
    after = {row for row, keep in zip(rows, train.tolist(), strict=True) if not keep}
    assert before and after and not before & after and len(before | after) == len(set(rows))
    assert max(r[2] for r in before) < cut <= min(r[2] for r in after)
    # The cut and settings travel with the artifact.
    reloaded = load_world(world.path)  # type: ignore[arg-type]
    assert reloaded.cut_time == cut and reloaded.settings == FAST


def test_interaction_after_the_cut_does_not_change_the_artifact(
    tmp_path: Path, synthetic_log: SyntheticLog
) -> None:
    base = write_latest(synthetic_log, tmp_path / "base")
    world = calibrate(base, settings=FAST, cache_dir=tmp_path / "c")
    settings = dataclasses.replace(FAST, cut_time=world.cut_time)
    reference = calibrate(base, settings=settings, cache_dir=tmp_path / "c")
    _assert_same_fit(world, reference)  # an explicit cut at the same time: same fit

    cut = world.cut_time
    late = (
        f"1,1,5.0,{cut}\r\n"  # a known user, exactly at the cut (held out)
        f"2,3,1.0,{cut + 10}\r\n"  # a known user, after it
        f"999,5,5.0,{cut + 20}\r\n"  # a new user
        f"3,41,5.0,{cut + 30}\r\n"  # an item never seen before
    )
    injected = write_latest(synthetic_log, tmp_path / "late", extra_rows=late)
    after = calibrate(injected, settings=settings, cache_dir=tmp_path / "c")
    assert after.meta["data_checksum"] != reference.meta["data_checksum"]  # really refitted
    _assert_same_fit(reference, after)

    early = write_latest(synthetic_log, tmp_path / "early", extra_rows=f"2,3,1.0,{cut - 1}\r\n")
    changed = calibrate(early, settings=settings, cache_dir=tmp_path / "c")
    with pytest.raises(AssertionError):  # the comparison does detect a change before the cut
        _assert_same_fit(reference, changed)


def test_fit_is_deterministic(latest_dir: Path) -> None:
    log = load_log(latest_dir)
    _assert_same_fit(fit_world(log, FAST), fit_world(log, FAST))


def test_cache_round_trip_and_keys(
    latest_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    assert first.path is not None and first.path.parent == cache_dir / "calibrated"

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached calibration must not parse the data again")

    monkeypatch.setattr(calibration, "load_log", no_parsing)
    second = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    assert second.path == first.path
    _assert_same_fit(first, second)
    assert second.meta["calibration_seconds"] == first.meta["calibration_seconds"]
    monkeypatch.undo()

    other = calibrate(latest_dir, settings=dataclasses.replace(FAST, seed=1), cache_dir=cache_dir)
    assert other.path != first.path
    files = sorted(p.name for p in cache_dir.rglob("*") if p.is_file())
    assert len(files) == 2 and all(name.endswith(".npz") for name in files)  # no temp files
    with np.load(first.path, allow_pickle=False) as archive:  # plain arrays, no pickle
        assert all(archive[name].dtype != object for name in archive.files)


def test_corrupt_cache_entry_is_recalibrated(latest_dir: Path, cache_dir: Path) -> None:
    first = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    assert first.path is not None
    first.path.write_bytes(b"not an npz")
    again = calibrate(latest_dir, settings=FAST, cache_dir=cache_dir)
    _assert_same_fit(first, again)
    assert load_world(first.path).config == first.config


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "x.npz"

    def broken(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert list((tmp_path / "cache").iterdir()) == []


def test_world_contents(latest_dir: Path, synthetic_log: SyntheticLog) -> None:
    world = fit_world(load_log(latest_dir), FAST)
    n = world.config.n_items
    assert world.catalog.n_items == n == world.item_ids.shape[0]
    assert world.catalog.latent.shape == (n, FAST.latent_dim)
    assert world.env_item_ids(world.item_ids).tolist() == list(range(1, n + 1))
    assert world.env_item_ids(np.array([10_000])).tolist() == [0]
    assert np.all(np.abs(world.catalog.quality) <= 1) and world.catalog.popularity.max() == 1.0
    assert np.all(world.catalog.price == 0) and world.config.price_sensitivity == 0
    # Items of genre g get topic g (single-genre items) or their rarer genre.
    names = world.genre_names
    for index, raw in enumerate(world.item_ids[:12]):
        genres = set(np.array(names)[world.item_genres[index]])
        assert GENRES[synthetic_log.item_genre[raw - 1]] in genres
        assert names[world.catalog.topic[index]] in genres
    # Rated high within their taste: engagement follows affinity.
    click = world.meta["fit"]["click"]
    assert click["affinity_scale"] > 0.5 and not click["slope_clamped"]
    cov = world.population.interest_cov_factor
    assert cov is not None and cov.shape == (FAST.latent_dim, FAST.latent_dim)
    assert world.population.feature_projection.shape == (FAST.user_feature_dim, FAST.latent_dim)
    assert world.item_features().shape == (n, len(names) + 3)


def test_primary_topic_is_the_rarest_genre() -> None:
    items = ItemMetadata(
        item_id=np.array([5, 1, 2, 3]),
        genres=np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 0, 0]], dtype=bool),
        genre_names=("Drama", "Noir", "War"),
        year=np.full(4, np.nan),
    )
    # counts: Drama 3, Noir 1, War 1 -> item 5 -> Noir, 2 -> War (tie: earlier Noir absent)
    names, ids, topic = primary_topics(items)
    assert names == ("Drama", "Noir", "War", "unknown")
    assert ids.tolist() == [1, 2, 3, 5]
    assert [names[t] for t in topic] == ["Drama", "War", "unknown", "Noir"]


def test_sessions_and_replayed_satiation() -> None:
    settings = CalibrationSettings(session_gap_minutes=10, max_session_steps=3)
    user = np.array([1, 1, 1, 1, 1, 2, 2])
    time = np.array([0, 60, 120, 180, 10_000, 0, 60])
    topic = np.array([0, 0, 1, 0, 0, 2, 2])
    # User 1: a session of 4 (capped at 3) and one of 1; user 2: one of 2.
    assert sorted(session_lengths(user, time, settings).tolist()) == [1, 2, 3]
    sat = session_satiation(user, time, topic, settings)
    gain, decay = RecEnvConfig.satiation_gain, RecEnvConfig.satiation_decay
    expected_4th = gain * decay**3 + gain * decay**2  # topic 0 shown at steps 0 and 1
    np.testing.assert_allclose(sat, [0, gain * decay, 0, expected_4th, 0, 0, gain * decay])


def test_inlined_leave_hazard_matches_the_simulator() -> None:
    patience = np.linspace(0, 1, 11)
    for base, sensitivity in [(0.0, 0.2), (0.05, 1.0), (0.3, 0.0)]:
        config = RecEnvConfig(leave_base_prob=base, leave_sensitivity=sensitivity)
        np.testing.assert_allclose(
            leave_hazard(patience, np.array(base), np.array(sensitivity)),
            leave_probability(patience, config),
        )


def test_too_little_training_data(latest_dir: Path) -> None:
    log = load_log(latest_dir)
    with pytest.raises(DataError, match="no interactions before the cut"):
        fit_world(log, dataclasses.replace(FAST, cut_time=int(log.time.min())))
