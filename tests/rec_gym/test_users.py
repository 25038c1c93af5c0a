"""The user model: sampling, drift, satiation, patience and leaving."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rec_gym.config import RecEnvConfig
from rec_gym.simulator import RecSimulator
from rec_gym.users import leave_probability, update_users


def _sim(**overrides: Any) -> RecSimulator:
    return RecSimulator(RecEnvConfig(n_items=60, **overrides))


def test_sample_users_shapes_and_seeding() -> None:
    sim = _sim(user_feature_dim=3, initial_patience=0.7)
    a = sim.new_users(5, np.random.default_rng(0))
    b = sim.new_users(5, np.random.default_rng(0))
    c = sim.new_users(5, np.random.default_rng(1))
    assert a.interest.shape == (5, 8)
    assert a.satiation.shape == (5, 10) and not a.satiation.any()
    assert a.features.shape == (5, 3)
    assert a.purchased.shape == (5, 60) and not a.purchased.any()
    np.testing.assert_array_equal(a.patience, 0.7)
    np.testing.assert_array_equal(a.interest, b.interest)
    assert not np.array_equal(a.interest, c.interest)


def test_copy_and_repeat_are_independent() -> None:
    sim = _sim()
    user = sim.new_users(1, np.random.default_rng(0))
    many = user.repeat(4)
    assert many.interest.shape == (4, 8)
    copy = user.copy()
    copy.interest += 1.0
    many.satiation += 1.0
    assert not np.array_equal(copy.interest, user.interest)
    assert not user.satiation.any()


def test_interest_drifts_toward_clicked_item_only() -> None:
    sim = _sim(drift_rate=0.5)
    users = sim.new_users(2, np.random.default_rng(0))
    before = users.interest.copy()
    item = np.array([[4], [4]])
    update_users(
        users, sim.catalog, item, np.array([[1.0], [0.0]]), np.zeros((2, 1), bool), sim.config
    )
    target = sim.catalog.latent[4]
    np.testing.assert_allclose(users.interest[0], 0.5 * before[0] + 0.5 * target)
    np.testing.assert_array_equal(users.interest[1], before[1])  # no click, no drift


@pytest.mark.parametrize("drift_rate", [0.3, 1.0])
def test_cascade_drift_with_many_clicks_stays_bounded(drift_rate: float) -> None:
    # Several clicks in one slate move interest toward their mean, never past it.
    sim = _sim(drift_rate=drift_rate, slate_size=5, choice_model="cascade")
    rng = np.random.default_rng(0)
    users = sim.new_users(50, rng)
    bound = max(float(np.linalg.norm(users.interest, axis=1).max()), 1.0)
    for _ in range(300):
        shown = rng.integers(0, 60, size=(50, 5))
        clicks = (rng.random((50, 5)) < 0.9).astype(float)
        update_users(users, sim.catalog, shown, clicks, np.zeros((50, 5), bool), sim.config)
    assert np.all(np.isfinite(users.interest))
    assert np.linalg.norm(users.interest, axis=1).max() <= bound + 1e-9


def test_satiation_rises_on_shown_topic_and_decays() -> None:
    sim = _sim(satiation_gain=1.0, satiation_decay=0.5)
    users = sim.new_users(1, np.random.default_rng(0))
    item = 9
    topic = sim.catalog.topic[item]
    update_users(
        users, sim.catalog, np.array([[item]]), np.zeros((1, 1)), np.zeros((1, 1), bool), sim.config
    )
    expected = np.zeros(10)
    expected[topic] = 0.5
    np.testing.assert_allclose(users.satiation[0], expected)
    other = int(np.flatnonzero(sim.catalog.topic != topic)[0])
    update_users(
        users,
        sim.catalog,
        np.array([[other]]),
        np.zeros((1, 1)),
        np.zeros((1, 1), bool),
        sim.config,
    )
    assert users.satiation[0, topic] == pytest.approx(0.25)
    assert users.satiation[0, sim.catalog.topic[other]] == pytest.approx(0.5)


def test_exposure_mask_blocks_satiation_of_duplicates() -> None:
    sim = _sim(satiation_gain=1.0, satiation_decay=1.0, slate_size=2)
    users = sim.new_users(1, np.random.default_rng(0))
    update_users(
        users,
        sim.catalog,
        np.array([[3, 3]]),
        np.zeros((1, 2)),
        np.zeros((1, 2), bool),
        sim.config,
        exposure=np.array([[True, False]]),
    )
    assert users.satiation[0, sim.catalog.topic[3]] == pytest.approx(1.0)


def test_patience_changes_and_clips() -> None:
    sim = _sim(fatigue_per_step=0.1, no_click_penalty=0.2, satisfaction_gain=0.0)
    users = sim.new_users(2, np.random.default_rng(0))
    shown = np.array([[1], [1]])
    update_users(
        users, sim.catalog, shown, np.array([[1.0], [0.0]]), np.zeros((2, 1), bool), sim.config
    )
    np.testing.assert_allclose(users.patience, [0.9, 0.7])
    for _ in range(10):
        update_users(
            users, sim.catalog, shown, np.zeros((2, 1)), np.zeros((2, 1), bool), sim.config
        )
    np.testing.assert_array_equal(users.patience, 0.0)


def test_purchases_are_recorded() -> None:
    sim = _sim()
    users = sim.new_users(2, np.random.default_rng(0))
    update_users(
        users,
        sim.catalog,
        np.array([[5], [6]]),
        np.ones((2, 1)),
        np.array([[True], [False]]),
        sim.config,
    )
    assert users.purchased[0, 5] and not users.purchased[1, 6]
    assert users.purchased.sum() == 1


@pytest.mark.parametrize("base", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("sensitivity", [0.0, 0.5, 1.0])
def test_leave_probability_in_unit_interval(base: float, sensitivity: float) -> None:
    config = RecEnvConfig(leave_base_prob=base, leave_sensitivity=sensitivity)
    patience = np.array([-0.5, 0.0, 0.3, 1.0, 1.5])
    prob = leave_probability(patience, config)
    assert np.all((prob >= 0.0) & (prob <= 1.0))
    assert np.all(np.diff(prob) <= 0.0)  # more patience, less leaving
    assert prob[3] == pytest.approx(base)
    assert prob[1] == pytest.approx(base + (1 - base) * sensitivity)
