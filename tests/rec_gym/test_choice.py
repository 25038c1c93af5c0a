"""The choice model: click/purchase probabilities and response sampling (acceptance 6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rec_gym.choice import (
    click_probability,
    first_occurrence,
    marginal_click_probability,
    purchase_probability,
    response_probabilities,
    sample_response,
    scaled_affinity,
    sigmoid,
)
from rec_gym.config import RecEnvConfig
from rec_gym.items import ItemCatalog, generate_catalog
from rec_gym.simulator import RecSimulator
from rec_gym.users import UserState

N_USERS = 10_000
#: Affinity offsets, increasing; probabilities must not decrease along them.
DELTAS = np.array([-1e9, -1e4, -50.0, -5.0, -1.0, -0.1, 0.0, 0.1, 1.0, 5.0, 50.0, 1e4, 1e9])
#: (choice model, slate size): MNL single, MNL slate, cascade slate.
MODELS = [("mnl", 1), ("mnl", 4), ("cascade", 4)]


def _world(choice_model: Any, slate_size: int, **overrides: Any) -> RecSimulator:
    config = RecEnvConfig(
        n_items=300, choice_model=choice_model, slate_size=slate_size, **overrides
    )
    return RecSimulator(config)


def _random_users(sim: RecSimulator, rng: np.random.Generator) -> UserState:
    users = sim.new_users(N_USERS, rng)
    users.satiation[:] = rng.exponential(1.0, size=users.satiation.shape)
    users.purchased[:] = rng.random(users.purchased.shape) < 0.05
    return users


def _opposed_users(catalog: ItemCatalog, items: np.ndarray, scale: float) -> UserState:
    """Users whose interest is ``-scale`` times the sum of their slate's item vectors."""
    interest = -scale * catalog.latent[items].sum(axis=1)
    batch = items.shape[0]
    return UserState(
        interest=interest,
        satiation=np.full((batch, catalog.n_topics), 10.0),
        patience=np.zeros(batch),
        features=np.zeros((batch, 0)),
        purchased=np.zeros((batch, catalog.n_items), dtype=bool),
    )


def _positive_catalog(sim: RecSimulator) -> ItemCatalog:
    """The simulator's catalog with every item vector in the positive orthant."""
    cat = sim.catalog
    return ItemCatalog(
        latent=np.abs(cat.latent) + 1e-3,
        appeal=cat.appeal,
        quality=cat.quality,
        topic=cat.topic,
        price=cat.price,
        quality_score=cat.quality_score,
        popularity=cat.popularity,
        n_topics=cat.n_topics,
    )


def _probabilities(
    aff: np.ndarray, items: np.ndarray, purchased: np.ndarray, sim: RecSimulator
) -> tuple[np.ndarray, np.ndarray]:
    valid = first_occurrence(items)
    with np.errstate(all="raise", under="ignore"):
        click = marginal_click_probability(click_probability(aff, valid, sim.config), sim.config)
        purchase = purchase_probability(aff, items, purchased, sim.catalog, sim.config)
    return click, purchase


def _assert_valid(prob: np.ndarray) -> None:
    assert np.all(np.isfinite(prob))
    assert prob.min() >= 0.0
    assert prob.max() <= 1.0


def _assert_monotone_in_own_affinity(
    aff: np.ndarray, items: np.ndarray, purchased: np.ndarray, sim: RecSimulator
) -> None:
    """Shifts each position's affinity alone by DELTAS; its probabilities must not fall."""
    for position in range(items.shape[1]):
        clicks, purchases = [], []
        for delta in DELTAS:
            shifted = aff.copy()
            shifted[:, position] += delta
            click, purchase = _probabilities(shifted, items, purchased, sim)
            _assert_valid(click)
            _assert_valid(purchase)
            clicks.append(click[:, position])
            purchases.append(purchase[:, position])
        assert np.all(np.diff(np.stack(clicks), axis=0) >= 0.0)
        assert np.all(np.diff(np.stack(purchases), axis=0) >= 0.0)
    # The extremes saturate: hopeless items are never clicked; an irresistible first item
    # among hopeless ones surely is.
    hopeless = np.full_like(aff, -1e9)
    click_low, _ = _probabilities(hopeless, items, purchased, sim)
    assert click_low.max() == 0.0
    hopeless[:, 0] = 1e9
    click_high, _ = _probabilities(hopeless, items, purchased, sim)
    assert np.all(click_high[:, 0] == 1.0)


@pytest.mark.parametrize(("choice_model", "slate_size"), MODELS)
def test_probabilities_valid_and_monotone_random_users(choice_model: str, slate_size: int) -> None:
    sim = _world(choice_model, slate_size)
    rng = np.random.default_rng(1)
    users = _random_users(sim, rng)
    items = rng.integers(0, sim.config.n_items, size=(N_USERS, slate_size))
    items[: N_USERS // 10, -1] = items[: N_USERS // 10, 0]  # some slates repeat an item
    aff = scaled_affinity(users, sim.catalog, items, sim.config)
    click, purchase = _probabilities(aff, items, users.purchased, sim)
    _assert_valid(click)
    _assert_valid(purchase)
    _assert_monotone_in_own_affinity(aff, items, users.purchased, sim)


@pytest.mark.parametrize(("choice_model", "slate_size"), MODELS)
@pytest.mark.parametrize("scale", [1e3, 1e6, 1e12])
def test_probabilities_valid_and_monotone_adversarial_users(
    choice_model: str, slate_size: int, scale: float
) -> None:
    sim = _world(choice_model, slate_size)
    rng = np.random.default_rng(2)
    items = rng.integers(0, sim.config.n_items, size=(N_USERS, slate_size))
    # Items in the positive orthant, interest along -(1, ..., 1): opposed to every item.
    positive = _positive_catalog(sim)
    sim_pos = RecSimulator(sim.config, catalog=positive, population=sim.population)
    users = _opposed_users(positive, items, 1.0)
    users.interest[:] = -scale
    aff = scaled_affinity(users, positive, items, sim.config)
    assert aff.max() < 0.0
    click, purchase = _probabilities(aff, items, users.purchased, sim_pos)
    _assert_valid(click)
    _assert_valid(purchase)
    _assert_monotone_in_own_affinity(aff, items, users.purchased, sim_pos)
    # Default catalog, interest opposed to the slate's own items.
    users = _opposed_users(sim.catalog, items, scale)
    aff = scaled_affinity(users, sim.catalog, items, sim.config)
    click, purchase = _probabilities(aff, items, users.purchased, sim)
    _assert_valid(click)
    _assert_valid(purchase)
    _assert_monotone_in_own_affinity(aff, items, users.purchased, sim)
    # And the mirror image: users who love every item get valid (saturated) probabilities.
    users.interest *= -1.0
    aff = scaled_affinity(users, sim.catalog, items, sim.config)
    click, purchase = _probabilities(aff, items, users.purchased, sim)
    _assert_valid(click)
    _assert_valid(purchase)


def test_single_item_click_is_sorted_sigmoid_of_affinity() -> None:
    sim = _world("mnl", 1)
    rng = np.random.default_rng(3)
    users = _random_users(sim, rng)
    items = rng.integers(0, sim.config.n_items, size=(N_USERS, 1))
    aff = scaled_affinity(users, sim.catalog, items, sim.config)[:, 0]
    click, _ = _probabilities(aff[:, None], items, users.purchased, sim)
    order = np.argsort(aff, kind="stable")
    assert np.all(np.diff(click[order, 0]) >= 0.0)  # monotone across all users at once
    expected = sigmoid(sim.config.affinity_scale * aff - sim.config.no_click_utility)
    np.testing.assert_allclose(click[:, 0], expected, rtol=1e-12, atol=1e-15)


def test_sigmoid_is_stable_and_symmetric() -> None:
    x = np.array([-1e308, -745.0, -50.0, -1.0, 0.0, 1.0, 50.0, 745.0, 1e308])
    with np.errstate(all="raise", under="ignore"):
        y = sigmoid(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y + sigmoid(-x), 1.0)
    assert y[0] == 0.0 and y[-1] == 1.0 and y[4] == 0.5


def test_mnl_slate_probabilities_sum_to_at_most_one() -> None:
    sim = _world("mnl", 6, position_bias=0.01)
    rng = np.random.default_rng(4)
    users = sim.new_users(500, rng)
    items = rng.integers(0, sim.config.n_items, size=(500, 6))
    click, _, _, valid = response_probabilities(users, sim.catalog, items, sim.config)
    assert np.all(click.sum(axis=1) <= 1.0 + 1e-12)
    assert np.all(click[~valid] == 0.0)


def test_long_slate_with_tiny_position_bias_raises_no_warning() -> None:
    config = RecEnvConfig(n_items=400, slate_size=300, position_bias=0.01)
    sim = RecSimulator(config)
    rng = np.random.default_rng(5)
    users = sim.new_users(2, rng)
    items = np.stack([rng.permutation(400)[:300] for _ in range(2)])
    with np.errstate(all="raise", under="ignore"):
        click, _, _, _ = response_probabilities(users, sim.catalog, items, config)
    _assert_valid(click)
    assert click[:, 0].min() > 0.0


def test_purchase_probability_zero_for_bought_items() -> None:
    sim = _world("mnl", 1)
    rng = np.random.default_rng(6)
    users = sim.new_users(10, rng)
    users.purchased[:, 7] = True
    items = np.full((10, 1), 7)
    aff = scaled_affinity(users, sim.catalog, items, sim.config)
    assert np.all(purchase_probability(aff, items, users.purchased, sim.catalog, sim.config) == 0)


def test_first_occurrence_marks_only_repeats() -> None:
    items = np.array([[3, 3, 5, 3, 5], [1, 2, 3, 4, 5]])
    expected = np.array([[1, 0, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(first_occurrence(items), expected)


@pytest.mark.parametrize(("choice_model", "slate_size"), MODELS)
def test_sampled_click_rates_match_probabilities(choice_model: str, slate_size: int) -> None:
    sim = _world(choice_model, slate_size)
    rng = np.random.default_rng(7)
    one = sim.new_users(1, rng)
    users = one.repeat(40_000)
    items = np.broadcast_to(np.arange(slate_size) * 7 + 3, (40_000, slate_size)).copy()
    response = sample_response(users, sim.catalog, items, sim.config, rng)
    rate = response.clicks.mean(axis=0)
    # 5 binomial standard errors per position.
    tolerance = 5 * np.sqrt(response.click_prob[0] * (1 - response.click_prob[0]) / 40_000)
    assert np.all(np.abs(rate - response.click_prob[0]) <= tolerance + 1e-9)
    clicked = response.clicks > 0
    if choice_model == "mnl":
        assert response.clicks.sum(axis=1).max() <= 1.0
    assert np.all(response.purchases <= clicked)
    buy_rate = response.purchases.sum(axis=0) / np.maximum(clicked.sum(axis=0), 1)
    p_buy = response.purchase_prob[0]
    n_clicked = np.maximum(clicked.sum(axis=0), 1)
    assert np.all(np.abs(buy_rate - p_buy) <= 5 * np.sqrt(p_buy * (1 - p_buy) / n_clicked) + 1e-9)


def test_generate_catalog_is_seeded() -> None:
    config = RecEnvConfig(n_items=50)
    a = generate_catalog(config, np.random.default_rng(0))
    b = generate_catalog(config, np.random.default_rng(0))
    c = generate_catalog(config, np.random.default_rng(1))
    np.testing.assert_array_equal(a.latent, b.latent)
    assert not np.array_equal(a.latent, c.latent)
    assert a.public_features().shape == (50, config.n_topics + 3)
    assert np.all(np.abs(a.quality) <= 1.0) and np.all((a.price >= 0) & (a.price <= 1))
