"""Small helpers shared by the env tests."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from rec_gym.envs import RecEnv

#: Types a value of ``info`` may have (plain scalars, or small numpy arrays).
PLAIN_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
#: Largest array allowed in ``info``.
MAX_INFO_ARRAY = 1024


def assert_obs_in_space(space: gym.spaces.Dict, obs: dict[str, np.ndarray]) -> None:
    """Checks keys, dtype, shape, finiteness and membership of one observation."""
    assert isinstance(obs, dict)
    assert set(obs) == set(space.spaces), f"observation keys {sorted(obs)}"
    for key, sub in space.spaces.items():
        value = obs[key]
        assert isinstance(value, np.ndarray), f"obs[{key!r}] is {type(value).__name__}"
        assert value.dtype == sub.dtype, f"obs[{key!r}] dtype {value.dtype} != {sub.dtype}"
        assert value.shape == sub.shape, f"obs[{key!r}] shape {value.shape} != {sub.shape}"
        assert np.all(np.isfinite(value)), f"obs[{key!r}] is not finite: {value}"
        assert sub.contains(value), f"obs[{key!r}] = {value} is outside {sub}"
    assert space.contains(obs)


def assert_plain_info(info: dict[str, Any]) -> None:
    """Checks that ``info`` holds only finite plain scalars and small arrays."""
    for key, value in info.items():
        assert isinstance(key, str)
        if isinstance(value, np.ndarray):
            assert value.size <= MAX_INFO_ARRAY, f"info[{key!r}] has {value.size} entries"
            assert np.issubdtype(value.dtype, np.number), f"info[{key!r}] dtype {value.dtype}"
            assert np.all(np.isfinite(value)), f"info[{key!r}] is not finite"
        else:
            assert isinstance(value, PLAIN_SCALARS), f"info[{key!r}] is {type(value).__name__}"
            assert math.isfinite(float(value)), f"info[{key!r}] = {value}"


def obs_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Exact equality of two observations (same keys, same arrays)."""
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def obs_space(env: gym.Env[Any, Any]) -> gym.spaces.Dict:
    """The env's observation space, typed as the Dict it is."""
    space = env.observation_space
    assert isinstance(space, gym.spaces.Dict)
    return space


def inner(env: gym.Env[Any, Any]) -> RecEnv:
    """The RecEnv (or RecSlateEnv) under ``gym.make``'s wrappers."""
    env_ = env.unwrapped
    assert isinstance(env_, RecEnv)
    return env_
