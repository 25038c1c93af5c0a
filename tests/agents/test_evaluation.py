"""Tests of the evaluation loop: ordering of reference policies, learning, determinism."""

from __future__ import annotations

import json
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401  (registers the env ids)
from agents.baselines import Recommender, make_baseline
from agents.evaluation import CI_METRICS, EvaluationResult, SB3Recommender, evaluate
from rec_gym.envs.rec_env import RecEnv


def _default_env() -> gym.Env[Any, Any]:
    return gym.make("RecEnv-v0")


@pytest.fixture(scope="module")
def reference_results() -> dict[str, EvaluationResult]:
    """Random, myopic and anti oracles over 200 episodes of the default env (~3 s)."""
    return {
        name: evaluate(_default_env, make_baseline(name, seed=0), n_episodes=200, seed=0)
        for name in ("random", "myopic", "anti")
    }


def test_myopic_beats_random_beats_anti(reference_results: dict[str, EvaluationResult]) -> None:
    myopic = reference_results["myopic"].metrics["return"]
    random = reference_results["random"].metrics["return"]
    anti = reference_results["anti"].metrics["return"]
    assert myopic.low > random.high, (myopic, random)
    assert random.low > anti.high, (random, anti)
    regret = {name: r.metrics["regret"].mean for name, r in reference_results.items()}
    assert regret["myopic"] == pytest.approx(0.0, abs=1e-9)
    assert regret["anti"] > regret["random"] > 0


def test_records_and_aggregates_agree(reference_results: dict[str, EvaluationResult]) -> None:
    result = reference_results["random"]
    records = result.episodes
    assert result.n_episodes == 200
    assert [r.seed for r in records] == list(range(200))
    for record in records:
        assert record.terminated != record.truncated
        assert record.length == len(record.item_indices)  # one item per step
        if record.truncated:
            assert record.length == 50
        assert 0 <= record.clicks <= record.length
    returns = np.array([r.episode_return for r in records])
    assert result.metrics["return"].mean == pytest.approx(returns.mean())
    leave = np.mean([r.terminated for r in records])
    assert result.metrics["leave_rate"].mean == pytest.approx(leave)
    clicks = np.array([r.clicks for r in records])
    lengths = np.array([r.length for r in records])
    assert result.metrics["ctr"].mean == pytest.approx(np.mean(clicks / lengths))
    exposed = np.concatenate([r.item_indices for r in records])
    assert result.catalog_coverage == pytest.approx(np.unique(exposed).size / 200)
    for interval in result.metrics.values():
        assert interval.low <= interval.mean <= interval.high


def test_exposure_metrics_separate_policies(
    reference_results: dict[str, EvaluationResult],
) -> None:
    random, anti = reference_results["random"], reference_results["anti"]
    # The anti-oracle keeps showing the same few items, random spreads exposure.
    assert random.catalog_coverage > anti.catalog_coverage
    assert random.exposure_gini < anti.exposure_gini
    assert random.metrics["intra_list_diversity"].mean > anti.metrics["intra_list_diversity"].mean


def test_result_serialises_to_json(reference_results: dict[str, EvaluationResult]) -> None:
    result = reference_results["myopic"]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["policy"] == "myopic" and data["env_id"] == "RecEnv-v0"
    assert set(data["metrics"]) == set(CI_METRICS)
    assert len(data["episodes"]) == 200
    assert "episodes" not in result.to_dict(include_episodes=False)
    row = result.summary_row()
    assert row["policy"] == "myopic"
    assert row["return"] == result.metrics["return"].mean
    assert row["return_ci95"] == pytest.approx(result.metrics["return"].half_width)


def test_linucb_beats_random() -> None:
    """LinUCB beats random over 300 episodes with non-overlapping 95% intervals."""
    linucb = evaluate(_default_env, make_baseline("linucb", seed=0), n_episodes=300, seed=0)
    random = evaluate(_default_env, make_baseline("random", seed=0), n_episodes=300, seed=0)
    lin, rnd = linucb.metrics["return"], random.metrics["return"]
    assert lin.low > rnd.high, (lin, rnd)


class _Counting(Recommender):
    """Wraps a recommender and records the calls the loop makes."""

    def __init__(self, inner: Recommender) -> None:
        self.inner = inner
        self.name = inner.name
        self.begins = 0
        self.observes = 0
        self.first_observations: list[dict[str, np.ndarray]] = []
        self.first_interests: list[np.ndarray] = []
        self._fresh = False

    def begin_episode(self, env: RecEnv) -> None:
        assert isinstance(env, RecEnv)
        self.begins += 1
        self._fresh = True
        self.first_interests.append(env.hidden_state.interest.copy())
        self.inner.begin_episode(env)

    def act(self, observation: dict[str, np.ndarray], env: RecEnv) -> Any:
        if self._fresh:
            self.first_observations.append({k: v.copy() for k, v in observation.items()})
            self._fresh = False
        return self.inner.act(observation, env)

    def observe(
        self,
        observation: dict[str, np.ndarray],
        action: Any,
        reward: float,
        info: dict[str, Any],
        next_observation: dict[str, np.ndarray],
    ) -> None:
        self.observes += 1
        self.inner.observe(observation, action, reward, info, next_observation)


def _small_env() -> gym.Env[Any, Any]:
    return gym.make("RecEnv-v0", n_items=40)


def test_loop_calls_begin_episode_and_observe_every_step() -> None:
    counting = _Counting(make_baseline("popularity", seed=0))
    result = evaluate(_small_env, counting, n_episodes=7, seed=3)
    assert counting.begins == 7
    assert counting.observes == sum(r.length for r in result.episodes)
    # The learner saw exactly the impressions of the evaluation.
    assert counting.inner.impressions.sum() == counting.observes  # type: ignore[attr-defined]


def test_common_random_numbers_across_policies() -> None:
    a = _Counting(make_baseline("random", seed=0))
    b = _Counting(make_baseline("myopic", seed=0))
    evaluate(_small_env, a, n_episodes=5, seed=11)
    evaluate(_small_env, b, n_episodes=5, seed=11)
    for obs_a, obs_b in zip(a.first_observations, b.first_observations, strict=True):
        for key in obs_a:
            np.testing.assert_array_equal(obs_a[key], obs_b[key])
    for interest_a, interest_b in zip(a.first_interests, b.first_interests, strict=True):
        np.testing.assert_array_equal(interest_a, interest_b)
    assert not np.array_equal(a.first_interests[0], a.first_interests[1])  # new user each time


@pytest.mark.parametrize("name", ["random", "linucb", "epsilon-greedy"])
def test_same_seed_gives_identical_results(name: str) -> None:
    first = evaluate(_small_env, make_baseline(name, seed=4), n_episodes=10, seed=2)
    second = evaluate(_small_env, make_baseline(name, seed=4), n_episodes=10, seed=2)
    assert first == second
    assert first.to_dict()["episodes"] == second.to_dict()["episodes"]
    other = evaluate(_small_env, make_baseline(name, seed=4), n_episodes=10, seed=3)
    assert other.episodes != first.episodes


def test_slate_env_and_planning_oracle() -> None:
    def factory() -> gym.Env[Any, Any]:
        return gym.make("RecEnv-Slate-v0", n_items=30, slate_size=3, max_episode_steps=8)

    planning = make_baseline("planning", seed=0, horizon=3, n_candidates=5)
    for policy in (planning, make_baseline("linucb", seed=0)):
        result = evaluate(factory, policy, n_episodes=4, seed=0)
        for record in result.episodes:
            assert len(record.item_indices) == 3 * record.length  # distinct slates
        assert 0 < result.catalog_coverage <= 1


def test_missing_regret_is_nan_and_json_null() -> None:
    def factory() -> gym.Env[Any, Any]:
        return gym.make("RecEnv-v0", n_items=20, compute_oracle_info=False)

    result = evaluate(factory, make_baseline("random", seed=0), n_episodes=3, seed=0)
    assert math.isnan(result.metrics["regret"].mean)
    assert result.to_dict()["metrics"]["regret"]["mean"] is None
    json.dumps(result.to_dict(), allow_nan=False)


def test_env_id_string_is_accepted() -> None:
    result = evaluate("RecEnv-v0", make_baseline("anti", seed=0), n_episodes=2, seed=0)
    assert result.env_id == "RecEnv-v0"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_episodes": 0}, ValueError, "n_episodes"),
        ({"n_episodes": 1.5}, TypeError, "n_episodes"),
        ({"seed": -1}, ValueError, "seed"),
        ({"recommender": object()}, TypeError, "SB3Recommender"),
        ({"env_factory": 3}, TypeError, "env_factory"),
        ({"env_factory": lambda: gym.make("CartPole-v1")}, TypeError, "RecEnv"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {
        "env_factory": _small_env,
        "recommender": make_baseline("random", seed=0),
        "n_episodes": 2,
        "seed": 0,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        evaluate(**arguments)


class _FakeMaskablePPO:
    """Stands in for sb3-contrib's MaskablePPO: records what predict receives."""

    def __init__(self) -> None:
        self.policy = object()
        self.calls: list[dict[str, Any]] = []

    def predict(self, observation: Any, **kwargs: Any) -> tuple[np.ndarray, None]:
        self.calls.append(kwargs)
        return np.array(int(np.argmax(kwargs["action_masks"]))), None


def test_sb3_adapter_passes_action_masks_and_deterministic_override() -> None:
    model = _FakeMaskablePPO()
    adapter = SB3Recommender(model, deterministic=False, name="fake")
    result = evaluate(_small_env, adapter, n_episodes=2, seed=0, deterministic=True)
    assert result.policy == "fake"
    assert model.calls and all(call["deterministic"] is True for call in model.calls)
    assert all(call["action_masks"].shape == (40,) for call in model.calls)
    assert adapter.deterministic is False  # restored after the evaluation
    assert all(isinstance(i, int) for r in result.episodes for i in r.item_indices)


def _flat_extractor_kwargs() -> dict[str, Any]:
    """policy_kwargs with a flattening extractor.

    SB3's default CombinedExtractor keeps one sub-module per observation key in an
    ``nn.ModuleDict``, which cannot hold a key named ``items``.
    """
    import torch
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class FlatExtractor(BaseFeaturesExtractor):
        def __init__(self, observation_space: gym.spaces.Dict) -> None:
            dim = sum(int(np.prod(sub.shape or ())) for sub in observation_space.spaces.values())
            super().__init__(observation_space, features_dim=dim)

        def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
            return torch.cat([observations[k].float().flatten(1) for k in sorted(observations)], 1)

    return {"features_extractor_class": FlatExtractor, "net_arch": [16]}


@pytest.mark.parametrize(
    ("algo", "env_id"),
    [("ppo", "RecEnv-v0"), ("ppo", "RecEnv-Slate-v0"), ("maskable-ppo", "RecEnv-v0")],
)
def test_sb3_adapter_with_a_real_model(algo: str, env_id: str) -> None:
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    def factory() -> gym.Env[Any, Any]:
        return gym.make(env_id, n_items=20, max_episode_steps=5)

    cls = MaskablePPO if algo == "maskable-ppo" else PPO
    model = cls(
        "MultiInputPolicy",
        factory(),
        n_steps=16,
        batch_size=16,
        seed=0,
        device="cpu",
        policy_kwargs=_flat_extractor_kwargs(),
    )
    adapter = SB3Recommender(model, deterministic=True, name=algo)
    assert adapter.maskable == (algo == "maskable-ppo")
    first = evaluate(factory, adapter, n_episodes=2, seed=0)
    second = evaluate(factory, adapter, n_episodes=2, seed=0)
    assert first == second  # deterministic policy + same seeds
    assert first.n_episodes == 2 and first.policy == algo


def test_sb3_adapter_rejects_a_non_model() -> None:
    with pytest.raises(TypeError, match="predict"):
        SB3Recommender(object())
