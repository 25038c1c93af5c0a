"""Classic (non-SB3) recommenders behind one interface, and a name -> baseline registry.

Every baseline implements :class:`Recommender` and works with both the single-item
:class:`~rec_gym.envs.rec_env.RecEnv` (``Discrete(N)``) and the slate
:class:`~rec_gym.envs.rec_env.RecSlateEnv` (``MultiDiscrete([N] * K)``; a slate is the K
distinct best-scored items).

- Reference policies reading the hidden user state: :class:`MyopicOracle`,
  :class:`PlanningOracle`, :class:`AntiOracle`.
- Non-learning: :class:`RandomRecommender`.
- Online learners, updated after every step from the feedback they observe and keeping
  what they learned across episodes: :class:`PopularityRecommender`,
  :class:`EpsilonGreedyRecommender`, :class:`LinUCBRecommender`.

Example:
    >>> import gymnasium as gym
    >>> import rec_gym
    >>> from agents.baselines import make_baseline
    >>> env = gym.make("RecEnv-v0", n_items=30)
    >>> policy = make_baseline("linucb", seed=0)
    >>> obs, info = env.reset(seed=0)
    >>> policy.begin_episode(env.unwrapped)
    >>> action = policy.act(obs, env.unwrapped)
    >>> env.action_space.contains(action)
    True
    >>> make_baseline("linucp", seed=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: unknown baseline 'linucp'; did you mean 'linucb'? (valid: random, ...)
"""

from __future__ import annotations

import abc
import difflib
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from rec_gym.envs.rec_env import CLICK, PURCHASE, RecEnv

Observation = dict[str, np.ndarray]


class Recommender(abc.ABC):
    """A policy that recommends items to one simulated user session at a time.

    The evaluation loop calls :meth:`begin_episode` after every ``reset``, :meth:`act` for
    each step and :meth:`observe` after each step. Online learners keep what they learned
    across episodes; :meth:`begin_episode` only resets per-session state.

    Attributes:
        name: Short name used in result tables.
    """

    name: str = "recommender"

    def begin_episode(self, env: RecEnv) -> None:  # noqa: B027 (optional hook)
        """Called after each ``reset``; ``env`` is the unwrapped env (oracles read it)."""

    @abc.abstractmethod
    def act(self, observation: Observation, env: RecEnv) -> Any:
        """Returns an action in ``env.action_space`` for the current observation."""

    def observe(  # noqa: B027 (optional hook)
        self,
        observation: Observation,
        action: Any,
        reward: float,
        info: dict[str, Any],
        next_observation: Observation,
    ) -> None:
        """Online update after each step (the default learns nothing)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# -- helpers shared by the baselines ------------------------------------------------------


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator, got {type(rng).__name__}; "
            "pass np.random.default_rng(seed)"
        )
    return rng


def unwrap_rec_env(env: Any) -> RecEnv:
    """The :class:`RecEnv` under any wrappers (TypeError for another kind of env)."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, RecEnv):
        raise TypeError(
            f"env must be a rec_gym RecEnv (or a wrapper of one), got {type(env).__name__}"
        )
    return base


def _n_items(env: Any) -> int:
    space = env.action_space
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec[0])
    raise TypeError(f"env.action_space must be Discrete or MultiDiscrete, got {space}")


def _slate_size(env: Any) -> int:
    space = env.action_space
    return int(space.nvec.size) if isinstance(space, spaces.MultiDiscrete) else 1


def _to_action(items: np.ndarray, env: Any) -> Any:
    """Turns K 0-based item indices into an action of ``env.action_space``."""
    if isinstance(env.action_space, spaces.MultiDiscrete):
        return np.asarray(items, dtype=np.int64).reshape(-1)
    return int(np.asarray(items).reshape(-1)[0])


def action_items(action: Any) -> np.ndarray:
    """The 0-based item indices of an action (an int, or a slate array), shape ``[K]``."""
    return np.asarray(action, dtype=np.int64).reshape(-1)


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties broken at random with ``rng``.

    Example:
        >>> import numpy as np
        >>> top_k(np.array([0.1, 0.7, 0.3]), 2, np.random.default_rng(0)).tolist()
        [1, 2]
    """
    if k == 1:
        best = np.flatnonzero(scores == scores.max())
        return best[rng.integers(best.size)][None] if best.size > 1 else best
    keys = np.stack([rng.random(scores.shape[0]), -scores])  # the last key sorts first
    return np.lexsort(keys)[:k]


def _random_slate(n_items: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if k == 1:
        return rng.integers(n_items, size=1)
    return rng.choice(n_items, size=k, replace=False)


def position_feedback(
    action: Any, info: dict[str, Any], next_observation: Observation
) -> tuple[np.ndarray, np.ndarray]:
    """Observed clicks and purchases of each recommended position, each ``[K]`` bool.

    A single item reads ``info["click"]`` and ``info["purchase"]``; a slate reads its K
    newest entries of the observation's feedback history (positions older than the
    history length count as not clicked).
    """
    items = action_items(action)
    k = items.size
    if k == 1:
        return np.array([info["click"] > 0]), np.array([info["purchase"] > 0])
    codes = np.zeros(k, dtype=np.int64)
    feedback = np.asarray(next_observation["feedback"])
    visible = min(k, feedback.size)
    codes[k - visible :] = feedback[feedback.size - visible :]
    return codes >= CLICK, codes == PURCHASE


def position_rewards(
    action: Any,
    reward: float,
    info: dict[str, Any],
    next_observation: Observation,
    weights: tuple[float, float] = (1.0, 2.0),
) -> np.ndarray:
    """Splits a step's reward over the positions of the recommended slate, ``[K]``.

    A single item gets the whole reward. In a slate each position gets a share
    proportional to ``click_weight * click + purchase_weight * purchase`` (exact for the
    default reward), or an equal share when no position was clicked.

    Args:
        action: The action taken.
        reward: The step's reward.
        info: The step's info.
        next_observation: The observation after the step.
        weights: ``(click_reward, purchase_reward)`` of the env's config.
    """
    clicks, purchases = position_feedback(action, info, next_observation)
    if clicks.size == 1:
        return np.array([float(reward)])
    share = weights[0] * clicks + weights[1] * purchases
    total = share.sum()
    if total == 0:
        return np.full(clicks.size, float(reward) / clicks.size)
    return float(reward) * share / total


class _ItemTable:
    """Per-item arrays sized to the catalog on first use."""

    def __init__(self) -> None:
        self.n_items = 0

    def ensure(self, env: Any) -> int:
        n_items = _n_items(env)
        if self.n_items == 0:
            self.n_items = n_items
            self.allocate(n_items)
        elif n_items != self.n_items:
            raise ValueError(
                f"this recommender learned on {self.n_items} items but the env has {n_items}; "
                "create a new recommender for a different catalog"
            )
        return n_items

    def allocate(self, n_items: int) -> None:
        raise NotImplementedError


# -- reference policies -------------------------------------------------------------------


class RandomRecommender(Recommender):
    """Recommends uniformly random items (K distinct ones for a slate).

    Args:
        rng: Generator for every draw.
    """

    name = "random"

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = _check_rng(rng)

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """A uniformly random action."""
        return _to_action(_random_slate(_n_items(env), _slate_size(env), self.rng), env)


class MyopicOracle(Recommender):
    """The item (slate) with the highest immediate expected reward, from the hidden state."""

    name = "myopic"

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The myopic oracle's action."""
        return unwrap_rec_env(env).oracle_action("myopic")


class AntiOracle(Recommender):
    """The item(s) with the lowest immediate expected reward: a lower bound."""

    name = "anti"

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The anti-oracle's action."""
        return unwrap_rec_env(env).oracle_action("anti")


class PlanningOracle(Recommender):
    """Short-horizon look-ahead on the hidden state (slow: a few ms per step).

    Args:
        horizon: Look-ahead steps (>= 1).
        n_candidates: Candidate items evaluated per step (>= 1).
    """

    name = "planning"

    def __init__(self, horizon: int = 10, n_candidates: int = 20) -> None:
        for key, value in (("horizon", horizon), ("n_candidates", n_candidates)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
        self.horizon = int(horizon)
        self.n_candidates = int(n_candidates)

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The planning oracle's action."""
        return unwrap_rec_env(env).oracle_action(
            "planning", horizon=self.horizon, n_candidates=self.n_candidates
        )


# -- online learners ----------------------------------------------------------------------


class PopularityRecommender(Recommender, _ItemTable):
    """Recommends the items with the highest click-through rate observed so far.

    Each item's CTR is ``(clicks + prior_clicks) / (impressions + prior_impressions)``,
    counted over every episode from the clicks this recommender observes (never from
    hidden state). Unseen items start at the prior mean, so the default 1/2 explores
    items until their observed CTR drops below it. Ties are broken at random.

    Args:
        rng: Generator for tie-breaking.
        prior_clicks: Pseudo-clicks of the prior (>= 0).
        prior_impressions: Pseudo-impressions of the prior (> 0, >= ``prior_clicks``).
    """

    name = "popularity"

    def __init__(
        self, rng: np.random.Generator, prior_clicks: float = 1.0, prior_impressions: float = 2.0
    ) -> None:
        _ItemTable.__init__(self)
        self.rng = _check_rng(rng)
        if not 0.0 <= float(prior_clicks) < math.inf:
            raise ValueError(f"prior_clicks must be a number >= 0, got {prior_clicks!r}")
        if not float(prior_clicks) <= float(prior_impressions) < math.inf or prior_impressions <= 0:
            raise ValueError(
                f"prior_impressions must be > 0 and >= prior_clicks ({prior_clicks}), "
                f"got {prior_impressions!r}"
            )
        self.prior_clicks = float(prior_clicks)
        self.prior_impressions = float(prior_impressions)
        self.clicks = np.zeros(0)
        self.impressions = np.zeros(0)

    def allocate(self, n_items: int) -> None:
        """Creates the click and impression counters."""
        self.clicks = np.zeros(n_items)
        self.impressions = np.zeros(n_items)

    def begin_episode(self, env: RecEnv) -> None:
        """Sizes the counters to the catalog (kept across episodes)."""
        self.ensure(env)

    def estimates(self) -> np.ndarray:
        """Current CTR estimate of every item, ``[N]``."""
        return (self.clicks + self.prior_clicks) / (self.impressions + self.prior_impressions)

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The highest-CTR items."""
        self.ensure(env)
        return _to_action(top_k(self.estimates(), _slate_size(env), self.rng), env)

    def observe(
        self,
        observation: Observation,
        action: Any,
        reward: float,
        info: dict[str, Any],
        next_observation: Observation,
    ) -> None:
        """Counts one impression per shown item and the observed clicks."""
        items = action_items(action)
        clicks, _ = position_feedback(action, info, next_observation)
        np.add.at(self.impressions, items, 1.0)
        np.add.at(self.clicks, items, clicks.astype(np.float64))


class EpsilonGreedyRecommender(Recommender, _ItemTable):
    """Per-item mean-reward bandit: explores at random with probability ``epsilon``.

    Otherwise recommends the items with the highest mean observed reward (unseen items
    count as ``initial_value``; ties at random). In a slate every position is credited
    with its share of the step's reward (see :func:`position_rewards`).

    Args:
        rng: Generator for exploration and tie-breaking.
        epsilon: Exploration probability in ``[0, 1]``.
        initial_value: Estimate of an item never shown.
    """

    name = "epsilon-greedy"

    def __init__(
        self, rng: np.random.Generator, epsilon: float = 0.1, initial_value: float = 0.0
    ) -> None:
        _ItemTable.__init__(self)
        self.rng = _check_rng(rng)
        if not 0.0 <= float(epsilon) <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], e.g. 0.1, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.initial_value = float(initial_value)
        self.reward_sums = np.zeros(0)
        self.counts = np.zeros(0)
        self._weights = (1.0, 2.0)

    def allocate(self, n_items: int) -> None:
        """Creates the reward sums and counts."""
        self.reward_sums = np.zeros(n_items)
        self.counts = np.zeros(n_items)

    def begin_episode(self, env: RecEnv) -> None:
        """Sizes the tables to the catalog (kept across episodes)."""
        self.ensure(env)
        config = unwrap_rec_env(env).config
        self._weights = (config.click_reward, config.purchase_reward)

    def estimates(self) -> np.ndarray:
        """Mean observed reward of every item, ``[N]``."""
        seen = self.counts > 0
        means = np.full(self.counts.shape, self.initial_value)
        means[seen] = self.reward_sums[seen] / self.counts[seen]
        return means

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """Explores with probability epsilon, else the best mean reward."""
        n_items = self.ensure(env)
        k = _slate_size(env)
        if self.rng.random() < self.epsilon:
            return _to_action(_random_slate(n_items, k, self.rng), env)
        return _to_action(top_k(self.estimates(), k, self.rng), env)

    def observe(
        self,
        observation: Observation,
        action: Any,
        reward: float,
        info: dict[str, Any],
        next_observation: Observation,
    ) -> None:
        """Adds the step's (per-position) reward to the shown items' means."""
        items = action_items(action)
        shares = position_rewards(action, reward, info, next_observation, self._weights)
        np.add.at(self.reward_sums, items, shares)
        np.add.at(self.counts, items, 1.0)


class LinUCBRecommender(Recommender):
    """Shared-parameter LinUCB over public item features, user context and session history.

    The expected reward of showing item i now is modelled as ``theta . x_i``. The features
    (d = 1 + (T + 3) + 7 + F * T: 61 for the default world, 21 without the user block) are:

    - a bias, and the item's public features: topic one-hot (T), price, quality score,
      popularity;
    - a summary of the observation's history window, each entry weighted by
      ``history_decay ** age`` (age in steps): how much the item's topic was shown (a
      boredom proxy) and clicked, whether the item itself was shown or bought, and the mean
      price, quality score and popularity of the clicked items times the item's own;
    - the observed user features (F) crossed with the item's topic one-hot, so users with
      different features can prefer different topics.

    It recommends the items with the largest upper confidence bound
    ``theta . x + alpha * sqrt(x^T A^-1 x)`` and, after every step, updates
    ``A += x x^T``, ``b += r x`` for each shown item (a slate splits the reward over its
    positions, see :func:`position_rewards`), keeping ``A^-1`` current with
    Sherman-Morrison updates (O(d^2) each). Scoring all items costs at most O(N d^2) and
    exploits the sparsity of the user block (see :meth:`scores`). It learns across
    episodes; only public information (catalog public features, observations, rewards)
    is used, never the hidden user state.

    Args:
        rng: Generator for tie-breaking.
        alpha: Exploration width (>= 0).
        ridge: Ridge prior ``A = ridge * I`` (> 0).
        history_decay: Per-step decay of the history summary, in ``[0, 1]``.
        user_topic_interactions: Whether to include the F * T user-feature x topic block.
    """

    name = "linucb"
    #: Exact re-inversion of ``A`` every this many rank-1 updates (numerical hygiene).
    refresh_every = 1000

    def __init__(
        self,
        rng: np.random.Generator,
        alpha: float = 1.0,
        ridge: float = 1.0,
        history_decay: float = 0.8,
        user_topic_interactions: bool = True,
    ) -> None:
        self.rng = _check_rng(rng)
        if not 0.0 <= float(alpha) < math.inf:
            raise ValueError(f"alpha must be a finite number >= 0, e.g. 1.0, got {alpha!r}")
        if not 0.0 < float(ridge) < math.inf:
            raise ValueError(f"ridge must be a finite number > 0, e.g. 1.0, got {ridge!r}")
        if not 0.0 <= float(history_decay) <= 1.0:
            raise ValueError(f"history_decay must be in [0, 1], got {history_decay!r}")
        self.alpha = float(alpha)
        self.ridge = float(ridge)
        self.history_decay = float(history_decay)
        self.user_topic_interactions = bool(user_topic_interactions)
        self.dim = 0
        self.A: np.ndarray = np.zeros((0, 0))
        self.A_inv: np.ndarray = np.zeros((0, 0))
        self.b: np.ndarray = np.zeros(0)
        self._updates = 0
        self._static = np.zeros((0, 0))  # [N, 1 + T + 3]
        self._topic = np.zeros(0, dtype=np.int64)  # [N]
        self._n_topics = 0
        self._n_user = 0
        self._cross_dim = 0
        self._slate = 1
        self._weights = (1.0, 2.0)

    # -- public API ---------------------------------------------------------------------

    def begin_episode(self, env: RecEnv) -> None:
        """Reads the catalog's public features (the learned model is kept)."""
        base = unwrap_rec_env(env)
        catalog = base.simulator.catalog
        public = catalog.public_features().astype(np.float64)  # [N, T + 3]
        n_items = public.shape[0]
        self._n_topics = catalog.n_topics
        self._topic = public[:, : self._n_topics].argmax(axis=1)
        self._static = np.concatenate([np.ones((n_items, 1)), public], axis=1)
        self._n_user = base.config.user_feature_dim
        self._slate = _slate_size(base)
        self._weights = (base.config.click_reward, base.config.purchase_reward)
        self._cross_dim = self._n_user * self._n_topics if self.user_topic_interactions else 0
        dim = self._static.shape[1] + 7 + self._cross_dim
        if self.dim == 0:
            self.dim = dim
            self.A = self.ridge * np.eye(dim)
            self.A_inv = np.eye(dim) / self.ridge
            self.b = np.zeros(dim)
        elif dim != self.dim:
            raise ValueError(
                f"this LinUCB learned {self.dim} features but the env gives {dim}; create a "
                "new recommender for a world with different topics or user features"
            )

    @property
    def theta(self) -> np.ndarray:
        """Current ridge-regression weights ``A^-1 b``, ``[d]``."""
        return self.A_inv @ self.b

    def features(self, observation: Observation, items: np.ndarray | None = None) -> np.ndarray:
        """Feature vectors of some items (all when None) given the observation, ``[n, d]``.

        Layout: the dense part (bias, public features, history summary) first, then the
        ``T * F`` user-feature x topic block (row-major by topic).
        """
        rows = self._rows(items)
        dense = self._dense_features(observation, rows)
        if not self._cross_dim:
            return dense
        cross = np.zeros((rows.size, self._n_topics, self._n_user))
        cross[np.arange(rows.size), self._topic[rows]] = self._user_features(observation)
        return np.concatenate([dense, cross.reshape(rows.size, -1)], axis=1)

    def scores(self, observation: Observation) -> tuple[np.ndarray, np.ndarray]:
        """Predicted reward ``theta . x`` and confidence width ``sqrt(x^T A^-1 x)``, ``[N]`` each.

        Equal to the dense computation over :meth:`features`, but exploits that an item's
        user block is non-zero only at its own topic: O(N d_dense^2 + T d F) instead of
        O(N d^2), with no large matrix product (which keeps multi-threaded BLAS out of the
        hot loop).
        """
        rows = self._rows(None)
        dense = self._dense_features(observation, rows)  # [N, D]
        size = dense.shape[1]
        theta = self.theta
        p_dense = self.A_inv[:size, :size]
        mean = dense @ theta[:size]
        quad = np.einsum("nd,de,ne->n", dense, p_dense, dense)
        if self._cross_dim:
            topics, n_user = self._n_topics, self._n_user
            user = self._user_features(observation)  # [F]
            topic = self._topic
            mean += (theta[size:].reshape(topics, n_user) @ user)[topic]
            p_mixed = self.A_inv[:size, size:].reshape(size, topics, n_user)
            mixed = np.einsum("dtf,f->td", p_mixed, user)  # [T, D]
            quad += 2.0 * np.einsum("nd,nd->n", dense, mixed[topic])
            p_cross = self.A_inv[size:, size:].reshape(topics, n_user, topics, n_user)
            blocks = p_cross[np.arange(topics), :, np.arange(topics), :]  # [T, F, F]
            quad += np.einsum("f,tfg,g->t", user, blocks, user)[topic]
        return mean, np.sqrt(np.maximum(quad, 0.0))

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The items with the largest upper confidence bound."""
        if self.dim == 0:
            self.begin_episode(env)
        mean, width = self.scores(observation)
        return _to_action(top_k(mean + self.alpha * width, _slate_size(env), self.rng), env)

    def observe(
        self,
        observation: Observation,
        action: Any,
        reward: float,
        info: dict[str, Any],
        next_observation: Observation,
    ) -> None:
        """Ridge-regression update with each shown item's (share of the) reward."""
        items = action_items(action)
        shares = position_rewards(action, reward, info, next_observation, self._weights)
        for x, r in zip(self.features(observation, items), shares, strict=True):
            self.update(x, float(r))

    def update(self, x: np.ndarray, reward: float) -> None:
        """One rank-1 update of ``A``, ``b`` and ``A^-1`` (Sherman-Morrison)."""
        self.A += np.outer(x, x)
        self.b += reward * x
        ax = self.A_inv @ x
        self.A_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
        self._updates += 1
        if self._updates % self.refresh_every == 0:
            self.A_inv = np.linalg.inv(self.A)

    # -- internals ----------------------------------------------------------------------

    def _rows(self, items: np.ndarray | None) -> np.ndarray:
        if self.dim == 0:
            raise RuntimeError("call begin_episode(env) before using LinUCBRecommender")
        if items is None:
            return np.arange(self._static.shape[0])
        return np.asarray(items, dtype=np.int64).reshape(-1)

    def _user_features(self, observation: Observation) -> np.ndarray:
        return np.asarray(observation["context"], dtype=np.float64)[2:] / 2.0

    def _dense_features(self, observation: Observation, rows: np.ndarray) -> np.ndarray:
        shown_topic, clicked_topic, shown_item, bought_item, clicked_mean = self._history_summary(
            observation
        )
        topic = self._topic[rows]
        summary = np.stack(
            [shown_topic[topic], clicked_topic[topic], shown_item[rows], bought_item[rows]],
            axis=1,
        )
        clicked = self._static[rows, -3:] * clicked_mean
        return np.concatenate([self._static[rows], summary, clicked], axis=1)

    def _history_summary(
        self, observation: Observation
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ids = np.asarray(observation["item_ids"], dtype=np.int64)
        codes = np.asarray(observation["feedback"], dtype=np.int64)
        length = ids.size
        age = (length - 1 - np.arange(length)) // self._slate  # in steps, 0 = newest
        valid = ids > 0
        index = ids[valid] - 1
        weight = self.history_decay ** age[valid]
        clicked = codes[valid] >= CLICK
        topics = self._topic[index]
        n_items = self._static.shape[0]
        shown_topic = np.bincount(topics, weights=weight, minlength=self._n_topics)
        clicked_topic = np.bincount(topics, weights=weight * clicked, minlength=self._n_topics)
        shown_item = np.bincount(index, weights=weight, minlength=n_items)
        bought_item = np.bincount(index, weights=codes[valid] == PURCHASE, minlength=n_items)
        clicked_weight = weight * clicked
        if clicked_weight.sum() > 0:
            clicked_mean = (clicked_weight @ self._static[index, -3:]) / clicked_weight.sum()
        else:
            clicked_mean = np.zeros(3)
        return shown_topic, clicked_topic, shown_item, np.minimum(bought_item, 1.0), clicked_mean


# -- registry -----------------------------------------------------------------------------


def _seeded(cls: type[Recommender]) -> Callable[..., Recommender]:
    def build(seed: int, **kwargs: Any) -> Recommender:
        return cls(np.random.default_rng(seed), **kwargs)  # type: ignore[call-arg]

    build.__wrapped__ = cls  # type: ignore[attr-defined]
    return build


def _unseeded(cls: type[Recommender]) -> Callable[..., Recommender]:
    def build(seed: int, **kwargs: Any) -> Recommender:
        return cls(**kwargs)

    build.__wrapped__ = cls  # type: ignore[attr-defined]
    return build


BASELINES: dict[str, Callable[..., Recommender]] = {
    "random": _seeded(RandomRecommender),
    "popularity": _seeded(PopularityRecommender),
    "myopic": _unseeded(MyopicOracle),
    "planning": _unseeded(PlanningOracle),
    "anti": _unseeded(AntiOracle),
    "epsilon-greedy": _seeded(EpsilonGreedyRecommender),
    "linucb": _seeded(LinUCBRecommender),
}


def baseline_names() -> list[str]:
    """Names accepted by :func:`make_baseline`."""
    return list(BASELINES)


def make_baseline(name: str, *, seed: int, **kwargs: Any) -> Recommender:
    """Builds a baseline recommender by name.

    Args:
        name: One of :func:`baseline_names`.
        seed: Seed of the recommender's own generator (oracles draw nothing).
        **kwargs: Constructor arguments of the baseline (e.g. ``epsilon=0.05``).

    Returns:
        The recommender.

    Raises:
        ValueError: Unknown name (the closest valid one is suggested) or bad argument value.
        TypeError: An argument the baseline does not take.
    """
    if name not in BASELINES:
        close = difflib.get_close_matches(str(name), list(BASELINES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown baseline {name!r}{hint} (valid: {', '.join(BASELINES)})")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    factory = BASELINES[name]
    cls = factory.__wrapped__  # type: ignore[attr-defined]
    accepted = [p for p in inspect.signature(cls).parameters if p != "rng"]
    for key in kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            valid = ", ".join(accepted) or "none"
            raise TypeError(
                f"baseline {name!r} got an unknown parameter {key!r}{hint} (valid: {valid})"
            )
    return factory(int(seed), **kwargs)
