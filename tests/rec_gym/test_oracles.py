"""Reference policies on the default world (acceptance 8) and their basic contracts."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401  (registers the ids)
from rec_gym.oracles import anti_oracle_items, myopic_items, planning_items
from rec_gym.simulator import RecSimulator

from .helpers import inner

N_USERS = 200
POLICIES = ("myopic", "random", "anti", "planning")


def _returns(policy: Any) -> np.ndarray:
    """Returns of ``policy`` on the default RecEnv-v0 for users seeded 0..N_USERS-1.

    ``compute_oracle_info=False`` only skips an info field (it draws nothing), so the
    world is the default one; it saves a catalog pass per step.
    """
    env = gym.make("RecEnv-v0", compute_oracle_info=False)
    returns = np.zeros(N_USERS)
    for seed in range(N_USERS):
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        done = False
        while not done:
            if policy == "random":
                action = int(rng.integers(inner(env).config.n_items))
            else:
                action = inner(env).oracle_action(policy)
            _, reward, terminated, truncated, _ = env.step(action)
            returns[seed] += reward
            done = terminated or truncated
    return returns


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


@pytest.mark.slow
def test_oracle_ordering_on_default_world() -> None:
    stats = {policy: _mean_se(_returns(policy)) for policy in POLICIES}
    print(
        f"\nmean return over {N_USERS} users (+- SE): "
        + ", ".join(f"{p} {m:.2f} +- {s:.2f}" for p, (m, s) in stats.items())
    )
    for better, worse in (("myopic", "random"), ("random", "anti")):
        (m_b, s_b), (m_w, s_w) = stats[better], stats[worse]
        gap_se = np.hypot(s_b, s_w)
        assert m_b - m_w > 3 * gap_se, f"{better} {m_b:.2f} vs {worse} {m_w:.2f} (SE {gap_se})"
    assert stats["planning"][0] >= 1.10 * stats["myopic"][0], stats


def test_oracle_info_flag_does_not_change_dynamics() -> None:
    runs = []
    for flag in (True, False):
        env = gym.make("RecEnv-v0", compute_oracle_info=flag)
        env.reset(seed=0)
        env.action_space.seed(0)
        runs.append([env.step(env.action_space.sample())[:4] for _ in range(30)])
    for a, b in zip(*runs, strict=True):
        assert a[1:] == b[1:]
        assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])


def test_oracles_on_the_simulator() -> None:
    env = gym.make("RecEnv-v0", n_items=80)
    env.reset(seed=0)
    sim: RecSimulator = inner(env).simulator
    users = sim.new_users(6, np.random.default_rng(1))
    before = users.copy()
    single = sim.item_expected_rewards(users)
    best = myopic_items(sim, users, 1)[:, 0]
    worst = anti_oracle_items(sim, users, 1)[:, 0]
    rows = np.arange(6)
    np.testing.assert_array_equal(single[rows, best], single.max(axis=1))
    np.testing.assert_array_equal(single[rows, worst], single.min(axis=1))
    plan = planning_items(sim, users, 1, horizon=3, n_candidates=5)
    assert plan.shape == (6, 1) and plan.min() >= 0 and plan.max() < 80
    # Oracles only read the users.
    for field in ("interest", "satiation", "patience", "purchased"):
        np.testing.assert_array_equal(getattr(users, field), getattr(before, field))


def test_planning_horizon_one_is_myopic() -> None:
    env = gym.make("RecEnv-v0")
    env.reset(seed=3)
    for _ in range(5):
        myopic = inner(env).oracle_action("myopic")
        plan = inner(env).oracle_action("planning", horizon=1)
        assert plan == myopic
        env.step(myopic)


def test_oracle_action_kind_is_validated() -> None:
    env = gym.make("RecEnv-v0")
    env.reset(seed=0)
    assert env.action_space.contains(inner(env).oracle_action("anti"))
    with pytest.raises(ValueError, match="kind"):
        inner(env).oracle_action("greedy")  # type: ignore[arg-type]
