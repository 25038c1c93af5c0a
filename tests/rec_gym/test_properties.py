"""Property-based tests over valid configurations and random action sequences."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rec_gym  # noqa: F401  (registers the ids)
from rec_gym.choice import response_probabilities
from rec_gym.config import RecEnvConfig
from rec_gym.simulator import RecSimulator
from rec_gym.users import update_users

from .helpers import assert_obs_in_space, assert_plain_info, inner

STEPS = 25
unit = st.floats(0.0, 1.0)


@st.composite
def env_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid env configuration, varying the fields that shape the dynamics."""
    n_items = draw(st.integers(1, 300))
    slate = n_items > 1 and draw(st.booleans())
    kwargs: dict[str, Any] = {
        "n_items": n_items,
        "n_topics": draw(st.integers(1, 12)),
        "latent_dim": draw(st.integers(1, 8)),
        "history_length": draw(st.integers(1, 8)),
        "user_feature_dim": draw(st.integers(0, 4)),
        "interest_scale": draw(st.floats(0.0, 20.0)),
        "drift_rate": draw(unit),
        "satiation_gain": draw(st.floats(0.0, 5.0)),
        "satiation_decay": draw(unit),
        "satiation_weight": draw(st.floats(0.0, 5.0)),
        "affinity_scale": draw(st.floats(0.01, 20.0)),
        "no_click_utility": draw(st.floats(-20.0, 20.0)),
        "leave_base_prob": draw(st.floats(0.0, 0.2)),
        "leave_sensitivity": draw(unit),
        "satisfaction_gain": draw(st.floats(0.0, 1.0)),
        "click_reward": draw(st.floats(-5.0, 5.0)),
        "purchase_reward": draw(st.floats(-5.0, 5.0)),
        "purchase_bias": draw(st.floats(-10.0, 10.0)),
        "compute_oracle_info": draw(st.booleans()),
        "debug_info": True,
    }
    if slate:
        kwargs["slate_size"] = draw(st.integers(1, min(n_items, 6)))
        kwargs["choice_model"] = draw(st.sampled_from(["mnl", "cascade"]))
        kwargs["position_bias"] = draw(st.floats(0.01, 1.0))
        kwargs["cascade_continue_prob"] = draw(unit)
    return kwargs


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(kwargs=env_kwargs(), seed=st.integers(0, 2**32 - 1))
def test_random_rollouts_stay_valid(kwargs: dict[str, Any], seed: int) -> None:
    env_id = "RecEnv-Slate-v0" if "slate_size" in kwargs else "RecEnv-v0"
    env = gym.make(env_id, max_episode_steps=STEPS, **kwargs)
    rec = inner(env)
    config = rec.config
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    # Drift is a convex step toward unit item vectors: interest never grows past this.
    bound = max(float(np.linalg.norm(rec.hidden_state.interest)), 1.0) + 1e-9
    assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]
    with np.errstate(all="raise", under="ignore"):
        for _ in range(2 * STEPS):
            items = rng.integers(0, config.n_items, size=config.slate_size)
            state = rec.hidden_state
            click, marginal, purchase, valid = response_probabilities(
                state, rec.simulator.catalog, items[None, :], config
            )
            for prob in (click, marginal, purchase):
                assert np.all(np.isfinite(prob))
                assert np.all((prob >= 0.0) & (prob <= 1.0))
            assert np.all(marginal[~valid] == 0.0)
            if config.choice_model == "mnl":
                assert marginal.sum() <= 1.0 + 1e-9
            action = (
                items if config.slate_size > 1 or env_id.endswith("Slate-v0") else int(items[0])
            )
            obs, reward, terminated, truncated, info = env.step(action)
            assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]
            assert_plain_info(info)
            unique = len(set(items.tolist()))
            assert 0 <= info["purchase"] <= info["click"] <= unique
            assert info["duplicates"] == config.slate_size - unique
            assert reward == pytest.approx(
                config.click_reward * info["click"] + config.purchase_reward * info["purchase"],
                rel=1e-12,
                abs=1e-12,
            )
            if "best_expected_reward" in info and config.slate_size == 1:
                assert info["regret"] >= -1e-9
            for hidden in (state.interest, state.satiation, state.patience):
                assert np.all(np.isfinite(hidden))
            assert np.all((state.patience >= 0.0) & (state.patience <= 1.0))
            assert np.all(state.satiation >= 0.0)
            assert np.linalg.norm(state.interest) <= bound
            if terminated or truncated:
                obs, info = env.reset()
                bound = max(float(np.linalg.norm(rec.hidden_state.interest)), 1.0) + 1e-9
                assert_obs_in_space(env.observation_space, obs)  # type: ignore[arg-type]


@st.composite
def user_updates(draw: st.DrawFn) -> tuple[RecEnvConfig, int, int]:
    """A config with any drift/satiation/patience dynamics, a batch size and a seed."""
    slate_size = draw(st.integers(1, 6))
    config = RecEnvConfig(
        n_items=30,
        slate_size=slate_size,
        choice_model=draw(st.sampled_from(["mnl", "cascade"])),
        drift_rate=draw(unit),
        satiation_gain=draw(st.floats(0.0, 5.0)),
        satiation_decay=draw(unit),
        fatigue_per_step=draw(unit),
        no_click_penalty=draw(unit),
        satisfaction_gain=draw(st.floats(0.0, 5.0)),
        interest_scale=draw(st.floats(0.0, 10.0)),
    )
    return config, draw(st.integers(1, 8)), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=30, deadline=None)
@given(case=user_updates())
def test_user_updates_stay_bounded(case: tuple[RecEnvConfig, int, int]) -> None:
    # Any clicks (several per slate, as in the cascade model): interest moves by convex
    # steps toward unit item vectors, satiation stays >= 0, patience within [0, 1].
    config, batch, seed = case
    sim = RecSimulator(config)
    rng = np.random.default_rng(seed)
    users = sim.new_users(batch, rng)
    bound = np.maximum(np.linalg.norm(users.interest, axis=1), 1.0) + 1e-9
    size = config.slate_size
    for _ in range(40):
        shown = rng.integers(0, 30, size=(batch, size))
        clicks = (rng.random((batch, size)) < rng.random()).astype(np.float64)
        purchases = (clicks > 0) & (rng.random((batch, size)) < 0.5)
        update_users(users, sim.catalog, shown, clicks, purchases, config)
        assert np.all(np.linalg.norm(users.interest, axis=1) <= bound)
        assert np.all(users.satiation >= 0.0)
        assert np.all((users.patience >= 0.0) & (users.patience <= 1.0))
