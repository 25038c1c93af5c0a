"""The Gymnasium contract of RecEnv / RecSlateEnv (acceptance 1, 3, 4, 5)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rec_gym
from rec_gym.envs.rec_env import CLICK, FEATURE_CLIP, NO_CLICK, PURCHASE

from .helpers import assert_obs_in_space, assert_plain_info, inner, obs_equal, obs_space

IDS = rec_gym.registered_ids()
#: Settings under which every recommendation is surely clicked.
SURE_CLICK: dict[str, Any] = {"no_click_utility": -1e6}
NO_LEAVING: dict[str, Any] = {"leave_base_prob": 0.0, "leave_sensitivity": 0.0}


# -- acceptance 1: both checkers, warnings as errors -----------------------------------------


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_gymnasium_check_env(env_id: str, render_mode: str | None) -> None:
    # The checkers get the unwrapped env: gymnasium's warns when handed a wrapper.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id, render_mode=render_mode)
        gym_check_env(env.unwrapped, skip_render_check=render_mode is None)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env(env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        sb3_check_env(env.unwrapped, warn=True)


# -- acceptance 3: observations in the space -------------------------------------------------


def _random_walk(env: gym.Env, steps: int, seed: int) -> int:
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]
    assert_plain_info(info)
    episodes = 0
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]
        assert_plain_info(info)
        assert isinstance(reward, float) and np.isfinite(float(reward))
        assert isinstance(terminated, bool) and isinstance(truncated, bool)
        if terminated or truncated:
            episodes += 1
            obs, info = env.reset()
            assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]
    return episodes


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("n_items", [127, 128, 1000, 40000])
def test_observations_in_space(env_id: str, n_items: int) -> None:
    # The oracle info costs a catalog pass per step: on for the small catalogs, off for 40k.
    oracle = n_items <= 1000 if env_id == "RecEnv-v0" else n_items == 128
    env = gym.make(env_id, n_items=n_items, compute_oracle_info=oracle)
    space = obs_space(env)
    ids = space["item_ids"]
    assert isinstance(ids, gym.spaces.Box)
    assert ids.dtype == np.int64 and ids.low.min() == 0 and ids.high.max() == n_items
    episodes = _random_walk(env, 1000, seed=n_items)
    assert episodes >= 1  # resets on episode end were exercised


def test_observation_content_after_steps() -> None:
    env = gym.make("RecEnv-v0", n_items=30, user_feature_dim=3, history_length=4, **NO_LEAVING)
    obs, _ = env.reset(seed=0)
    assert obs["context"][:2].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(obs["item_ids"], 0)
    features = inner(env).hidden_state.features[0]
    np.testing.assert_allclose(
        obs["context"][2:], np.clip(features, -FEATURE_CLIP, FEATURE_CLIP), rtol=1e-6
    )
    clicks = 0
    for t, action in enumerate([4, 9, 2, 7, 1, 0]):
        obs, _, _, _, info = env.step(action)
        clicks += info["click"] > 0
        assert obs["context"][0] == pytest.approx(1 - np.exp(-(t + 1) / 50), rel=1e-6)
        assert obs["context"][1] == pytest.approx(clicks / (t + 1), rel=1e-6)
    # The newest L=4 recommendations, newest last, as ids (action + 1).
    assert obs["item_ids"].tolist() == [3, 8, 2, 1]


# -- acceptance 4: termination versus truncation ---------------------------------------------


@pytest.mark.parametrize("env_id", IDS)
def test_cap_truncates_without_termination(env_id: str) -> None:
    env = gym.make(env_id, max_episode_steps=5, **NO_LEAVING)
    for seed in range(5):
        env.reset(seed=seed)
        for step in range(1, 6):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            assert not terminated
            assert truncated == (step == 5)


@pytest.mark.parametrize("env_id", IDS)
def test_certain_leaving_terminates_after_one_step(env_id: str) -> None:
    env = gym.make(env_id, leave_base_prob=1.0)
    for seed in range(5):
        env.reset(seed=seed)
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert (terminated, truncated) == (True, False)


@pytest.mark.parametrize("env_id", IDS)
def test_leaving_on_the_cap_step_is_terminated(env_id: str) -> None:
    env = gym.make(env_id, leave_base_prob=1.0, max_episode_steps=1)
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
    assert terminated is True
    assert truncated is True  # both happen; terminated tells learners not to bootstrap


# -- acceptance 5: the recommended id enters the history unshifted ---------------------------


def test_sure_click_on_item_one_enters_history() -> None:
    env = gym.make("RecEnv-v0", **SURE_CLICK)
    reset_obs, _ = env.reset(seed=0)
    obs, reward, _, _, info = env.step(0)
    assert info["click"] == 1
    assert float(reward) >= 1.0
    assert not obs_equal(obs, reset_obs)
    assert obs["item_ids"][-1] == 1  # action 0 is item id 1, never the padding 0
    np.testing.assert_array_equal(obs["item_ids"][:-1], 0)
    assert obs["feedback"][-1] in (CLICK, PURCHASE)
    np.testing.assert_array_equal(obs["feedback"][:-1], NO_CLICK)
    assert obs["context"][1] == 1.0  # session click rate


def test_last_item_id_is_n() -> None:
    env = gym.make("RecEnv-v0", n_items=128)
    env.reset(seed=0)
    obs, *_ = env.step(127)
    assert obs["item_ids"][-1] == 128
    assert env.observation_space.contains(obs)


def test_slate_ids_enter_history_in_order() -> None:
    env = gym.make("RecEnv-Slate-v0", n_items=20, slate_size=3, history_length=5, **SURE_CLICK)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(np.array([0, 1, 2]))
    assert obs["item_ids"].tolist() == [0, 0, 1, 2, 3]
    assert info["click"] == 1  # MNL: exactly one click per slate
    assert (obs["feedback"] > 0).sum() == 1
    obs, *_ = env.step(np.array([5, 6, 7]))
    assert obs["item_ids"].tolist() == [2, 3, 6, 7, 8]


def test_history_shorter_than_slate_keeps_newest() -> None:
    env = gym.make("RecEnv-Slate-v0", n_items=20, slate_size=4, history_length=2)
    env.reset(seed=0)
    obs, *_ = env.step(np.array([3, 4, 5, 6]))
    assert obs["item_ids"].tolist() == [6, 7]


# -- actions, render, hidden state, info -----------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 50, 2.0, "3", None, True, np.array([1, 2])])
def test_bad_action_raises_value_error(bad: Any) -> None:
    env = inner(gym.make("RecEnv-v0", n_items=50))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(bad)


def test_step_before_reset_raises() -> None:
    env = inner(gym.make("RecEnv-v0"))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        env.oracle_action("myopic")


def test_render_ansi_returns_readable_line() -> None:
    env = gym.make("RecEnv-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(4)
    text = env.render()
    assert isinstance(text, str)
    assert text.endswith("\n") and text.count("\n") == 1
    assert "items [5]" in text and "reward" in text and "click" in text
    assert inner(gym.make("RecEnv-v0")).render() is None


@pytest.mark.parametrize("env_id", IDS)
def test_hidden_state_only_behind_debug_flag(env_id: str) -> None:
    hidden = {"interest", "satiation", "patience"}
    env = gym.make(env_id)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"item_ids", "feedback", "context"}
    assert not hidden & set(info)
    obs, _, _, _, info = env.step(env.action_space.sample())
    assert not hidden & set(info)
    interest = inner(env).hidden_state.interest[0]
    flat = np.concatenate([v.ravel().astype(np.float64) for v in obs.values()])
    assert not np.isin(interest.astype(np.float32), flat.astype(np.float32)).any()

    debug = gym.make(env_id, debug_info=True)
    debug.reset(seed=0)
    _, _, _, _, info = debug.step(debug.action_space.sample())
    assert hidden <= set(info)
    state = inner(debug).hidden_state
    np.testing.assert_array_equal(info["interest"], state.interest[0])
    np.testing.assert_array_equal(info["satiation"], state.satiation[0])
    assert info["patience"] == state.patience[0]
    info["interest"][:] = 0.0  # a copy: editing info cannot change the user
    assert np.any(state.interest[0] != 0.0)
    assert_plain_info(info)


def test_info_keys_and_regret() -> None:
    env = gym.make("RecEnv-v0")
    env.reset(seed=1)
    for _ in range(30):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert {"click", "purchase", "expected_reward", "duplicates", "session_step"} <= set(info)
        assert info["regret"] == pytest.approx(
            info["best_expected_reward"] - info["expected_reward"]
        )
        assert info["regret"] >= -1e-12  # the myopic best is exact for single items
        assert info["duplicates"] == 0
        if terminated or truncated:
            break
    env = gym.make("RecEnv-v0", compute_oracle_info=False)
    env.reset(seed=1)
    info = env.step(0)[-1]
    assert "best_expected_reward" not in info and "regret" not in info


def test_myopic_action_has_zero_regret() -> None:
    env = gym.make("RecEnv-v0")
    env.reset(seed=2)
    for _ in range(10):
        info = env.step(inner(env).oracle_action("myopic"))[-1]
        assert info["regret"] == pytest.approx(0.0, abs=1e-12)


def test_action_masks_hide_bought_items() -> None:
    env = gym.make("RecEnv-v0", n_items=10, purchase_bias=50.0, **SURE_CLICK, **NO_LEAVING)
    env.reset(seed=0)
    assert inner(env).action_masks().all()
    info = env.step(3)[-1]
    assert info["purchase"] == 1
    mask = inner(env).action_masks()
    assert mask.dtype == bool and mask.shape == (10,)
    assert not mask[3] and mask.sum() == 9
    slate = gym.make("RecEnv-Slate-v0", n_items=10, slate_size=2)
    slate.reset(seed=0)
    assert inner(slate).action_masks().shape == (20,)


def test_returned_observation_is_a_copy() -> None:
    env = gym.make("RecEnv-v0", n_items=20)
    obs, _ = env.reset(seed=0)
    obs["item_ids"][:] = 7
    obs["context"][:] = 9.0
    fresh = env.step(0)[0]
    assert fresh["item_ids"][:-1].tolist() == [0] * 9
    assert fresh["context"][0] < 1.0


# -- the docstring is the documentation page -------------------------------------------------


def test_env_docstring_has_gymnasium_sections_and_runs() -> None:
    import doctest

    from rec_gym.envs import rec_env

    doc = rec_env.RecEnv.__doc__ or ""
    for section in (
        "Description",
        "Action Space",
        "Observation Space",
        "Rewards",
        "Starting State",
        "Episode End",
        "Arguments",
        "Version History",
    ):
        assert f"## {section}" in doc, section
    assert 'gym.make("RecEnv-v0"' in doc
    for key in obs_space(gym.make("RecEnv-v0")).spaces:
        assert f"`{key}`" in doc, f"observation key {key!r} missing from the table"
    # Runs the examples even if pytest's --doctest-modules option were dropped.
    result = doctest.testmod(rec_env, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
