"""Tests of the classic recommenders: valid actions, the registry, and online learning."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401  (registers the env ids)
from agents.baselines import (
    EpsilonGreedyRecommender,
    LinUCBRecommender,
    MyopicOracle,
    PopularityRecommender,
    RandomRecommender,
    Recommender,
    baseline_names,
    make_baseline,
    position_feedback,
    position_rewards,
    top_k,
)
from rec_gym.envs.rec_env import RecEnv


def _base(env: gym.Env[Any, Any]) -> RecEnv:
    base = env.unwrapped
    assert isinstance(base, RecEnv)
    return base


ALL = ["random", "popularity", "myopic", "planning", "anti", "epsilon-greedy", "linucb"]


def _small_env(slate: bool) -> gym.Env[Any, Any]:
    if slate:
        return gym.make("RecEnv-Slate-v0", n_items=30, slate_size=4, max_episode_steps=6)
    return gym.make("RecEnv-v0", n_items=30, max_episode_steps=6)


def _play(env: gym.Env[Any, Any], policy: Recommender, episodes: int, seed: int = 0) -> list:
    """Plays episodes, returning every action taken."""
    actions = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        policy.begin_episode(_base(env))
        done = False
        while not done:
            action = policy.act(obs, _base(env))
            actions.append(action)
            next_obs, reward, terminated, truncated, info = env.step(action)
            policy.observe(obs, action, float(reward), info, next_obs)
            obs, done = next_obs, terminated or truncated
    return actions


def test_registry_lists_every_baseline() -> None:
    assert baseline_names() == ALL
    for name in ALL:
        assert make_baseline(name, seed=0).name == name


@pytest.mark.parametrize("slate", [False, True], ids=["single", "slate"])
@pytest.mark.parametrize("name", ALL)
def test_every_baseline_acts_validly(name: str, slate: bool) -> None:
    env = _small_env(slate)
    kwargs = {"horizon": 3, "n_candidates": 5} if name == "planning" else {}
    actions = _play(env, make_baseline(name, seed=0, **kwargs), episodes=2)
    assert actions
    for action in actions:
        assert env.action_space.contains(action), action
        if slate:
            assert isinstance(action, np.ndarray) and action.dtype == np.int64
            assert len(set(action.tolist())) == 4, f"slate has repeated items: {action}"
        else:
            assert isinstance(action, int)


def test_oracles_follow_the_env_oracle() -> None:
    env = gym.make("RecEnv-v0", n_items=30)
    obs, _ = env.reset(seed=3)
    base = _base(env)
    assert MyopicOracle().act(obs, base) == base.oracle_action("myopic")
    assert make_baseline("anti", seed=0).act(obs, base) == base.oracle_action("anti")
    planning = make_baseline("planning", seed=0, horizon=2, n_candidates=4)
    assert planning.act(obs, base) == base.oracle_action("planning", horizon=2, n_candidates=4)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ValueError, match="did you mean 'epsilon-greedy'"):
        make_baseline("epsilon_greedy", seed=0)


def test_unknown_parameter_is_a_type_error_with_a_hint() -> None:
    with pytest.raises(TypeError, match="did you mean 'epsilon'"):
        make_baseline("epsilon-greedy", seed=0, epsilom=0.2)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("epsilon-greedy", {"epsilon": 1.5}, "epsilon"),
        ("linucb", {"alpha": -1.0}, "alpha"),
        ("linucb", {"ridge": 0.0}, "ridge"),
        ("popularity", {"prior_impressions": 0.5}, "prior_impressions"),
        ("planning", {"horizon": 0}, "horizon"),
        ("random", {}, "seed"),
    ],
)
def test_bad_parameter_values_are_value_errors(name: str, kwargs: dict, match: str) -> None:
    seed = -1 if match == "seed" else 0
    with pytest.raises(ValueError, match=match):
        make_baseline(name, seed=seed, **kwargs)


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(TypeError, match="default_rng"):
        RandomRecommender(0)  # type: ignore[arg-type]


def test_same_seed_same_actions() -> None:
    env = _small_env(slate=False)
    first = _play(env, make_baseline("linucb", seed=5), episodes=3)
    second = _play(env, make_baseline("linucb", seed=5), episodes=3)
    assert first == second


def test_top_k_breaks_ties_at_random_but_only_among_the_best() -> None:
    scores = np.array([1.0, 3.0, 3.0, 0.0, 3.0])
    rng = np.random.default_rng(0)
    picks = {int(top_k(scores, 1, rng)[0]) for _ in range(200)}
    assert picks == {1, 2, 4}
    slates = {tuple(sorted(top_k(scores, 2, rng).tolist())) for _ in range(200)}
    assert slates == {(1, 2), (1, 4), (2, 4)}
    assert top_k(scores, 4, rng)[3] == 0


def test_slate_feedback_is_read_position_by_position() -> None:
    next_obs = {"feedback": np.array([1, 1, 0, 2, 1])}
    clicks, purchases = position_feedback(np.array([7, 8, 9]), {}, next_obs)
    assert clicks.tolist() == [False, True, True]
    assert purchases.tolist() == [False, True, False]
    # Reward 1 + (1 + 2) = 4 splits as click-only 1, click+purchase 3.
    shares = position_rewards(np.array([7, 8, 9]), 4.0, {}, next_obs, (1.0, 2.0))
    assert shares.tolist() == [0.0, 3.0, 1.0]
    no_click = position_rewards(np.array([7, 8]), 0.5, {}, {"feedback": np.zeros(5)})
    assert no_click.tolist() == [0.25, 0.25]
    single = position_rewards(3, 3.0, {"click": 1, "purchase": 1}, {"feedback": np.zeros(5)})
    assert single.tolist() == [3.0]


def _click_info(click: bool) -> dict[str, Any]:
    return {"click": int(click), "purchase": 0}


def test_popularity_learns_ctr_from_observed_clicks() -> None:
    env = gym.make("RecEnv-v0", n_items=10)
    obs, _ = env.reset(seed=0)
    policy = PopularityRecommender(np.random.default_rng(0))
    policy.begin_episode(_base(env))
    assert np.all(policy.estimates() == 0.5)  # prior 1 / 2
    for _ in range(3):
        policy.observe(obs, 6, 1.0, _click_info(True), obs)
    assert policy.estimates()[6] == pytest.approx(4 / 5)
    assert policy.act(obs, _base(env)) == 6
    for _ in range(7):
        policy.observe(obs, 6, 0.0, _click_info(False), obs)
    assert policy.estimates()[6] == pytest.approx(4 / 12)  # below the unseen items' 1 / 2
    assert policy.act(obs, _base(env)) != 6
    # A new episode keeps what was learned.
    env.reset(seed=1)
    policy.begin_episode(_base(env))
    assert policy.impressions[6] == 10 and policy.clicks[6] == 3


def test_popularity_counts_slate_clicks_per_position() -> None:
    env = gym.make("RecEnv-Slate-v0", n_items=10, slate_size=3)
    obs, _ = env.reset(seed=0)
    policy = PopularityRecommender(np.random.default_rng(0))
    policy.begin_episode(_base(env))
    next_obs = dict(obs, feedback=np.concatenate([np.zeros(17, np.int64), [0, 2, 0]]))
    policy.observe(obs, np.array([1, 4, 7]), 3.0, {"click": 1, "purchase": 1}, next_obs)
    assert policy.impressions[[1, 4, 7]].tolist() == [1, 1, 1]
    assert policy.clicks[[1, 4, 7]].tolist() == [0, 1, 0]


def test_popularity_does_not_read_hidden_state() -> None:
    # The same observed feedback gives the same estimates whatever the hidden users are.
    estimates = []
    for seed in (0, 99):
        env = gym.make("RecEnv-v0", n_items=10)
        obs, _ = env.reset(seed=seed)
        policy = PopularityRecommender(np.random.default_rng(0))
        policy.begin_episode(_base(env))
        policy.observe(obs, 2, 1.0, _click_info(True), obs)
        estimates.append(policy.estimates())
    np.testing.assert_array_equal(estimates[0], estimates[1])


def test_epsilon_greedy_tracks_mean_rewards() -> None:
    env = gym.make("RecEnv-v0", n_items=10)
    obs, _ = env.reset(seed=0)
    policy = EpsilonGreedyRecommender(np.random.default_rng(0), epsilon=0.0)
    policy.begin_episode(_base(env))
    for reward in (3.0, 1.0):
        policy.observe(obs, 4, reward, _click_info(True), obs)
    policy.observe(obs, 2, 1.0, _click_info(True), obs)
    assert policy.estimates()[4] == 2.0 and policy.estimates()[2] == 1.0
    assert all(policy.act(obs, _base(env)) == 4 for _ in range(20))


def test_epsilon_one_explores_everything() -> None:
    env = gym.make("RecEnv-v0", n_items=10)
    obs, _ = env.reset(seed=0)
    policy = EpsilonGreedyRecommender(np.random.default_rng(0), epsilon=1.0)
    policy.begin_episode(_base(env))
    policy.observe(obs, 4, 3.0, _click_info(True), obs)
    assert {policy.act(obs, _base(env)) for _ in range(200)} == set(range(10))


def test_linucb_features_and_sherman_morrison() -> None:
    env = gym.make("RecEnv-v0")
    obs, _ = env.reset(seed=0)
    policy = LinUCBRecommender(np.random.default_rng(0))
    policy.begin_episode(_base(env))
    x = policy.features(obs)
    cfg = _base(env).config
    expected_dim = 1 + cfg.n_topics + 3 + cfg.user_feature_dim * cfg.n_topics + 7
    assert x.shape == (cfg.n_items, expected_dim) == (cfg.n_items, policy.dim)
    np.testing.assert_array_equal(policy.features(obs, np.array([3, 5])), x[[3, 5]])
    rng = np.random.default_rng(1)
    for _ in range(50):
        policy.update(x[rng.integers(cfg.n_items)], float(rng.random()))
    np.testing.assert_allclose(policy.A_inv, np.linalg.inv(policy.A), atol=1e-9)
    np.testing.assert_allclose(policy.theta, np.linalg.solve(policy.A, policy.b), atol=1e-9)


def test_linucb_history_features_react_to_the_observation() -> None:
    env = gym.make("RecEnv-v0", n_items=20)
    obs, _ = env.reset(seed=0)
    policy = LinUCBRecommender(np.random.default_rng(0))
    policy.begin_episode(_base(env))
    before = policy.features(obs)
    next_obs, *_ = env.step(7)
    after = policy.features(next_obs)
    changed = np.flatnonzero(np.any(before != after, axis=1))
    same_topic = np.flatnonzero(policy._topic == policy._topic[7])
    assert 7 in changed and set(same_topic) <= set(changed)


def test_linucb_learns_from_rewards_and_keeps_it_across_episodes() -> None:
    env = gym.make("RecEnv-v0", n_items=30, max_episode_steps=10)
    policy = LinUCBRecommender(np.random.default_rng(0))
    _play(env, policy, episodes=3)
    theta = policy.theta.copy()
    assert np.abs(theta).sum() > 0
    env.reset(seed=10)
    policy.begin_episode(_base(env))
    np.testing.assert_array_equal(policy.theta, theta)
    # A controlled update: a large reward for one item raises its predicted reward.
    obs, _ = env.reset(seed=11)
    x = policy.features(obs)
    prediction = x[5] @ policy.theta
    for _ in range(5):
        policy.observe(obs, 5, 10.0, {"click": 1, "purchase": 1}, obs)
    assert policy.features(obs)[5] @ policy.theta > prediction


def test_learner_refuses_a_different_catalog() -> None:
    policy = make_baseline("epsilon-greedy", seed=0)
    _play(gym.make("RecEnv-v0", n_items=10, max_episode_steps=2), policy, episodes=1)
    env = gym.make("RecEnv-v0", n_items=12)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="new recommender"):
        policy.begin_episode(_base(env))


@pytest.mark.parametrize("interactions", [True, False])
def test_linucb_fast_scores_equal_the_dense_computation(interactions: bool) -> None:
    env = gym.make("RecEnv-v0", n_items=40, max_episode_steps=8)
    policy = LinUCBRecommender(np.random.default_rng(0), user_topic_interactions=interactions)
    _play(env, policy, episodes=4)  # non-trivial A and b
    obs, _ = env.reset(seed=50)
    for _ in range(3):
        obs, *_ = env.step(3)
    x = policy.features(obs)
    mean, width = policy.scores(obs)
    np.testing.assert_allclose(mean, x @ policy.theta, atol=1e-10)
    dense_width = np.sqrt(np.einsum("nd,de,ne->n", x, policy.A_inv, x))
    np.testing.assert_allclose(width, dense_width, atol=1e-10)
