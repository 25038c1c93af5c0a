"""The numpy simulator core: seeded stepping of a batch of users."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rec_gym.config import RecEnvConfig
from rec_gym.simulator import RecSimulator


@pytest.mark.parametrize(("choice_model", "slate_size"), [("mnl", 1), ("mnl", 3), ("cascade", 3)])
def test_step_depends_only_on_the_passed_generator(choice_model: Any, slate_size: int) -> None:
    sim = RecSimulator(RecEnvConfig(n_items=40, slate_size=slate_size, choice_model=choice_model))

    def run(global_seed: int, seed: int) -> list[np.ndarray]:
        np.random.seed(global_seed)  # noqa: NPY002  (must not matter)
        rng = np.random.default_rng(seed)
        users = sim.new_users(16, rng)
        record = []
        for _ in range(20):
            items = rng.integers(0, 40, size=(16, slate_size))
            out = sim.step(users, items, rng)
            record += [out.response.clicks, out.response.purchases, out.reward, out.left]
        return [*record, users.interest, users.patience]

    a, b, c = run(1, 0), run(2, 0), run(1, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_step_leaves_global_random_state_alone() -> None:
    sim = RecSimulator(RecEnvConfig(n_items=40, slate_size=3, choice_model="cascade"))
    np.random.seed(0)  # noqa: NPY002
    expected = np.random.random(5)  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    rng = np.random.default_rng(0)
    users = sim.new_users(8, rng)
    for _ in range(10):
        sim.step(users, rng.integers(0, 40, size=(8, 3)), rng)
    np.testing.assert_array_equal(np.random.random(5), expected)  # noqa: NPY002


def test_step_outcome_shapes_and_consistency() -> None:
    sim = RecSimulator(RecEnvConfig(n_items=40, slate_size=4))
    rng = np.random.default_rng(0)
    users = sim.new_users(32, rng)
    items = rng.integers(0, 40, size=(32, 4))
    out = sim.step(users, items, rng)
    assert out.response.clicks.shape == (32, 4)
    assert out.reward.shape == out.left.shape == out.duplicates.shape == (32,)
    np.testing.assert_allclose(
        out.reward, out.response.clicks.sum(1) + 2.0 * out.response.purchases.sum(1)
    )
    unique = np.array([len(set(row)) for row in items.tolist()])
    np.testing.assert_array_equal(out.duplicates, 4 - unique)
    assert np.all(out.expected_reward >= 0.0)
