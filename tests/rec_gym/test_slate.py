"""The slate variant: duplicates, the MNL and cascade choice models (acceptance 9)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401  (registers the ids)

from .helpers import inner

SURE_CLICK: dict[str, Any] = {"no_click_utility": -1e6}


@pytest.mark.parametrize("choice_model", ["mnl", "cascade"])
def test_repeated_items_are_counted_and_clicked_once(choice_model: str) -> None:
    env = gym.make(
        "RecEnv-Slate-v0",
        n_items=20,
        slate_size=5,
        choice_model=choice_model,
        cascade_continue_prob=1.0,
        **SURE_CLICK,
    )
    env.reset(seed=0)
    slate = np.array([3, 3, 3, 5, 5])
    obs, reward, _, _, info = env.step(slate)
    assert info["duplicates"] == 3
    assert obs["item_ids"][-5:].tolist() == [4, 4, 4, 6, 6]  # every position enters the history
    feedback = obs["feedback"][-5:]
    assert feedback[[1, 2, 4]].tolist() == [0, 0, 0]  # repeats cannot be clicked
    if choice_model == "mnl":
        assert info["click"] == 1
    else:  # sure clicks and a scan that always continues: each unique item once
        assert info["click"] == 2
        assert feedback[0] > 0 and feedback[3] > 0
    assert np.isfinite(float(reward)) and float(reward) >= info["click"]


@pytest.mark.parametrize("choice_model", ["mnl", "cascade"])
def test_random_slates_with_repeats_never_click_a_repeat(choice_model: str) -> None:
    env = gym.make("RecEnv-Slate-v0", n_items=4, slate_size=4, choice_model=choice_model)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    total_duplicates = 0
    for _ in range(300):
        slate = rng.integers(0, 4, size=4)
        obs, _, terminated, truncated, info = env.step(slate)
        unique = len(set(slate.tolist()))
        assert info["duplicates"] == 4 - unique
        total_duplicates += info["duplicates"]
        assert info["click"] <= (1 if choice_model == "mnl" else unique)
        feedback = obs["feedback"][-4:]
        seen: set[int] = set()
        for position, item in enumerate(slate.tolist()):
            if item in seen:
                assert feedback[position] == 0
            seen.add(item)
        if terminated or truncated:
            env.reset()
    assert total_duplicates > 0


def test_duplicates_add_no_satiation() -> None:
    def satiation(slate: list[int]) -> float:
        env = gym.make(
            "RecEnv-Slate-v0",
            n_items=20,
            slate_size=len(slate),
            satiation_gain=1.0,
            satiation_decay=1.0,
        )
        env.reset(seed=0)
        env.step(np.array(slate))
        return float(inner(env).hidden_state.satiation.sum())

    assert satiation([2, 2, 2]) == pytest.approx(1.0)
    assert satiation([2]) == pytest.approx(1.0)


def test_duplicate_slate_expected_reward_equals_deduplicated_slate() -> None:
    def expected(slate: list[int]) -> float:
        env = gym.make("RecEnv-Slate-v0", n_items=20, slate_size=len(slate))
        env.reset(seed=0)
        return float(env.step(np.array(slate))[-1]["expected_reward"])

    assert expected([7, 7, 7]) == pytest.approx(expected([7]))


def test_mnl_clicks_at_most_once_cascade_can_click_several() -> None:
    many = {"cascade": 0, "mnl": 0}
    for model in many:
        env = gym.make(
            "RecEnv-Slate-v0", choice_model=model, no_click_utility=-2.0, leave_base_prob=0.0
        )
        env.reset(seed=0)
        env.action_space.seed(0)
        for _ in range(200):
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            assert info["purchase"] <= info["click"]
            many[model] = max(many[model], info["click"])
            if terminated or truncated:
                env.reset()
    assert many["mnl"] == 1
    assert many["cascade"] > 1


def test_slate_oracles_return_valid_slates() -> None:
    env = gym.make("RecEnv-Slate-v0", n_items=60)
    env.reset(seed=0)
    for kind in ("myopic", "planning", "anti"):
        action = inner(env).oracle_action(kind)
        assert env.action_space.contains(action)
        assert len(set(action.tolist())) == len(action)  # no repeats
    info = env.step(inner(env).oracle_action("myopic"))[-1]
    assert info["regret"] == pytest.approx(0.0, abs=1e-12)
