"""One parameter at its extreme moves only its own effect (acceptance 7)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym

from .helpers import inner

IDS = rec_gym.registered_ids()
N_EPISODES = 20


def _episodes(env_id: str, policy: Any = "random", **kwargs: Any) -> list[list[dict[str, Any]]]:
    """Runs N_EPISODES seeded episodes; per step records reward, flags, info and interest."""
    env = gym.make(env_id, compute_oracle_info=False, **kwargs)
    episodes = []
    for seed in range(N_EPISODES):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        steps = []
        done = False
        while not done:
            if policy == "random":
                action = env.action_space.sample()
            else:
                action = inner(env).oracle_action(policy)
            obs, reward, terminated, truncated, info = env.step(action)
            state = inner(env).hidden_state
            steps.append(
                {
                    "reward": reward,
                    "terminated": terminated,
                    "truncated": truncated,
                    "click": info["click"],
                    "purchase": info["purchase"],
                    "item_ids": obs["item_ids"].copy(),
                    "interest": state.interest[0].copy(),
                    "satiation": state.satiation[0].copy(),
                    "patience": float(state.patience[0]),
                }
            )
            done = terminated or truncated
        episodes.append(steps)
    return episodes


@pytest.mark.parametrize("env_id", IDS)
def test_certain_leaving_ends_every_episode_after_one_step(env_id: str) -> None:
    for steps in _episodes(env_id, leave_base_prob=1.0, leave_sensitivity=0.0):
        assert len(steps) == 1
        assert steps[0]["terminated"] and not steps[0]["truncated"]


@pytest.mark.parametrize("env_id", IDS)
def test_no_leaving_never_ends_before_the_cap(env_id: str) -> None:
    # Even the worst policy, which drains patience to zero, keeps the user to the cap.
    for steps in _episodes(env_id, "anti", leave_base_prob=0.0, leave_sensitivity=0.0):
        assert len(steps) == 50
        assert not any(s["terminated"] for s in steps)
        assert steps[-1]["truncated"]
        assert steps[-1]["patience"] < 0.5


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize(
    ("click_reward", "purchase_reward"), [(1.0, 0.0), (0.0, 1.0), (3.0, -2.0), (0.0, 0.0)]
)
def test_reward_weights_change_only_the_reward(
    env_id: str, click_reward: float, purchase_reward: float
) -> None:
    base = _episodes(env_id)
    other = _episodes(env_id, click_reward=click_reward, purchase_reward=purchase_reward)
    assert sum(s["purchase"] for steps in base for s in steps) > 0  # purchases were exercised
    for steps_a, steps_b in zip(base, other, strict=True):
        assert len(steps_a) == len(steps_b)
        for a, b in zip(steps_a, steps_b, strict=True):
            for key in ("click", "purchase", "terminated", "truncated", "patience"):
                assert a[key] == b[key]
            np.testing.assert_array_equal(a["item_ids"], b["item_ids"])
            np.testing.assert_array_equal(a["interest"], b["interest"])
            assert b["purchase"] <= b["click"]
            assert b["reward"] == pytest.approx(
                click_reward * b["click"] + purchase_reward * b["purchase"]
            )


@pytest.mark.parametrize("env_id", IDS)
def test_leaving_parameters_do_not_change_responses(env_id: str) -> None:
    # The leave draw is made every step whatever its probability, so until the first
    # termination the responses are identical with and without leaving.
    stay = _episodes(env_id, leave_base_prob=0.0, leave_sensitivity=0.0)
    leave = _episodes(env_id, leave_base_prob=0.2, leave_sensitivity=1.0)
    assert sum(len(s) for s in leave) < sum(len(s) for s in stay)
    for steps_stay, steps_leave in zip(stay, leave, strict=True):
        for a, b in zip(steps_stay, steps_leave, strict=False):
            assert (a["click"], a["purchase"], a["reward"]) == (
                b["click"],
                b["purchase"],
                b["reward"],
            )


def test_no_drift_keeps_interest_fixed_but_not_satiation() -> None:
    env = gym.make("RecEnv-v0", drift_rate=0.0, no_click_utility=-1e6)
    env.reset(seed=0)
    interest = inner(env).hidden_state.interest.copy()
    for action in range(10):
        env.step(action)
    np.testing.assert_array_equal(inner(env).hidden_state.interest, interest)
    assert inner(env).hidden_state.satiation.sum() > 0.0


def test_no_satiation_gain_keeps_satiation_zero_but_interest_drifts() -> None:
    env = gym.make("RecEnv-v0", satiation_gain=0.0, no_click_utility=-1e6)
    env.reset(seed=0)
    interest = inner(env).hidden_state.interest.copy()
    for action in range(10):
        env.step(action)
    assert not inner(env).hidden_state.satiation.any()
    assert not np.array_equal(inner(env).hidden_state.interest, interest)


def test_no_patience_dynamics_keep_patience_at_start() -> None:
    env = gym.make(
        "RecEnv-v0",
        fatigue_per_step=0.0,
        no_click_penalty=0.0,
        satisfaction_gain=0.0,
        initial_patience=0.6,
    )
    env.reset(seed=0)
    for action in range(20):
        _, _, terminated, _, _ = env.step(action)
        assert inner(env).hidden_state.patience[0] == 0.6
        if terminated:
            break


def test_satiation_weight_zero_removes_boredom_from_affinity() -> None:
    # With satiation_weight=0, repeating one item keeps its expected reward constant
    # (absent drift and purchases); with the default weight it falls.
    def expected_rewards(weight: float) -> list[float]:
        env = gym.make("RecEnv-v0", satiation_weight=weight, drift_rate=0.0, purchase_reward=0.0)
        env.reset(seed=0)
        return [env.step(5)[-1]["expected_reward"] for _ in range(5)]

    flat = expected_rewards(0.0)
    assert flat == pytest.approx([flat[0]] * 5)
    falling = expected_rewards(1.0)
    assert all(b < a for a, b in zip(falling, falling[1:], strict=False))
