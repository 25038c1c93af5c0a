"""The natively batched env (``rec_gym.vector``) against single envs, and its building blocks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import rec_gym  # noqa: F401  (registers the ids)
import rec_gym.vector
from rec_gym.config import RecEnvConfig
from rec_gym.envs.rec_env import PROGRESS_TABLE, RecEnv
from rec_gym.reward import ClickPurchaseReward
from rec_gym.simulator import STREAM_BLOCK_STEPS, RecSimulator, UniformStream
from rec_gym.users import default_population, sample_users, users_from_normals
from rec_gym.vector import RecSlateVectorEnv, RecVectorEnv

VECTOR = "vector_entry_point"

#: (env id, kwargs) covering single items, MNL and cascade slates, a history shorter than the
#: slate, debug info, no oracle info, frequent terminations and truncations.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("RecEnv-v0", {"leave_base_prob": 0.1, "max_episode_steps": 9}),
    ("RecEnv-v0", {"debug_info": True, "compute_oracle_info": False, "max_episode_steps": 6}),
    ("RecEnv-Slate-v0", {"slate_size": 3, "leave_base_prob": 0.1, "max_episode_steps": 8}),
    (
        "RecEnv-Slate-v0",
        {"slate_size": 4, "history_length": 3, "choice_model": "cascade", "debug_info": True},
    ),
]


class HalfReward:
    """A reward model that is not ``ClickPurchaseReward`` (exercises the generic code path)."""

    def reward(self, clicks: np.ndarray, purchases: np.ndarray) -> np.ndarray:
        """Half a point per click, 3 per purchase."""
        return 0.5 * clicks.sum(axis=-1) + 3.0 * purchases.sum(axis=-1)

    def expected(self, click_prob: np.ndarray, purchase_prob: np.ndarray) -> np.ndarray:
        """Expectation of :meth:`reward`."""
        return (click_prob * (0.5 + 3.0 * purchase_prob)).sum(axis=-1)


def make_pair(env_id: str, num_envs: int, **kwargs: Any) -> tuple[gym.vector.VectorEnv, Any]:
    """A SyncVectorEnv of single envs and the batched env, built with the same arguments."""
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    batched = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=VECTOR, **kwargs)
    return sync, batched


def assert_infos_match(expected: dict[str, Any], actual: dict[str, Any], where: str) -> None:
    """Same keys, masks and dtypes; integer values equal; float values equal up to rounding."""
    assert set(expected) == set(actual), f"{where}: keys differ: {set(expected) ^ set(actual)}"
    for key, value in expected.items():
        other = actual[key]
        assert isinstance(other, np.ndarray), f"{where}: info[{key!r}] is not an array"
        assert other.shape == value.shape, f"{where}: info[{key!r}] shape {other.shape}"
        assert other.dtype == value.dtype, f"{where}: info[{key!r}] dtype {other.dtype}"
        if value.dtype.kind == "f":
            np.testing.assert_allclose(other, value, rtol=1e-9, atol=1e-12, err_msg=where + key)
        else:
            np.testing.assert_array_equal(other, value, err_msg=f"{where}: info[{key!r}]")


def assert_obs_equal(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], where: str):
    """Exactly equal observations (the same keys, dtypes and values)."""
    assert set(expected) == set(actual), where
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype, f"{where}: obs[{key!r}] dtype"
        np.testing.assert_array_equal(actual[key], value, err_msg=f"{where}: obs[{key!r}]")


def run_both(
    sync: gym.vector.VectorEnv, batched: Any, steps: int, action_seed: int = 0
) -> tuple[int, int]:
    """Steps both with the same random actions, checking every result; returns episode ends."""
    space = sync.action_space
    space.seed(action_seed)
    ended = truncated_count = 0
    for t in range(steps):
        action = space.sample()
        obs, reward, terminated, truncated, info = sync.step(action)
        obs_b, reward_b, terminated_b, truncated_b, info_b = batched.step(action)
        where = f"step {t}"
        assert_obs_equal(obs, obs_b, where)
        for name, value, value_b in (
            ("reward", reward, reward_b),
            ("terminated", terminated, terminated_b),
            ("truncated", truncated, truncated_b),
        ):
            assert value_b.dtype == value.dtype, f"{where}: {name} dtype"
            np.testing.assert_array_equal(value_b, value, f"{where}: {name}")
        assert_infos_match(info, info_b, where)
        assert batched.observation_space.contains(obs_b), where
        ended += int(np.sum(terminated | truncated))
        truncated_count += int(np.sum(truncated))
    return ended, truncated_count


# -- equivalence with single envs ------------------------------------------------------------


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_same_seeds_give_the_same_trajectories_as_single_envs(
    env_id: str, kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rec_gym.vector, "HISTORY_SLACK_STEPS", 3)  # move the window often
    sync, batched = make_pair(env_id, 4, n_items=40, **kwargs)
    obs_sync, info_sync = sync.reset(seed=11)
    obs_batched, info_batched = batched.reset(seed=11)
    assert_obs_equal(obs_sync, obs_batched, "reset")
    assert_infos_match(info_sync, info_batched, "reset")
    ended, _ = run_both(sync, batched, steps=60)
    assert ended > 0  # autoreset was exercised


def test_equivalence_covers_truncation_and_block_refills() -> None:
    # No leaving: every episode runs to the cap, past two refills of the uniform buffer.
    steps = 2 * STREAM_BLOCK_STEPS + 5
    kwargs = {"n_items": 30, "leave_base_prob": 0.0, "leave_sensitivity": 0.0}
    sync, batched = make_pair("RecEnv-v0", 3, max_episode_steps=steps, **kwargs)
    sync.reset(seed=5)
    batched.reset(seed=5)
    ended, truncated = run_both(sync, batched, steps=steps + 3)
    assert ended == truncated == 3


def test_equivalence_with_a_custom_reward_model() -> None:
    sync, batched = make_pair("RecEnv-v0", 3, n_items=25, reward_model=HalfReward())
    sync.reset(seed=2)
    batched.reset(seed=2)
    run_both(sync, batched, steps=40)


def test_new_users_have_bought_nothing() -> None:
    # Clicks and purchases are near certain, so users buy in every episode.
    kwargs = {"n_items": 5, "no_click_utility": -4.0, "purchase_bias": 6.0, "max_episode_steps": 4}
    sync, batched = make_pair("RecEnv-v0", 3, **kwargs)
    sync.reset(seed=0)
    batched.reset(seed=0)
    run_both(sync, batched, steps=30)
    purchases = 0
    for t in range(30):
        _, _, _, _, info = batched.step(np.array([t % 5, (t + 1) % 5, (t + 2) % 5]))
        purchases += int(info.get("purchase", np.zeros(3)).sum())
        bought = batched.unwrapped.hidden_state.purchased
        for user in np.flatnonzero(info["session_step"] == 0):
            assert not bought[user].any(), f"step {t}: a new user inherited purchases"
    assert purchases > 10


def test_partial_reset_and_seed_lists_match_single_envs() -> None:
    sync, batched = make_pair("RecEnv-v0", 4, n_items=30, leave_base_prob=0.2)
    sync.reset(seed=20)
    batched.reset(seed=20)
    run_both(sync, batched, steps=5)
    seeds: list[int | None] = [3, None, 7, 8]  # None: sub-env 1 continues its stream
    expected = sync.reset(seed=seeds)  # type: ignore[arg-type]
    assert_obs_equal(expected[0], batched.reset(seed=seeds)[0], "seed list")
    run_both(sync, batched, steps=10)
    mask = np.array([True, False, False, True])
    expected = sync.reset(options={"reset_mask": mask.copy()})
    actual = batched.reset(options={"reset_mask": mask.copy()})
    assert_obs_equal(expected[0], actual[0], "partial reset")
    assert_infos_match(expected[1], actual[1], "partial reset")
    run_both(sync, batched, steps=10, action_seed=1)


def test_seed_none_continues_each_sub_env_stream() -> None:
    sync, batched = make_pair("RecEnv-Slate-v0", 2, n_items=30, leave_base_prob=0.3)
    sync.reset(seed=4)
    batched.reset(seed=4)
    run_both(sync, batched, steps=5)
    assert_obs_equal(sync.reset()[0], batched.reset()[0], "reset without seed")
    run_both(sync, batched, steps=5, action_seed=3)


# -- Gymnasium vector-env contract ------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "cls"), [("RecEnv-v0", RecVectorEnv), ("RecEnv-Slate-v0", RecSlateVectorEnv)]
)
def test_make_vec_returns_the_batched_env_with_batched_spaces(env_id: str, cls: type) -> None:
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode=VECTOR, n_items=20)
    single = gym.make(env_id, n_items=20)
    assert type(envs) is cls
    assert envs.num_envs == 3
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert getattr(envs, "max_episode_steps", None) == gym.spec(env_id).max_episode_steps
    assert envs.single_observation_space == single.observation_space
    assert envs.single_action_space == single.action_space
    assert envs.observation_space == batch_space(single.observation_space, 3)
    assert envs.action_space == batch_space(single.action_space, 3)
    assert envs.spec is not None and envs.spec.id == env_id


def test_vector_env_contract() -> None:
    envs = gym.make_vec("RecEnv-Slate-v0", num_envs=5, vectorization_mode=VECTOR, n_items=30)
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    np.testing.assert_array_equal(info["session_step"], np.zeros(5, dtype=np.int64))
    assert info["_session_step"].dtype == np.bool_ and info["_session_step"].all()
    envs.action_space.seed(0)
    for _ in range(30):
        previous = {key: value.copy() for key, value in obs.items()}
        kept = obs
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        for key in previous:  # returned arrays are not reused by the next step
            np.testing.assert_array_equal(kept[key], previous[key])
        assert reward.shape == (5,) and reward.dtype == np.float64
        assert terminated.shape == truncated.shape == (5,)
        assert terminated.dtype == truncated.dtype == np.bool_
        for key, value in info.items():
            assert isinstance(value, np.ndarray) and value.shape[0] == 5, key
            if not key.startswith("_"):
                assert info[f"_{key}"].dtype == np.bool_


def test_gymnasium_vector_wrappers_see_the_same_episodes() -> None:
    # RecordEpisodeStatistics relies on next-step autoreset bookkeeping.
    stats = gym.wrappers.vector.RecordEpisodeStatistics
    sync, batched = make_pair("RecEnv-v0", 3, n_items=20, max_episode_steps=5)
    sync, batched = stats(sync), stats(batched)
    sync.reset(seed=1)
    batched.reset(seed=1)
    episodes = 0
    for t in range(23):
        action = np.array([t % 20, (3 * t) % 20, (7 * t) % 20])
        info = sync.step(action)[4]
        info_batched = batched.step(action)[4]
        assert ("episode" in info) == ("episode" in info_batched)
        if "episode" in info:
            np.testing.assert_array_equal(info_batched["_episode"], info["_episode"])
            np.testing.assert_array_equal(info_batched["episode"]["r"], info["episode"]["r"])
            np.testing.assert_array_equal(info_batched["episode"]["l"], info["episode"]["l"])
            episodes += int(info["_episode"].sum())
    assert episodes >= 9


def test_reset_with_the_same_seed_is_deterministic_and_seeds_matter() -> None:
    envs = gym.make_vec("RecEnv-v0", num_envs=3, vectorization_mode=VECTOR, n_items=30)
    first = envs.reset(seed=1)[0]
    actions = np.array([1, 2, 3])
    step_first = envs.step(actions)
    again = envs.reset(seed=1)[0]
    assert_obs_equal(first, again, "reset")
    step_again = envs.step(actions)
    assert_obs_equal(step_first[0], step_again[0], "step")
    np.testing.assert_array_equal(step_first[1], step_again[1])
    other = envs.reset(seed=2)[0]
    assert not np.array_equal(first["context"], other["context"])
    # Sub-envs are seeded seed + i: sub-env 1 under seed 1 is sub-env 0 under seed 2.
    np.testing.assert_array_equal(first["context"][1], other["context"][0])


def test_next_step_autoreset_ignores_the_action_and_restarts_the_episode() -> None:
    envs = gym.make_vec(
        "RecEnv-v0", num_envs=2, vectorization_mode=VECTOR, n_items=20, max_episode_steps=2
    )
    envs.reset(seed=0)
    envs.step(np.array([0, 1]))
    _, _, _, truncated, _ = envs.step(np.array([2, 3]))
    assert truncated.all()
    # The action is ignored on the reset step, even an out-of-range one.
    obs, reward, terminated, truncated, info = envs.step(np.array([-5, 999]))
    np.testing.assert_array_equal(reward, np.zeros(2))
    assert not terminated.any() and not truncated.any()
    np.testing.assert_array_equal(obs["item_ids"], np.zeros_like(obs["item_ids"]))
    np.testing.assert_array_equal(info["session_step"], [0, 0])
    assert "click" not in info  # no sub-env stepped
    obs, *_ = envs.step(np.array([4, 5]))
    np.testing.assert_array_equal(obs["item_ids"][:, -1], [5, 6])


def test_invalid_arguments_and_order_raise() -> None:
    with pytest.raises(ValueError, match="num_envs"):
        RecVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="max_episode_steps"):
        RecVectorEnv(num_envs=2, max_episode_steps=0)
    with pytest.raises(ValueError, match="render"):
        RecVectorEnv(num_envs=2, render_mode="ansi")
    with pytest.raises(TypeError, match="n_itemz"):
        RecVectorEnv(num_envs=2, n_itemz=3)
    envs = RecVectorEnv(num_envs=2, n_items=10)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.array([0, 0]))
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        envs.step(np.array([0, 0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        envs.step(np.array([0, 10]))
    with pytest.raises(ValueError, match="shape"):
        envs.step(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.zeros(2, dtype=bool)})
    with pytest.raises(TypeError, match="reset_mask"):
        envs.reset(options={"reset_mask": [True, False]})


def test_oracle_actions_match_the_single_env_oracles() -> None:
    envs = RecVectorEnv(num_envs=3, n_items=40)
    singles = [RecEnv(n_items=40) for _ in range(3)]
    envs.reset(seed=9)
    for i, env in enumerate(singles):
        env.reset(seed=9 + i)
    for kind in ("myopic", "anti"):
        actions = envs.oracle_actions(kind)
        assert envs.action_space.contains(actions)
        expected = [env.oracle_action(kind) for env in singles]
        np.testing.assert_array_equal(actions, expected)
    masks = envs.action_masks()
    assert masks.shape == (3, 40) and masks.all()


# -- building blocks -------------------------------------------------------------------------


@pytest.mark.parametrize("reward_model", [None, HalfReward()])
def test_scalar_step_matches_the_batched_step(reward_model: Any) -> None:
    sim = RecSimulator(RecEnvConfig(n_items=30), reward_model=reward_model)
    rng = np.random.default_rng(0)
    for trial in range(300):
        user = sim.new_users(1, rng)
        user.satiation[:] = rng.exponential(size=user.satiation.shape)
        user.patience[:] = rng.uniform()
        user.purchased[0] = rng.random(30) < 0.3
        item = int(rng.integers(30))
        uniforms = rng.random(sim.uniforms_per_step(1))
        if trial % 3 == 0:  # make clicks and purchases likely
            uniforms[:2] *= 0.05
        batched_user = user.copy()
        one = sim.step_one(user, item, uniforms)
        outcome = sim.step_from_uniforms(batched_user, np.array([[item]]), uniforms[None, :])
        assert one.click == bool(outcome.response.clicks[0, 0])
        assert one.purchase == bool(outcome.response.purchases[0, 0])
        assert one.left == bool(outcome.left[0])
        assert one.reward == float(outcome.reward[0])
        assert one.expected_reward == pytest.approx(float(outcome.expected_reward[0]), rel=1e-12)
        np.testing.assert_allclose(user.interest, batched_user.interest, rtol=1e-13, atol=0)
        np.testing.assert_array_equal(user.satiation, batched_user.satiation)
        np.testing.assert_array_equal(user.patience, batched_user.patience)
        np.testing.assert_array_equal(user.purchased, batched_user.purchased)


@pytest.mark.parametrize("reward_model", [None, HalfReward(), ClickPurchaseReward(2.0, 0.0)])
def test_fast_best_expected_reward_is_the_max_of_item_expected_rewards(reward_model: Any) -> None:
    sim = RecSimulator(RecEnvConfig(n_items=50), reward_model=reward_model)
    rng = np.random.default_rng(1)
    users = sim.new_users(6, rng)
    users.satiation[:] = rng.exponential(size=users.satiation.shape)
    users.purchased[:] = rng.random(users.purchased.shape) < 0.5
    expected = sim.item_expected_rewards(users).max(axis=1)
    np.testing.assert_allclose(sim.best_expected_reward(users, 1), expected, rtol=1e-12)


def test_uniform_stream_replays_each_generator_in_order() -> None:
    stream = UniformStream(batch=3, per_step=2, block_steps=4)
    generators = [np.random.default_rng(seed) for seed in range(3)]
    skip_user_1 = np.array([True, False, True])
    taken: list[list[np.ndarray]] = [[], [], []]
    for t in range(10):
        active = skip_user_1 if t % 2 else None  # user 1 steps only on even t
        row = stream.take(generators, active)
        for user in range(3):
            if active is None or active[user]:
                taken[user].append(row[user])
    for user, draws in enumerate(taken):
        blocks = -(-len(draws) // 4)
        reference = np.random.default_rng(user).random((blocks * 4, 2))[: len(draws)]
        np.testing.assert_array_equal(np.array(draws), reference)
    # take_one on a batch of one is the same stream.
    single = UniformStream(batch=1, per_step=2, block_steps=4)
    generator = np.random.default_rng(0)
    draws_one = np.array([single.take_one(generator).copy() for _ in range(10)])
    np.testing.assert_array_equal(draws_one, np.random.default_rng(0).random((12, 2))[:10])


def test_users_built_together_equal_users_built_one_by_one() -> None:
    config = RecEnvConfig(latent_dim=16, user_feature_dim=7)
    population = default_population(config, np.random.default_rng(0))
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(200, 16 + 7))
    together = users_from_normals(population, 5, draws)
    for i in range(200):
        alone = users_from_normals(population, 5, draws[i : i + 1])
        np.testing.assert_array_equal(alone.interest[0], together.interest[i])
        np.testing.assert_array_equal(alone.features[0], together.features[i])
    # And sample_users draws exactly those normals, one row per user.
    users = sample_users(population, 5, 3, np.random.default_rng(8))
    rebuilt = users_from_normals(population, 5, np.random.default_rng(8).normal(size=(3, 23)))
    np.testing.assert_array_equal(users.features, rebuilt.features)


def test_progress_table_saturates_so_clamping_is_exact() -> None:
    assert PROGRESS_TABLE[-1] == np.float32(1.0)
    late = np.float32(1.0 - np.exp(-5000 / 50.0))
    assert late == PROGRESS_TABLE[-1]


def test_single_env_reuses_block_draws_only_within_an_episode() -> None:
    # Replacing np_random mid-episode drops the buffered draws of the old generator.
    env = gym.make("RecEnv-v0", n_items=20, leave_base_prob=0.0, leave_sensitivity=0.0)
    twin = gym.make("RecEnv-v0", n_items=20, leave_base_prob=0.0, leave_sensitivity=0.0)
    env.reset(seed=0)
    twin.reset(seed=0)
    env.step(0)
    twin.step(0)
    env.unwrapped.np_random = np.random.default_rng(123)
    twin.unwrapped.np_random = np.random.default_rng(456)
    results = [(env.step(i % 20)[4]["click"], twin.step(i % 20)[4]["click"]) for i in range(60)]
    assert any(a != b for a, b in results)
