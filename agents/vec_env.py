"""Stable-Baselines3 on a Gymnasium vector env: the :class:`VectorEnvAdapter`.

SB3 trains on its own ``VecEnv`` interface, which resets a finished sub-env within the same
step (the new episode's first observation is returned, the last one goes to
``info["terminal_observation"]``). Gymnasium 1.x vector envs such as
:class:`rec_gym.vector.RecVectorEnv` autoreset on the *next* step instead. The adapter
converts between the two: when sub-envs finish, it resets just those at once through
``reset(options={"reset_mask": done})``, so SB3 never sees the next-step-autoreset step
(which would be a phantom transition whose action is ignored).

Example:
    >>> import gymnasium as gym
    >>> import rec_gym
    >>> from agents.vec_env import VectorEnvAdapter
    >>> venv = VectorEnvAdapter(
    ...     gym.make_vec("RecEnv-v0", num_envs=4, vectorization_mode="vector_entry_point")
    ... )
    >>> _ = venv.seed(0)  # sub-env i is seeded 0 + i at the next reset
    >>> obs = venv.reset()
    >>> obs["item_ids"].shape
    (4, 10)

Wrap it in ``stable_baselines3.common.vec_env.VecMonitor`` for episode statistics
(``rollout/ep_rew_mean``), as one would wrap single envs in ``Monitor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)


class VectorEnvAdapter(VecEnv):
    """A Gymnasium ``VectorEnv`` seen as an SB3 ``VecEnv``.

    Given the same seeds (``seed()`` before ``reset()``, sub-env i gets ``seed + i``) it
    returns what a ``DummyVecEnv`` of the corresponding single envs returns: observations,
    ``float32`` rewards, dones, and per-env info dicts with ``TimeLimit.truncated`` and,
    on episode ends, ``terminal_observation``.

    Supports all three Gymnasium autoreset modes: ``NEXT_STEP`` and ``DISABLED`` (the
    vector env must accept ``options={"reset_mask": ...}`` in ``reset``, as Gymnasium's own
    vector envs and rec-gym's batched env do) and ``SAME_STEP`` (``final_obs`` and
    ``final_info`` in the infos).

    A batched env has no per-env objects: ``get_attr``/``set_attr`` read and write the
    vector env's own attribute for every index, and ``env_method`` calls the vector env's
    method once and splits a result with one row per sub-env (``action_masks`` for
    sb3-contrib's maskable algorithms works that way).

    Args:
        env: The vector env (its ``metadata["autoreset_mode"]`` decides the conversion;
            ``NEXT_STEP`` when missing, Gymnasium's default).
    """

    def __init__(self, env: VectorEnv) -> None:
        if not isinstance(env, VectorEnv):
            raise TypeError(f"env must be a gymnasium.vector.VectorEnv, got {type(env).__name__}")
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if not isinstance(mode, AutoresetMode):
            mode = AutoresetMode(mode)
        self.env = env
        self.autoreset_mode = mode
        self._actions: np.ndarray | None = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    # -- VecEnv API ----------------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        """Resets every sub-env, with the seeds and options set since the last reset."""
        seeds = None if all(seed is None for seed in self._seeds) else list(self._seeds)
        obs, info = self.env.reset(seed=seeds, options=self._shared_options())  # type: ignore[arg-type]
        self.reset_infos = self._split_infos(info)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Stores the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Steps every sub-env; finished ones are reset at once (SB3 semantics)."""
        if self._actions is None:
            raise RuntimeError("call step_async() (or step()) before step_wait()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        infos = self._split_infos(info)
        for index, env_info in enumerate(infos):
            env_info["TimeLimit.truncated"] = bool(truncated[index] and not terminated[index])
        if dones.any():
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                self._same_step_finals(info, infos, dones)
            else:
                obs = self._reset_done(obs, infos, dones)
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        """Closes the vector env."""
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The vector env's attribute, once per requested index."""
        value = getattr(self.env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets the vector env's (shared) attribute; only all indices at once are allowed."""
        if len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("a vector env's attributes are shared: set them for all indices")
        setattr(self.env, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Calls the vector env's method once; a per-sub-env result is split by index."""
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        chosen = list(self._get_indices(indices))
        if isinstance(result, np.ndarray | Sequence) and len(result) == self.num_envs:
            return [result[index] for index in chosen]
        return [result for _ in chosen]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Always False: the sub-envs of a vector env are not single gym envs to wrap."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No images: vector envs are not rendered through the adapter."""
        return [None for _ in range(self.num_envs)]

    # -- internals -----------------------------------------------------------------------

    def _shared_options(self) -> dict[str, Any] | None:
        options = [option for option in self._options if option]
        if not options:
            return None
        if len(options) != self.num_envs or any(option != options[0] for option in options):
            raise ValueError("a vector env takes one options dict for all sub-envs")
        return dict(options[0])

    def _reset_done(self, obs: Any, infos: list[dict[str, Any]], dones: np.ndarray) -> VecEnvObs:
        """Moves the finished sub-envs' last observations to ``terminal_observation`` and
        replaces them by the first observations of their next episodes."""
        done_indices = np.flatnonzero(dones).tolist()
        for index in done_indices:
            infos[index]["terminal_observation"] = _row(obs, index)
        reset_obs, reset_info = self.env.reset(options={"reset_mask": dones.copy()})
        reset_infos = self._split_infos(reset_info)
        for index in done_indices:
            self.reset_infos[index] = reset_infos[index]
        if isinstance(obs, dict):
            for key, value in obs.items():
                value[dones] = reset_obs[key][dones]
        else:
            obs[dones] = reset_obs[dones]
        return obs

    def _same_step_finals(
        self, info: dict[str, Any], infos: list[dict[str, Any]], dones: np.ndarray
    ) -> None:
        """SAME_STEP: the infos of finished sub-envs are their reset infos, with the last
        step's observation and info under ``final_obs`` and ``final_info``."""
        if "final_obs" not in info:
            raise KeyError("a SAME_STEP vector env must put final_obs in its infos")
        final_infos = self._split_infos(info.get("final_info", {}))
        for index in np.flatnonzero(dones).tolist():
            current = infos[index]
            truncated = current.pop("TimeLimit.truncated")
            current.pop("final_info", None)
            final_obs = current.pop("final_obs")
            self.reset_infos[index] = current
            infos[index] = {
                **final_infos[index],
                "TimeLimit.truncated": truncated,
                "terminal_observation": final_obs,
            }

    def _split_infos(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Gymnasium's dict of arrays with ``_key`` masks -> one plain dict per sub-env."""
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, value in info.items():
            if key.startswith("_") and key[1:] in info:
                continue
            mask = info.get(f"_{key}")
            nested = self._split_infos(value) if isinstance(value, dict) else None
            for index in range(self.num_envs):
                if mask is not None and not mask[index]:
                    continue
                if nested is not None:
                    infos[index][key] = nested[index]
                else:
                    infos[index][key] = _plain(value[index])
        return infos


def _row(obs: Any, index: int) -> Any:
    """Sub-env ``index``'s observation (a copy) from a batched observation."""
    if isinstance(obs, dict):
        return {key: _row(value, index) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_row(value, index) for value in obs)
    return np.array(obs[index], copy=True)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar a single env would return; arrays copied."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.copy()
    return value
