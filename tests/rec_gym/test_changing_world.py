"""The changing world: interest shift and drift, new items, delayed conversions."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401 (registers the envs)
from rec_gym.config import RecEnvConfig
from rec_gym.envs.rec_env import CLICK, PURCHASE
from rec_gym.world import WorldSchedule

SMALL = {"n_items": 40, "compute_oracle_info": True}


def _rollout(
    steps: int, actions: np.ndarray, seed: int = 0, limit: int = 50, **kwargs: Any
) -> list[dict[str, Any]]:
    """Plays a fixed action sequence across episodes; one record per step."""
    if kwargs.get("purchase_delay"):
        kwargs["session_limit"] = limit
    env = gym.make("RecEnv-v0", max_episode_steps=limit, **SMALL, **kwargs)
    base = env.unwrapped
    obs, _ = env.reset(seed=seed)
    records = []
    episode = 0
    for t in range(steps):
        user_mean = base.population_mean()
        obs, reward, terminated, truncated, info = env.step(int(actions[t]))
        records.append(
            {
                "reward": reward,
                "info": info,
                "obs": obs,
                "episode": episode,
                "done": terminated or truncated,
                "mean": user_mean,
                "interest": base.hidden_state.interest[0].copy(),
                "mask": base.action_masks(),
            }
        )
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + 1000 * episode)
    return records


def _features_at_resets(steps: int, seed: int, **kwargs: Any) -> list[np.ndarray]:
    """The observed user features of every user met in ``steps`` world steps (5 each)."""
    env = gym.make("RecEnv-v0", max_episode_steps=5, leave_sensitivity=0.0, **SMALL, **kwargs)
    features = []
    obs, _ = env.reset(seed=seed)
    features.append(obs["context"][2:].copy())
    for t in range(steps):
        _, _, terminated, truncated, _ = env.step(t % 40)
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + t + 1)
            features.append(obs["context"][2:].copy())
    return features


def test_schedule_fractions_and_direction_from_world_seed() -> None:
    abrupt = WorldSchedule(RecEnvConfig(shift_step=5, shift_magnitude=2.0))
    assert [abrupt.shift_fraction(t) for t in (0, 4, 5, 100)] == [0.0, 0.0, 1.0, 1.0]
    np.testing.assert_allclose(np.linalg.norm(abrupt.mean_offset(5)), 2.0)
    assert np.all(abrupt.mean_offset(4) == 0.0)
    gradual = WorldSchedule(RecEnvConfig(shift_step=10, shift_duration=20))
    np.testing.assert_allclose(
        [gradual.shift_fraction(t) for t in (9, 10, 15, 20, 30, 31)],
        [0.0, 0.0, 0.25, 0.5, 1.0, 1.0],
    )
    never = WorldSchedule(RecEnvConfig())
    assert never.shift_fraction(10**9) == 0.0
    same = WorldSchedule(RecEnvConfig(catalog_seed=3, shift_step=0)).direction
    other = WorldSchedule(RecEnvConfig(catalog_seed=4, shift_step=0)).direction
    np.testing.assert_array_equal(same, WorldSchedule(RecEnvConfig(catalog_seed=3)).direction)
    assert not np.allclose(same, other)


def test_shift_moves_population_mean_at_step_and_not_before() -> None:
    shift_at = 37
    actions = np.random.default_rng(1).integers(0, 40, size=80)
    plain = _rollout(80, actions)
    shifted = _rollout(80, actions, shift_step=shift_at, shift_magnitude=3.0)
    for t in range(80):
        moved = np.linalg.norm(shifted[t]["mean"] - plain[t]["mean"])
        if t < shift_at:
            assert moved == 0.0
            # Same seed: identical trajectories before the shift.
            assert shifted[t]["reward"] == plain[t]["reward"]
            np.testing.assert_array_equal(
                shifted[t]["obs"]["item_ids"], plain[t]["obs"]["item_ids"]
            )
            np.testing.assert_array_equal(shifted[t]["interest"], plain[t]["interest"])
        else:
            np.testing.assert_allclose(moved, 3.0)


def test_new_users_after_shift_come_from_the_moved_population() -> None:
    # Without moving the current user: users drawn after the shift differ by the offset.
    kwargs = {"shift_step": 20, "shift_magnitude": 2.0}
    plain = _features_at_resets(60, seed=3, user_feature_noise=0.0)
    shifted = _features_at_resets(60, seed=3, user_feature_noise=0.0, **kwargs)
    assert len(plain) == len(shifted) == 13  # a new user every 5 steps
    env = gym.make("RecEnv-v0", **SMALL, **kwargs).unwrapped  # type: ignore[arg-type]
    offset = WorldSchedule(env.config).mean_offset(20)
    expected_shift = env.simulator.population.feature_projection @ offset
    for index, (before, after) in enumerate(zip(plain, shifted, strict=True)):
        if index * 5 < 20:
            np.testing.assert_array_equal(before, after)
        else:
            np.testing.assert_allclose(
                np.clip(before + expected_shift, -5, 5), after, atol=1e-5, rtol=1e-5
            )


def test_current_user_moves_with_gradual_drift() -> None:
    env = gym.make(
        "RecEnv-v0",
        **SMALL,
        shift_step=3,
        shift_duration=4,
        shift_magnitude=2.0,
        shift_current_user=True,
        drift_rate=0.0,
        leave_base_prob=0.0,
        leave_sensitivity=0.0,
    ).unwrapped
    env.reset(seed=0)
    start = env.hidden_state.interest[0].copy()
    direction = WorldSchedule(env.config).direction
    for t in range(10):
        env.step(0)
        # Drift interpolates linearly: at world step t the user has moved fraction(t).
        fraction = min(max((t - 3) / 4, 0.0), 1.0)
        np.testing.assert_allclose(
            env.hidden_state.interest[0], start + 2.0 * fraction * direction, atol=1e-12
        )
    np.testing.assert_allclose(
        env.population_mean(), env.simulator.population.mean_interest + 2.0 * direction
    )


def test_new_items_inactive_masked_and_never_clicked_before_their_step() -> None:
    n_new, enters = 5, 30
    env = gym.make(
        "RecEnv-v0",
        **SMALL,
        n_new_items=n_new,
        new_items_step=enters,
        affinity_scale=50.0,  # every active item would be clicked almost surely
        no_click_utility=-20.0,
        leave_sensitivity=0.0,
    ).unwrapped
    new = env.new_items
    np.testing.assert_array_equal(new, np.arange(35, 40))
    assert env.action_space.n == 40  # ids reserved up front: the spaces never change
    env.reset(seed=0)
    clicks_new_before = clicks_new_after = 0
    for t in range(60):
        mask = env.action_masks()
        assert mask[new].any() == (t >= enters)
        item = int(new[t % n_new])
        _, _, terminated, _, info = env.step(item)
        if t < enters:
            clicks_new_before += info["click"]
            assert info["expected_reward"] == 0.0
            assert env.oracle_action("myopic") not in new
        else:
            clicks_new_after += info["click"]
        if terminated:
            env.reset()
    assert clicks_new_before == 0
    assert clicks_new_after > 0


def _delay_pair(delay: int, limit: int, seed: int) -> tuple[list, list]:
    actions = np.random.default_rng(seed).integers(0, 40, size=400)
    kwargs = {"purchase_bias": 2.0, "no_click_utility": -2.0, "leave_base_prob": 0.02}
    now = _rollout(400, actions, seed=seed, limit=limit, **kwargs)
    later = _rollout(400, actions, seed=seed, limit=limit, purchase_delay=delay, **kwargs)
    return now, later


@pytest.mark.parametrize("delay", [1, 3])
def test_delayed_purchase_reward_is_credited_delay_steps_later(delay: int) -> None:
    now, later = _delay_pair(delay, limit=25, seed=delay)
    purchase_reward = RecEnvConfig().purchase_reward
    purchases = sum(r["info"]["purchase"] for r in now)
    assert purchases > 10
    by_episode: dict[int, list[int]] = {}
    for t, record in enumerate(now):
        by_episode.setdefault(record["episode"], []).append(t)
    for steps in by_episode.values():
        if not now[steps[-1]]["done"]:
            continue  # the last, unfinished episode
        due = np.zeros(len(steps))
        for i, t in enumerate(steps):
            assert later[t]["info"]["purchase"] == now[t]["info"]["purchase"]  # at click time
            if now[t]["info"]["purchase"]:
                due[min(i + delay, len(steps) - 1)] += purchase_reward
        for i, t in enumerate(steps):
            immediate = now[t]["reward"] - purchase_reward * now[t]["info"]["purchase"]
            assert later[t]["reward"] == pytest.approx(immediate + due[i])
            assert later[t]["info"]["delayed_reward"] == pytest.approx(due[i])
        # Nothing is lost: the session's return equals the undelayed one.
        assert sum(later[t]["reward"] for t in steps) == pytest.approx(
            sum(now[t]["reward"] for t in steps)
        )
        assert later[steps[-1]]["info"]["pending_reward"] == 0.0


def test_delayed_purchase_is_revealed_in_history_when_credited() -> None:
    now, later = _delay_pair(2, limit=50, seed=7)
    bought = [
        t
        for t, r in enumerate(now)
        if r["info"]["purchase"] and t + 2 < len(now) and now[t + 2]["episode"] == r["episode"]
    ]
    assert bought
    for t in bought:
        assert now[t]["obs"]["feedback"][-1] == PURCHASE
        assert later[t]["obs"]["feedback"][-1] == CLICK  # not yet known
        assert later[t + 2]["obs"]["feedback"][-3] == PURCHASE  # credited two steps later


def test_slate_env_delay_and_new_items() -> None:
    env = gym.make(
        "RecEnv-Slate-v0",
        n_items=30,
        slate_size=3,
        n_new_items=3,
        new_items_step=4,
        purchase_delay=2,
        purchase_bias=3.0,
        no_click_utility=-3.0,
        max_episode_steps=10,
        session_limit=10,
    )
    env.reset(seed=0)
    total_bought = 0
    credited = 0.0
    for t in range(10):
        obs, reward, terminated, truncated, info = env.step(np.array([27, 28, 29]))
        if t < 4:
            assert info["click"] == 0
        total_bought += info["purchase"]
        credited += info["delayed_reward"]
        if terminated or truncated:
            break
    assert credited == pytest.approx(2.0 * total_bought)


def test_default_world_is_unchanged_and_static() -> None:
    config = RecEnvConfig()
    assert not config.changing_world
    env = gym.make("RecEnv-v0", **SMALL).unwrapped
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    assert "world_step" not in info and "delayed_reward" not in info
    assert env.simulator.catalog is env.simulator.full_catalog


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("shift_step", -2),
        ("shift_duration", -1),
        ("shift_magnitude", -0.5),
        ("shift_magnitude", float("nan")),
        ("n_new_items", 40),
        ("n_new_items", -1),
        ("new_items_step", -2),
        ("purchase_delay", -1),
        ("shift_current_user", 1),
    ],
)
def test_config_validation_names_parameter(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        RecEnvConfig(n_items=40, **{name: value})


@pytest.mark.parametrize(
    "option", [{"shift_step": 5}, {"n_new_items": 2, "new_items_step": 5}, {"purchase_delay": 2}]
)
def test_batched_env_refuses_changing_world(option: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=f'{next(iter(option))}.*vectorization_mode="sync"'):
        gym.make_vec("RecEnv-v0", num_envs=2, vectorization_mode="vector_entry_point", **option)
    envs = gym.make_vec("RecEnv-v0", num_envs=2, vectorization_mode="sync", n_items=20, **option)
    envs.reset(seed=0)
    envs.step(np.array([0, 1]))
    envs.close()
