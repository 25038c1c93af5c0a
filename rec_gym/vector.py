"""A natively batched RecEnv: many simulated users stepped at once in numpy.

:class:`RecVectorEnv` and :class:`RecSlateVectorEnv` are the ``vector_entry_point`` of
``RecEnv-v0`` and ``RecEnv-Slate-v0``, so
``gym.make_vec(id, num_envs=n, vectorization_mode="vector_entry_point")`` returns them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rec_gym.config import RecEnvConfig
from rec_gym.envs.rec_env import (
    CLICK,
    FEATURE_CLIP,
    NO_CLICK,
    PROGRESS_TABLE,
    PURCHASE,
    OracleKind,
    RecEnv,
    RecSlateEnv,
)
from rec_gym.oracles import anti_oracle_items, myopic_items, planning_items
from rec_gym.simulator import StepOutcome, UniformStream
from rec_gym.users import UserState, draw_user_normals, users_from_normals

#: Steps between moves of the history window (see ``RecVectorEnv.__init__``).
HISTORY_SLACK_STEPS = 64


class RecVectorEnv(VectorEnv[dict[str, np.ndarray], np.ndarray, np.ndarray]):
    """``num_envs`` copies of :class:`~rec_gym.envs.rec_env.RecEnv`, stepped together.

    ## Description

    The same world and dynamics as ``num_envs`` single envs, with the users held as one
    batch and every step computed in numpy for all of them at once. Given the same seeds it
    returns exactly what ``gym.make_vec(id, num_envs, vectorization_mode="sync")`` (a
    ``SyncVectorEnv`` of single envs) returns, up to floating-point rounding in the
    ``info`` probabilities: every sub-env ``i`` has its own generator, seeded ``seed + i``
    by ``reset(seed=seed)`` as Gymnasium's vector envs do, and consumes it exactly like the
    single env (user draws at reset, step uniforms in blocks; see
    :class:`~rec_gym.simulator.UniformStream`). All sub-envs share one catalog.

    ## Spaces

    ``single_observation_space`` and ``single_action_space`` are the single env's;
    ``observation_space`` and ``action_space`` batch them (a ``Dict`` of ``[num_envs, ...]``
    arrays; ``MultiDiscrete([N] * num_envs)`` for items, ``[num_envs, K]`` for slates).

    ## Episode End and Autoreset

    Termination is the user leaving; truncation happens after ``max_episode_steps`` steps
    (``gym.make_vec`` passes the registered 50). Autoreset follows Gymnasium 1.x's
    ``NEXT_STEP`` mode (``metadata["autoreset_mode"]``): the step after a sub-env's episode
    ends ignores its action and returns its new user's first observation with reward 0 and
    ``terminated = truncated = False``. ``reset(options={"reset_mask": mask})`` resets only
    the masked sub-envs.

    ## Info

    A dict of arrays with ``_key`` masks, as ``SyncVectorEnv`` builds it: the single env's
    keys for the sub-envs that stepped, ``session_step`` for all.

    ## Arguments

    ``num_envs``, ``max_episode_steps`` (None: never truncate) and every keyword of the
    single env (``RecEnvConfig`` fields, ``config``, ``reward_model``, ``catalog``,
    ``population``). Rendering is not supported, nor the changing-world options
    (``shift_step``, ``n_new_items``, ``purchase_delay``: a ``ValueError`` says to use
    ``vectorization_mode="sync"``).

    >>> import gymnasium as gym
    >>> import rec_gym
    >>> envs = gym.make_vec(
    ...     "RecEnv-v0", num_envs=3, vectorization_mode="vector_entry_point", n_items=50
    ... )
    >>> obs, info = envs.reset(seed=0)
    >>> obs["item_ids"].shape, envs.action_space
    ((3, 10), MultiDiscrete([50 50 50]))
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([0, 1, 2]))
    >>> obs["item_ids"][:, -1].tolist()
    [1, 2, 3]
    """

    metadata: ClassVar[dict[str, Any]] = {  # type: ignore[misc]
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    _env_class: ClassVar[type[RecEnv]] = RecEnv

    def __init__(
        self,
        num_envs: int = 1,
        *,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer):
            raise TypeError(f"num_envs must be an integer, got {num_envs!r}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, int | np.integer)
            or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be None or >= 1, got {max_episode_steps!r}")
        if render_mode is not None:
            raise ValueError(
                f"{type(self).__name__} does not render (render_mode={render_mode!r}); "
                "render a single env from gym.make instead"
            )
        # A single env parses the arguments and builds the world, spaces and simulator.
        template = self._env_class(**kwargs)
        self.config = template.config
        _check_static_world(self.config)
        self.simulator = template.simulator
        self.num_envs = int(num_envs)
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.render_mode = None
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        batch, length = self.num_envs, self.config.history_length
        self._slate_size = self.config.slate_size
        self._state: UserState | None = None
        self._rngs: list[np.random.Generator | None] = [None] * batch
        self._stream = UniformStream(batch, self.simulator.uniforms_per_step(self._slate_size))
        # Histories live in a sliding window [end - L, end) of wider arrays: every sub-env
        # appends K entries per step, so one shared end index serves all, and the window is
        # moved back to the front only once every HISTORY_SLACK_STEPS steps.
        width = length + HISTORY_SLACK_STEPS * self._slate_size
        self._items = np.zeros((batch, width), dtype=np.int64)
        self._feedback = np.zeros((batch, width), dtype=np.int64)
        self._end = length
        self._context = np.zeros((batch, 2 + self.config.user_feature_dim), dtype=np.float32)
        self._steps = np.zeros(batch, dtype=np.int64)
        self._clicks = np.zeros(batch, dtype=np.int64)
        self._autoreset = np.zeros(batch, dtype=bool)
        # Items each user bought this episode: a reset clears just those entries of the
        # [B, N] purchase record instead of whole rows (resets cost O(purchases), not O(N)).
        self._bought: list[list[int]] = [[] for _ in range(batch)]

    # -- Gymnasium vector API ------------------------------------------------------------

    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Draws new users for all sub-envs (or those in ``options["reset_mask"]``).

        Args:
            seed: None (keep each sub-env's generator, or seed it randomly the first time),
                an int (sub-env ``i`` gets ``seed + i``) or one seed (or None) per sub-env.
            options: ``{"reset_mask": bool array [num_envs]}`` resets only the masked ones.

        Returns:
            The batched observation and ``{"session_step", "_session_step"}``.
        """
        batch = self.num_envs
        if seed is None:
            seeds: list[int | None] = [None] * batch
        elif isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            super().reset(seed=int(seed))
            seeds = [int(seed) + i for i in range(batch)]
        elif isinstance(seed, list | tuple):
            seeds = [None if one is None else int(one) for one in seed]
            if len(seeds) != batch:
                raise ValueError(f"seed list must have num_envs={batch} entries, got {len(seeds)}")
        else:
            raise TypeError(f"seed must be None, an int or a list of ints, got {seed!r}")
        mask = self._reset_mask(options)
        if mask is None:
            mask = np.ones(batch, dtype=bool)
        elif self._state is None:
            raise RuntimeError("call reset() without a reset_mask before a partial reset")
        users = np.flatnonzero(mask)
        for user in users.tolist():
            if seeds[user] is not None or self._rngs[user] is None:
                self._rngs[user] = seeding.np_random(seeds[user])[0]
        self._reset_users(users)
        self._autoreset[users] = False
        info = {"session_step": np.zeros(batch, dtype=np.int64), "_session_step": mask.copy()}
        return self._observations(), info

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Recommends ``actions[i]`` to the user of sub-env ``i``, for all i at once.

        Sub-envs whose episode ended on the previous step are reset instead (their action
        is ignored; reward 0, not terminated or truncated).
        """
        state = self._state
        if state is None:
            raise RuntimeError("call reset() before step()")
        resetting = self._autoreset
        active = ~resetting
        any_reset = bool(resetting.any())
        items = self._actions_to_items(actions, active if any_reset else None)  # [B, K]
        best = (
            self.simulator.best_expected_reward(state, self._slate_size)
            if self.config.compute_oracle_info
            else None
        )
        uniforms = self._stream.take(self._rngs, active if any_reset else None)  # type: ignore[arg-type]
        outcome = self.simulator.step_from_uniforms(state, items, uniforms)
        clicks, purchases = outcome.response.clicks, outcome.response.purchases
        codes = np.where(purchases, PURCHASE, np.where(clicks > 0, CLICK, NO_CLICK))
        self._record(items, codes)
        if purchases.any():
            buyers, positions = np.nonzero(purchases)
            for user, item in zip(buyers.tolist(), items[buyers, positions].tolist(), strict=True):
                self._bought[user].append(item)
        rewards = np.asarray(outcome.reward, dtype=np.float64)
        terminated = outcome.left.copy()
        if self.max_episode_steps is None:
            truncated = np.zeros(self.num_envs, dtype=bool)
        else:
            truncated = self._steps >= self.max_episode_steps
        infos = self._step_infos(outcome, best, active, any_reset)
        if any_reset:
            users = np.flatnonzero(resetting)
            rewards[users] = 0.0
            terminated[users] = False
            truncated[users] = False
            self._reset_users(users)
            infos["session_step"][users] = 0
        self._autoreset = terminated | truncated
        return self._observations(), rewards, terminated, truncated, infos

    # -- Reference policies and helpers ------------------------------------------------

    def oracle_actions(self, kind: OracleKind = "myopic", **kwargs: Any) -> np.ndarray:
        """Actions of a reference policy that sees the hidden user states, one per sub-env.

        Args:
            kind: ``"myopic"``, ``"planning"`` or ``"anti"`` (see
                :meth:`rec_gym.envs.rec_env.RecEnv.oracle_action`).
            **kwargs: Passed to the planning oracle.

        Returns:
            Actions in ``action_space``: ``[num_envs]`` items or ``[num_envs, K]`` slates.
        """
        state = self.hidden_state
        if kind == "myopic":
            items = myopic_items(self.simulator, state, self._slate_size)
        elif kind == "planning":
            items = planning_items(self.simulator, state, self._slate_size, **kwargs)
        elif kind == "anti":
            items = anti_oracle_items(self.simulator, state, self._slate_size)
        else:
            raise ValueError(f"kind must be 'myopic', 'planning' or 'anti', got {kind!r}")
        items = items.astype(np.int64)
        return items if self._is_slate_env() else items[:, 0]

    def action_masks(self) -> np.ndarray:
        """Allowed actions per sub-env (items already bought are masked), ``[num_envs, K*N]``.

        The batched form of :meth:`rec_gym.envs.rec_env.RecEnv.action_masks`.
        """
        mask = ~self.hidden_state.purchased
        mask[~mask.any(axis=1)] = True
        return np.tile(mask, self._slate_size) if self._is_slate_env() else mask

    @property
    def hidden_state(self) -> UserState:
        """The users' hidden state, batch ``num_envs`` (for oracles and debugging only)."""
        if self._state is None:
            raise RuntimeError("call reset() first")
        return self._state

    # -- internals -----------------------------------------------------------------------

    def _is_slate_env(self) -> bool:
        return issubclass(self._env_class, RecSlateEnv)

    def _reset_mask(self, options: dict[str, Any] | None) -> np.ndarray | None:
        if not options or "reset_mask" not in options:
            return None
        mask = options["reset_mask"]
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(f"options['reset_mask'] must be a numpy bool array, got {mask!r}")
        if mask.shape != (self.num_envs,):
            raise ValueError(
                f"options['reset_mask'] must have shape ({self.num_envs},), got {mask.shape}"
            )
        if not mask.any():
            raise ValueError("options['reset_mask'] must select at least one sub-env")
        return mask

    def _reset_users(self, users: np.ndarray) -> None:
        """Draws a new user for each sub-env in ``users`` from its own generator."""
        population = self.simulator.population
        width = population.latent_dim + population.feature_projection.shape[0]
        draws = np.empty((users.shape[0], width))
        bought_users: list[int] = []
        bought_items: list[int] = []
        for row, user in enumerate(users.tolist()):
            rng = self._rngs[user]
            assert rng is not None
            # The single env's draws, in its order: the user, then the step uniforms.
            draw_user_normals(population, 1, rng, out=draws[row : row + 1])
            self._stream.refill(user, rng)
            bought = self._bought[user]
            if bought:
                bought_users.extend([user] * len(bought))
                bought_items.extend(bought)
                bought.clear()
        new = users_from_normals(population, 0, draws)  # purchases are reset below
        if self._state is None:
            batch, n_items = self.num_envs, self.config.n_items
            self._state = UserState(
                interest=np.zeros((batch, new.interest.shape[1])),
                satiation=np.zeros((batch, new.satiation.shape[1])),
                patience=np.zeros(batch),
                features=np.zeros((batch, new.features.shape[1])),
                purchased=np.zeros((batch, n_items), dtype=bool),
            )
        state = self._state
        state.interest[users] = new.interest
        state.satiation[users] = new.satiation
        state.patience[users] = new.patience
        state.features[users] = new.features
        state.purchased[bought_users, bought_items] = False
        window = slice(self._end - self.config.history_length, self._end)
        self._items[users, window] = 0
        self._feedback[users, window] = 0
        self._steps[users] = 0
        self._clicks[users] = 0
        self._context[users, 2:] = np.clip(new.features, -FEATURE_CLIP, FEATURE_CLIP)

    def _actions_to_items(self, actions: Any, active: np.ndarray | None) -> np.ndarray:
        n, size, batch = self.config.n_items, self._slate_size, self.num_envs
        array = np.asarray(actions)
        slate = self._is_slate_env()
        shape = (batch, size) if slate else (batch,)
        if array.shape != shape or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"actions must be an integer array of shape {shape} (item indices in [0, {n})), "
                f"got {actions!r}"
            )
        items = array.astype(np.int64).reshape(batch, size)
        checked = items if active is None else items[active]
        if checked.size and (checked.min() < 0 or checked.max() >= n):
            raise ValueError(
                f"actions must be in [0, {n}) (item ids are action + 1), got {actions!r}"
            )
        if active is not None:
            items[~active] = 0  # ignored: those sub-envs reset this step
        return items

    def _record(self, items: np.ndarray, codes: np.ndarray) -> None:
        size, length = items.shape[1], self.config.history_length
        if self._end + size > self._items.shape[1]:  # move the window back to the front
            self._items[:, :length] = self._items[:, self._end - length : self._end]
            self._feedback[:, :length] = self._feedback[:, self._end - length : self._end]
            self._end = length
        self._items[:, self._end : self._end + size] = items + 1
        self._feedback[:, self._end : self._end + size] = codes
        self._end += size
        self._steps += 1
        self._clicks += (codes > NO_CLICK).any(axis=1)

    def _observations(self) -> dict[str, np.ndarray]:
        window = slice(self._end - self.config.history_length, self._end)
        context = self._context.copy()
        context[:, 0] = PROGRESS_TABLE[np.minimum(self._steps, len(PROGRESS_TABLE) - 1)]
        context[:, 1] = self._clicks / np.maximum(self._steps, 1)
        return {
            "item_ids": self._items[:, window].copy(),
            "feedback": self._feedback[:, window].copy(),
            "context": context,
        }

    def _step_infos(
        self, outcome: StepOutcome, best: np.ndarray | None, active: np.ndarray, any_reset: bool
    ) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        if any_reset and not active.any():
            infos["session_step"] = self._steps.copy()
            infos["_session_step"] = np.ones(self.num_envs, dtype=bool)
            return infos
        expected = outcome.expected_reward
        values: dict[str, np.ndarray] = {
            "click": outcome.response.clicks.sum(axis=1).astype(np.int64),
            "purchase": outcome.response.purchases.sum(axis=1).astype(np.int64),
            "expected_reward": expected,
            "duplicates": outcome.duplicates.astype(np.int64),
        }
        if best is not None:
            if self._slate_size == 1:  # the oracle is exact: no rounding below the action's
                best = np.maximum(best, expected)
            values["best_expected_reward"] = best
            values["regret"] = best - expected
        if self.config.debug_info:
            state = self.hidden_state
            values["interest"] = state.interest.copy()
            values["satiation"] = state.satiation.copy()
            values["patience"] = state.patience.copy()
        for key, value in values.items():
            if any_reset:
                value = value.copy()
                value[~active] = 0
            infos[key] = value
            infos[f"_{key}"] = active.copy()
        infos["session_step"] = self._steps.copy()
        infos["_session_step"] = np.ones(self.num_envs, dtype=bool)
        return infos


def _check_static_world(config: RecEnvConfig) -> None:
    """Fails for the changing-world options, which only the single env implements."""
    options = {
        "shift_step": config.shift_step >= 0,
        "n_new_items": config.n_new_items > 0,
        "purchase_delay": config.purchase_delay > 0,
    }
    for name, on in options.items():
        if on:
            raise ValueError(
                f"{name}={getattr(config, name)} (a changing world) is not supported by the "
                'batched env yet; use gym.make_vec(..., vectorization_mode="sync") or '
                "several gym.make envs"
            )


class RecSlateVectorEnv(RecVectorEnv):
    """``num_envs`` copies of :class:`~rec_gym.envs.rec_env.RecSlateEnv`, stepped together.

    See :class:`RecVectorEnv`; actions are ``[num_envs, K]`` slates.

    >>> import gymnasium as gym
    >>> import rec_gym
    >>> envs = gym.make_vec("RecEnv-Slate-v0", num_envs=2, n_items=30, slate_size=3)
    >>> envs.action_space.shape
    (2, 3)
    """

    _env_class = RecSlateEnv
