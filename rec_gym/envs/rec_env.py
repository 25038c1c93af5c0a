"""The Gymnasium environment: one simulated user session per episode."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rec_gym.config import RecEnvConfig
from rec_gym.items import ItemCatalog
from rec_gym.oracles import anti_oracle_items, myopic_items, planning_items
from rec_gym.reward import RewardModel
from rec_gym.simulator import RecSimulator, UniformStream
from rec_gym.users import UserPopulation, UserState, sample_users
from rec_gym.world import WorldSchedule

OracleKind = Literal["myopic", "planning", "anti"]

#: Feedback codes in the observation's ``feedback`` history.
NO_CLICK, CLICK, PURCHASE = 0, 1, 2
#: Observable user features are clipped to ``[-FEATURE_CLIP, FEATURE_CLIP]``.
FEATURE_CLIP = 5.0
#: Session progress ``1 - exp(-t / 50)`` as float32 for t < len; it is exactly 1.0 in float32
#: from t = 867 on, so later steps use the last entry. Single and batched envs share it.
PROGRESS_TABLE = (1.0 - np.exp(-np.arange(1024) / 50.0)).astype(np.float32)
_PROGRESS = PROGRESS_TABLE.tolist()


class RecEnv(gym.Env[dict[str, np.ndarray], Any]):
    """A recommender system talking to one simulated user.

    ## Description

    Each episode is one user's session. The user has a hidden interest vector, per-topic
    satiation (boredom) and patience. Every step the agent recommends an item; the user
    clicks with a probability that grows with affinity (interest . item + item appeal -
    satiation of its topic), and may then buy it. Clicked items pull the user's interest
    toward them (drift); every shown item makes its topic more boring for a while. Clicked
    high-quality items restore patience, clickbait and ignored recommendations drain it,
    and a user out of patience tends to leave. The most clickable items are often the
    least satisfying, so chasing immediate clicks loses users: good policies plan.

    ## Action Space

    ``Discrete(N)``: action ``a`` recommends the item with id ``a + 1`` (ids start at 1;
    0 is padding in observations). ``action_masks()`` marks items the user already bought
    (sb3-contrib's maskable algorithms use it). The slate variant, :class:`RecSlateEnv`,
    takes ``MultiDiscrete([N] * K)``.

    ## Observation Space

    A ``Dict`` of fixed-shape arrays (hidden interest, satiation and patience never appear):

    | Key        | Shape      | Dtype   | Values                                          |
    |------------|------------|---------|-------------------------------------------------|
    | `item_ids` | `(L,)`     | int64   | last L recommended ids, newest last; 0 = padding |
    | `feedback` | `(L,)`     | int64   | 0 = none, 1 = click, 2 = purchase (0 on padding) |
    | `context`  | `(2 + F,)` | float32 | progress, session CTR, F user features           |

    ``context[0]`` is the session progress ``1 - exp(-t / 50)`` after t steps, ``context[1]``
    the fraction of steps with a click so far, and the rest F = ``user_feature_dim`` noisy
    observable user features (a linear view of the hidden interest), clipped to ``[-5, 5]``.
    L = ``history_length`` (a slate of K items adds K entries).

    ## Rewards

    By default ``click_reward * clicks + purchase_reward * purchases`` (1 and 2). Pass a
    ``reward_model`` (see :mod:`rec_gym.reward`) to change it.

    ## Starting State

    A new user is drawn from the population prior with the env's ``np_random``: interest
    ``mean + interest_scale * z``, zero satiation, ``initial_patience``, an empty history.

    ## Episode End

    - Termination: the user leaves. After each step they leave with probability
      ``leave_base_prob + (1 - leave_base_prob) * leave_sensitivity * (1 - patience)``.
    - Truncation: only through ``max_episode_steps`` (50 for the registered ids).

    ## Arguments

    Every field of :class:`rec_gym.config.RecEnvConfig` is a keyword (an unknown one raises
    ``TypeError``, a bad value ``ValueError``). Also ``render_mode="ansi"``, ``config``
    (a whole ``RecEnvConfig``), ``reward_model``, and ``catalog``/``population`` to run
    a calibrated world.

    >>> import gymnasium as gym
    >>> import rec_gym
    >>> env = gym.make("RecEnv-v0", n_items=50, max_episode_steps=20)
    >>> env.action_space
    Discrete(50)
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["item_ids"].shape
    (['context', 'feedback', 'item_ids'], (10,))
    >>> obs, reward, terminated, truncated, info = env.step(0)
    >>> int(obs["item_ids"][-1])
    1

    ## Info

    ``click`` and ``purchase`` counts, ``expected_reward`` of the action,
    ``best_expected_reward`` (the myopic oracle's, when ``compute_oracle_info``),
    ``regret`` (their difference), ``duplicates`` (repeated slate items) and
    ``session_step``. ``debug_info=True`` adds the hidden ``interest``, ``satiation`` and
    ``patience``. In a changing world ``world_step`` is added and, with ``purchase_delay``,
    ``delayed_reward`` (purchase reward credited this step) and ``pending_reward``.

    ## Changing World

    Off by default (see :mod:`rec_gym.world`). The world step counts this instance's
    steps across episodes. ``shift_step``/``shift_duration``/``shift_magnitude`` move the
    population-mean interest (abruptly or gradually) along a direction drawn from
    ``catalog_seed``; users drawn afterwards come from the moved population, and with
    ``shift_current_user`` the user in session moves too. ``n_new_items`` reserves the
    last ids, inactive (masked, never clicked) until ``new_items_step``. With
    ``purchase_delay`` a purchase is reported in ``info["purchase"]`` at click time, but
    its reward (and its feedback code in the history) arrives that many steps later, or
    at the session's last step (set ``session_limit`` to ``max_episode_steps``). The
    batched env does not support these options.

    ## Version History

    - v0: Initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012
    _slate: ClassVar[bool] = False

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        config: RecEnvConfig | None = None,
        reward_model: RewardModel | None = None,
        catalog: ItemCatalog | None = None,
        population: UserPopulation | None = None,
        **overrides: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        base = config if config is not None else RecEnvConfig()
        self.config = base.replace(**overrides) if overrides else base
        if not self._slate and self.config.slate_size != 1:
            raise ValueError(
                f"slate_size={self.config.slate_size} needs the slate env: use "
                "gym.make('RecEnv-Slate-v0', ...)"
            )
        self.render_mode = render_mode
        self.simulator = RecSimulator(self.config, catalog, population, reward_model)
        n, length = self.config.n_items, self.config.history_length
        self.action_space: spaces.Space[Any] = (
            spaces.MultiDiscrete(np.full(self.config.slate_size, n, dtype=np.int64))
            if self._slate
            else spaces.Discrete(n)
        )
        context_dim = 2 + self.config.user_feature_dim
        context_low = np.full(context_dim, -FEATURE_CLIP, dtype=np.float32)
        context_low[:2] = 0.0
        context_high = np.full(context_dim, FEATURE_CLIP, dtype=np.float32)
        context_high[:2] = 1.0
        self.observation_space = spaces.Dict(  # type: ignore[assignment]
            {
                "item_ids": spaces.Box(0, n, shape=(length,), dtype=np.int64),
                "feedback": spaces.Box(0, PURCHASE, shape=(length,), dtype=np.int64),
                "context": spaces.Box(context_low, context_high, dtype=np.float32),
            }
        )
        self._user: UserState | None = None
        self._items = np.zeros(length, dtype=np.int64)
        self._feedback = np.zeros(length, dtype=np.int64)
        self._context = np.zeros(context_dim, dtype=np.float32)  # features part set at reset
        self._step_count = 0
        self._click_count = 0
        self._last_line = ""
        # Step randomness: uniforms drawn from np_random in blocks (see UniformStream).
        self._stream = UniformStream(1, self.simulator.uniforms_per_step(self.config.slate_size))
        self._stream_rng: np.random.Generator | None = None
        # Changing world (all off by default): see rec_gym.world.
        self._world = WorldSchedule(self.config) if self.config.changing_world else None
        self._world_step = 0
        self._user_offset = np.zeros(self.config.latent_dim)
        self._new_items_active = True
        # Delayed purchase rewards: (due session step, amount, session step of the purchase,
        # slate positions bought).
        self._pending: list[tuple[int, float, int, list[int]]] = []
        self._sync_items()

    # -- Gymnasium API -------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Starts a new session with a new user drawn from ``np_random``."""
        super().reset(seed=seed)
        self._sync_items()
        if self._world is not None and self._world.shifts:
            self._user_offset = self._world.mean_offset(self._world_step)
            base = self.simulator.population
            shifted = dataclasses.replace(
                base, mean_interest=base.mean_interest + self._user_offset
            )
            self._user = sample_users(shifted, self.config.n_items, 1, self.np_random)
        else:
            self._user = self.simulator.new_users(1, self.np_random)
        self._pending.clear()
        self._stream.refill(0, self.np_random)  # the steps' draws come right after the user's
        self._stream_rng = self.np_random
        self._items[:] = 0
        self._feedback[:] = 0
        self._context[2:] = np.clip(self._user.features[0], -FEATURE_CLIP, FEATURE_CLIP)
        self._step_count = 0
        self._click_count = 0
        self._last_line = "new user"
        return self._observation(), {"session_step": 0}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Recommends the item (slate) ``action`` to the current user."""
        user = self._user
        if user is None:
            raise RuntimeError("call reset() before step()")
        if self._stream_rng is not self.np_random:  # np_random was replaced mid-episode
            self._stream.clear()
            self._stream_rng = self.np_random
        world = self._world
        if world is not None:
            self._sync_world(user)
        deferred = 0.0
        bought: list[int] = []
        if self._slate:
            items = self._action_to_items(action)  # [1, K], 0-based
            best = (
                float(self.simulator.best_expected_reward(user, items.shape[1])[0])
                if self.config.compute_oracle_info
                else None
            )
            uniforms = self._stream.take_one(self.np_random)
            outcome = self.simulator.step_from_uniforms(user, items, uniforms[None, :])
            clicks, purchases = outcome.response.clicks[0], outcome.response.purchases[0]
            n_clicks, n_purchases = int(clicks.sum()), int(purchases.sum())
            reward = float(outcome.reward[0])
            if self.config.purchase_delay and n_purchases:
                unbought = self.simulator.reward_model.reward(
                    clicks[None, :], np.zeros((1, clicks.shape[0]), dtype=bool)
                )
                deferred = reward - float(unbought[0])
                bought = np.flatnonzero(purchases).tolist()
                purchases = np.zeros_like(purchases)  # revealed when credited
            codes = np.where(purchases, PURCHASE, np.where(clicks > 0, CLICK, NO_CLICK))
            self._record(items[0], codes)
            expected = float(outcome.expected_reward[0])
            terminated = bool(outcome.left[0])
            duplicates = int(outcome.duplicates[0])
        else:
            # Single item: the scalar fast path (numpy call overhead dominates at B = K = 1).
            item = self._item_index(action)
            best = (
                float(self.simulator.best_expected_reward(user, 1)[0])
                if self.config.compute_oracle_info
                else None
            )
            one = self.simulator.step_one(user, item, self._stream.take_one(self.np_random))
            if best is not None:  # the oracle is exact: no rounding below the action's
                best = max(best, one.expected_reward)
            reward = one.reward
            shown_purchase = one.purchase
            if one.purchase and self.config.purchase_delay:
                deferred = reward - self._unbought_reward(one.click)
                bought = [0]
                shown_purchase = False  # revealed in the history when credited
            code = PURCHASE if shown_purchase else (CLICK if one.click else NO_CLICK)
            self._items[:-1] = self._items[1:]
            self._items[-1] = item + 1
            self._feedback[:-1] = self._feedback[1:]
            self._feedback[-1] = code
            self._step_count += 1
            self._click_count += one.click
            n_clicks, n_purchases = int(one.click), int(one.purchase)
            expected, terminated, duplicates = one.expected_reward, one.left, 0
        info: dict[str, Any] = {
            "click": n_clicks,
            "purchase": n_purchases,
            "expected_reward": expected,
            "duplicates": duplicates,
            "session_step": self._step_count,
        }
        if best is not None:
            info["best_expected_reward"] = best
            info["regret"] = best - expected
        if world is not None:
            self._world_step += 1
            self._sync_items()  # masks and oracles now describe the next step's world
            info["world_step"] = self._world_step
        if self.config.purchase_delay:
            reward, credited = self._credit_purchases(reward, deferred, bought, terminated)
            info["delayed_reward"] = credited
            info["pending_reward"] = sum(entry[1] for entry in self._pending)
        if self.config.debug_info:
            info["interest"] = user.interest[0].copy()
            info["satiation"] = user.satiation[0].copy()
            info["patience"] = float(user.patience[0])
        if self.render_mode == "ansi":
            shown = items[0] if self._slate else np.array([item])
            self._last_line = self._describe(shown, reward, terminated, info)
        return self._observation(), reward, terminated, False, info

    def render(self) -> str | None:
        """Returns a one-line description of the last step (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return self._last_line + "\n"

    def action_masks(self) -> np.ndarray:
        """Allowed actions for sb3-contrib's maskable algorithms.

        Items the current user already bought are masked. For slates the mask is the
        per-position masks concatenated (``K * N``, MaskablePPO's format); duplicates within
        a slate cannot be masked in that format and are deduplicated by the env instead.
        """
        if self._user is None:
            mask = np.ones(self.config.n_items, dtype=bool)
        else:
            mask = ~self._user.purchased[0]
            if not self._new_items_active:
                mask[self._world.new_items if self._world is not None else []] = False
            if not mask.any():
                mask = np.ones_like(mask)
        return np.tile(mask, self.config.slate_size) if self._slate else mask

    # -- Reference policies (read the hidden state) --------------------------------------

    def oracle_action(self, kind: OracleKind = "myopic", **kwargs: Any) -> Any:
        """Action of a reference policy that sees the hidden user state.

        Args:
            kind: ``"myopic"`` (best immediate expected reward), ``"planning"`` (look-ahead;
                keywords ``horizon``, ``n_candidates``, ``discount``) or ``"anti"`` (worst).
            **kwargs: Passed to the planning oracle.

        Returns:
            An action in ``action_space``.
        """
        if self._user is None:
            raise RuntimeError("call reset() before oracle_action()")
        size = self.config.slate_size
        if kind == "myopic":
            items = myopic_items(self.simulator, self._user, size)
        elif kind == "planning":
            items = planning_items(self.simulator, self._user, size, **kwargs)
        elif kind == "anti":
            items = anti_oracle_items(self.simulator, self._user, size)
        else:
            raise ValueError(f"kind must be 'myopic', 'planning' or 'anti', got {kind!r}")
        return items[0].astype(np.int64) if self._slate else int(items[0, 0])

    @property
    def world_step(self) -> int:
        """Env steps this instance has taken, across episodes (the changing world's clock)."""
        return self._world_step

    @property
    def new_items(self) -> np.ndarray:
        """0-based indices of the reserved new items (empty unless ``n_new_items``)."""
        if self._world is None:
            return np.zeros(0, dtype=np.int64)
        return self._world.new_items

    @property
    def new_items_active(self) -> bool:
        """Whether the reserved new items are in the catalog now."""
        return self._new_items_active

    def population_mean(self) -> np.ndarray:
        """The population-mean interest new users are drawn around now, ``[latent_dim]``."""
        mean = self.simulator.population.mean_interest
        if self._world is None:
            return mean.copy()
        return mean + self._world.mean_offset(self._world_step)

    @property
    def hidden_state(self) -> UserState:
        """The current user's hidden state (for oracles and debugging, not for agents)."""
        if self._user is None:
            raise RuntimeError("call reset() first")
        return self._user

    # -- internals -----------------------------------------------------------------------

    def _action_to_items(self, action: Any) -> np.ndarray:
        n = self.config.n_items
        flat = np.asarray(action).reshape(-1)
        if flat.shape[0] != self.config.slate_size or not np.issubdtype(flat.dtype, np.integer):
            raise ValueError(
                f"action must be {self.config.slate_size} integer item index(es) in [0, {n}), "
                f"got {action!r}"
            )
        if flat.min() < 0 or flat.max() >= n:
            raise ValueError(f"action {action!r} is outside [0, {n}): item ids are action + 1")
        return flat.astype(np.int64)[None, :]

    def _item_index(self, action: Any) -> int:
        """0-based item index of a single-item action (fast for plain integers)."""
        if isinstance(action, int | np.integer) and not isinstance(action, bool):
            item = int(action)
            if 0 <= item < self.config.n_items:
                return item
        return int(self._action_to_items(action)[0, 0])

    def _sync_items(self) -> None:
        """Activates the reserved new items once the world step reaches their entry."""
        world = self._world
        active = world is None or not world.has_new_items
        if not active:
            assert world is not None
            active = world.new_items_active(self._world_step)
        if active != self._new_items_active:
            self.simulator.set_inactive_items(None if active else world.new_items)  # type: ignore[union-attr]
            self._new_items_active = active

    def _sync_world(self, user: UserState) -> None:
        """Brings the world to the current world step before the user responds."""
        self._sync_items()
        world = self._world
        if world is not None and world.shifts and self.config.shift_current_user:
            offset = world.mean_offset(self._world_step)
            user.interest[0] += offset - self._user_offset
            self._user_offset = offset

    def _unbought_reward(self, click: bool) -> float:
        """Reward of a single-item step's click without its purchase."""
        model = self.simulator.reward_model
        clicks = np.array([[float(click)]])
        return float(model.reward(clicks, np.zeros((1, 1), dtype=bool))[0])

    def _credit_purchases(
        self, reward: float, deferred: float, bought: list[int], terminated: bool
    ) -> tuple[float, float]:
        """Holds back this step's purchase reward and credits the purchases now due.

        A purchase at session step s is credited at step ``s + purchase_delay``, or at the
        session's last step, if that comes first (the user leaves, or ``session_limit`` is
        reached); its feedback code turns from click to purchase in the history then.

        Returns:
            The step's reward (without this step's purchases, with those credited) and the
            amount credited.
        """
        now = self._step_count
        if bought:
            self._pending.append((now + self.config.purchase_delay, deferred, now, bought))
        limit = self.config.session_limit
        last = terminated or (limit > 0 and now >= limit)
        credited = 0.0
        still: list[tuple[int, float, int, list[int]]] = []
        for entry in self._pending:
            due, amount, step, positions = entry
            if due <= now or last:
                credited += amount
                self._reveal(step, positions)
            else:
                still.append(entry)
        self._pending = still
        return reward - deferred + credited, credited

    def _reveal(self, step: int, positions: list[int]) -> None:
        """Marks the purchases of session step ``step`` in the history, if still in view."""
        size = self.config.slate_size
        length = self._feedback.shape[0]
        for position in positions:
            index = length - size * (self._step_count - step + 1) + position
            if index >= 0:
                self._feedback[index] = PURCHASE

    def _record(self, items: np.ndarray, codes: np.ndarray) -> None:
        size = items.shape[0]
        length = self._items.shape[0]
        if size >= length:
            self._items[:] = items[-length:] + 1
            self._feedback[:] = codes[-length:]
        else:
            self._items[:-size] = self._items[size:]
            self._feedback[:-size] = self._feedback[size:]
            self._items[-size:] = items + 1
            self._feedback[-size:] = codes
        self._step_count += 1
        self._click_count += int((codes > NO_CLICK).any())

    def _observation(self) -> dict[str, np.ndarray]:
        context = self._context.copy()
        steps = self._step_count
        context[0] = _PROGRESS[min(steps, len(_PROGRESS) - 1)]
        context[1] = self._click_count / max(steps, 1)
        return {
            "item_ids": self._items.copy(),
            "feedback": self._feedback.copy(),
            "context": context,
        }

    def _describe(self, items: np.ndarray, reward: float, left: bool, info: dict[str, Any]) -> str:
        ids = " ".join(str(int(i) + 1) for i in items)
        best = info.get("best_expected_reward")
        best_text = f" best {best:.2f}" if best is not None else ""
        left_text = " | user left" if left else ""
        return (
            f"step {self._step_count:3d} | items [{ids}] | click {info['click']} "
            f"purchase {info['purchase']} | reward {reward:.2f} | "
            f"expected {info['expected_reward']:.2f}{best_text}{left_text}"
        )


class RecSlateEnv(RecEnv):
    """The slate variant of :class:`RecEnv`: K items per step, ``MultiDiscrete([N] * K)``.

    The user sees the slate with attention ``position_bias ** j`` at position j and picks
    at most one item (multinomial logit with a no-click option) unless
    ``choice_model="cascade"``. A repeated item is shown once: later copies cannot be
    clicked, add no satiation, and are counted in ``info["duplicates"]``. Every slate item
    enters the history in slate order.

    >>> import gymnasium as gym
    >>> import rec_gym
    >>> env = gym.make("RecEnv-Slate-v0", n_items=30, slate_size=3)
    >>> env.action_space
    MultiDiscrete([30 30 30])
    """

    _slate = True

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        if "slate_size" not in kwargs and "config" not in kwargs:
            kwargs["slate_size"] = 5
        if "history_length" not in kwargs and "config" not in kwargs:
            kwargs["history_length"] = 20
        super().__init__(render_mode, **kwargs)
