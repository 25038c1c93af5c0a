"""The SB3 adapter of Gymnasium vector envs (``agents.vec_env``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

import rec_gym  # noqa: F401  (registers the ids)
from agents.vec_env import VectorEnvAdapter

ENV_KWARGS: dict[str, Any] = {"n_items": 30, "leave_base_prob": 0.1, "max_episode_steps": 6}


def batched(env_id: str, num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
    """rec-gym's batched env (NEXT_STEP autoreset)."""
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )


def sync(mode: AutoresetMode) -> Callable[..., gym.vector.VectorEnv]:
    """Gymnasium's SyncVectorEnv of single envs with the given autoreset mode."""

    def make(env_id: str, num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
        return SyncVectorEnv(
            [lambda: gym.make(env_id, **kwargs) for _ in range(num_envs)], autoreset_mode=mode
        )

    return make


def assert_value_equal(expected: Any, actual: Any, where: str) -> None:
    """Exact equality for ids, flags and observations; rounding slack for float infos."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            assert_value_equal(expected[key], actual[key], f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected) and len(actual) == len(expected), where
        for index, (one, other) in enumerate(zip(expected, actual, strict=True)):
            assert_value_equal(one, other, f"{where}[{index}]")
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray) and actual.dtype == expected.dtype, where
        if expected.dtype.kind == "f" and "terminal_observation" not in where:
            np.testing.assert_allclose(actual, expected, rtol=1e-9, err_msg=where)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, float):
        assert type(actual) is float and actual == pytest.approx(expected, rel=1e-9), where
    else:
        assert type(actual) is type(expected) and actual == expected, where


@pytest.mark.parametrize(
    ("env_id", "make"),
    [
        ("RecEnv-v0", batched),
        ("RecEnv-Slate-v0", batched),
        ("RecEnv-v0", sync(AutoresetMode.NEXT_STEP)),
        ("RecEnv-Slate-v0", sync(AutoresetMode.SAME_STEP)),
    ],
)
def test_adapter_matches_a_dummy_vec_env_of_single_envs(
    env_id: str, make: Callable[..., gym.vector.VectorEnv]
) -> None:
    num_envs = 3
    reference = DummyVecEnv([lambda: gym.make(env_id, **ENV_KWARGS)] * num_envs)
    adapter = VectorEnvAdapter(make(env_id, num_envs, **ENV_KWARGS))
    reference.seed(21)
    adapter.seed(21)
    assert_value_equal(reference.reset(), adapter.reset(), "reset obs")
    assert_value_equal(reference.reset_infos, adapter.reset_infos, "reset infos")
    space = reference.action_space
    space.seed(0)
    episodes = 0
    for t in range(40):
        actions = np.stack([space.sample() for _ in range(num_envs)])
        obs, rewards, dones, infos = reference.step(actions)
        obs_a, rewards_a, dones_a, infos_a = adapter.step(actions)
        assert_value_equal(obs, obs_a, f"step {t} obs")
        assert_value_equal(rewards, rewards_a, f"step {t} rewards")
        assert_value_equal(dones, dones_a, f"step {t} dones")
        assert_value_equal(infos, infos_a, f"step {t} infos")
        assert_value_equal(reference.reset_infos, adapter.reset_infos, f"step {t} reset infos")
        episodes += int(dones.sum())
    assert episodes >= num_envs  # finished episodes were converted


def test_every_adapter_step_is_a_real_transition() -> None:
    # With next-step autoreset, the step after an episode end ignores its action. The adapter
    # must never return it: every returned step shows the action just taken.
    adapter = VectorEnvAdapter(batched("RecEnv-v0", 4, n_items=20, max_episode_steps=3))
    adapter.seed(0)
    adapter.reset()
    rng = np.random.default_rng(0)
    dones_seen = 0
    for _ in range(20):
        actions = rng.integers(0, 20, size=4)
        obs, rewards, dones, infos = adapter.step(actions)
        assert isinstance(obs, dict)
        for index in range(4):
            last = infos[index]["terminal_observation"] if dones[index] else _row(obs, index)
            assert last["item_ids"][-1] == actions[index] + 1
            assert infos[index]["session_step"] >= 1
        dones_seen += int(dones.sum())
    assert dones_seen > 0


def _row(obs: dict[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    return {key: value[index] for key, value in obs.items()}


def test_ppo_learns_on_the_batched_env() -> None:
    torch.manual_seed(0)
    venv: VecEnv = VecMonitor(VectorEnvAdapter(batched("RecEnv-v0", 4, n_items=50)))
    model = PPO(
        "MultiInputPolicy",
        venv,
        n_steps=32,
        batch_size=64,
        n_epochs=2,
        policy_kwargs={"net_arch": [32]},
        seed=0,
        device="cpu",
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert model.num_timesteps == 256
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    # 64 steps per sub-env with the registered 50-step cap: every sub-env finished an episode.
    episodes = list(model.ep_info_buffer or [])
    assert len(episodes) >= 4
    assert all(1 <= info["l"] <= 50 for info in episodes)


def test_env_methods_attributes_and_misuse() -> None:
    adapter = VectorEnvAdapter(batched("RecEnv-Slate-v0", 3, n_items=12, slate_size=2))
    adapter.reset()
    masks = adapter.env_method("action_masks")
    assert len(masks) == 3 and all(mask.shape == (24,) for mask in masks)
    assert adapter.env_method("action_masks", indices=[2])[0].shape == (24,)
    assert adapter.get_attr("num_envs") == [3, 3, 3]
    assert adapter.env_is_wrapped(gym.Wrapper) == [False, False, False]
    with pytest.raises(ValueError, match="shared"):
        adapter.set_attr("max_episode_steps", 5, indices=[0])
    adapter.set_attr("max_episode_steps", 5)
    assert adapter.get_attr("max_episode_steps", indices=1) == [5]
    with pytest.raises(RuntimeError, match="step_async"):
        adapter.step_wait()
    with pytest.raises(TypeError, match="VectorEnv"):
        VectorEnvAdapter(gym.make("RecEnv-v0"))  # type: ignore[arg-type]
