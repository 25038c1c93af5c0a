"""The episode-evaluation loop: run a recommender on fresh user sessions and measure it.

:func:`evaluate` plays ``n_episodes`` sessions with common random numbers (episode ``i``
resets with ``seed + i``, so every policy meets the same users) and returns an
:class:`EvaluationResult`: per-episode records and aggregate metrics with 95% confidence
intervals. :class:`SB3Recommender` lets a trained stable-baselines3 model take part.

Example:
    >>> import gymnasium as gym
    >>> import rec_gym
    >>> from agents.baselines import make_baseline
    >>> from agents.evaluation import evaluate
    >>> result = evaluate(
    ...     lambda: gym.make("RecEnv-v0", n_items=30), make_baseline("random", seed=0),
    ...     n_episodes=3, seed=0,
    ... )
    >>> result.n_episodes, sorted(result.summary_row())[:3]
    (3, ['catalog_coverage', 'ctr', 'ctr_ci95'])
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.baselines import Observation, Recommender, action_items, unwrap_rec_env
from rec_gym.envs.rec_env import RecEnv
from rec_gym.metrics import (
    catalog_coverage,
    gini,
    intra_list_diversity,
    mean_confidence_interval,
    novelty,
)

#: Metrics with a confidence interval over episodes, in table order.
CI_METRICS = (
    "return",
    "ctr",
    "purchase_rate",
    "session_length",
    "leave_rate",
    "regret",
    "intra_list_diversity",
    "novelty",
)


@dataclass(frozen=True)
class EpisodeRecord:
    """What happened in one evaluated session.

    Attributes:
        seed: The ``reset`` seed of the episode.
        episode_return: Sum of rewards.
        clicks: Number of clicks.
        purchases: Number of purchases.
        length: Number of steps.
        terminated: Whether the user left (the env ended the episode).
        truncated: Whether the session hit the step cap.
        regret: Sum of ``info["regret"]`` (expected-reward gap to the myopic oracle); NaN
            when the env does not report it (``compute_oracle_info=False``).
        item_indices: Exposed item indices (0-based, = action values) in order; a slate
            contributes its distinct items in slate order.
        intra_list_diversity: Mean pairwise cosine distance of the exposed items' public
            features (NaN with fewer than two exposures).
        novelty: Mean self-information ``-log2 popularity`` of the exposed items (bits).
    """

    seed: int
    episode_return: float
    clicks: int
    purchases: int
    length: int
    terminated: bool
    truncated: bool
    regret: float
    item_indices: list[int]
    intra_list_diversity: float
    novelty: float

    @property
    def ctr(self) -> float:
        """Clicks per step of the session."""
        return self.clicks / max(self.length, 1)

    @property
    def purchase_rate(self) -> float:
        """Purchases per step of the session."""
        return self.purchases / max(self.length, 1)


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval ``[low, high]``."""

    mean: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        """Half the interval's width (the ``+-`` of a table)."""
        return (self.high - self.low) / 2.0

    def overlaps(self, other: Interval) -> bool:
        """Whether two intervals share any value (NaN bounds count as overlapping)."""
        if any(math.isnan(v) for v in (self.low, self.high, other.low, other.high)):
            return True
        return self.low <= other.high and other.low <= self.high


@dataclass
class EvaluationResult:
    """The outcome of :func:`evaluate`.

    Attributes:
        policy: The recommender's name.
        env_id: The env's registered id (None for an unregistered env).
        seed: Episode ``i`` was reset with ``seed + i``.
        n_items: Catalog size.
        episodes: One record per episode.
        metrics: Per-episode metrics averaged over episodes with 95% intervals
            (see :data:`CI_METRICS`): ``return``; ``ctr`` and ``purchase_rate`` per step;
            ``session_length``; ``leave_rate`` (fraction of sessions the user ended);
            ``regret`` (summed per session); ``intra_list_diversity`` and ``novelty`` per
            session (sessions where they are undefined are skipped).
        catalog_coverage: Fraction of the catalog exposed over all episodes.
        exposure_gini: Gini coefficient of item exposure counts over all episodes.
        wall_time_s: Seconds the evaluation took (not compared by ``==``).
    """

    policy: str
    env_id: str | None
    seed: int
    n_items: int
    episodes: list[EpisodeRecord]
    metrics: dict[str, Interval]
    catalog_coverage: float
    exposure_gini: float
    wall_time_s: float = field(default=0.0, compare=False)

    @classmethod
    def from_records(
        cls,
        policy: str,
        env_id: str | None,
        seed: int,
        n_items: int,
        records: list[EpisodeRecord],
        wall_time_s: float,
    ) -> EvaluationResult:
        """Aggregates episode records (metrics with intervals, coverage, exposure Gini)."""
        exposed = np.concatenate([np.asarray(r.item_indices, dtype=np.int64) for r in records])
        return cls(
            policy=policy,
            env_id=env_id,
            seed=int(seed),
            n_items=n_items,
            episodes=records,
            metrics=_aggregate(records),
            catalog_coverage=catalog_coverage(exposed, n_items),
            exposure_gini=gini(np.bincount(exposed, minlength=n_items)),
            wall_time_s=wall_time_s,
        )

    @property
    def n_episodes(self) -> int:
        """Number of evaluated episodes."""
        return len(self.episodes)

    @property
    def returns(self) -> np.ndarray:
        """Episode returns, ``[n_episodes]``."""
        return np.array([record.episode_return for record in self.episodes])

    def to_dict(self, include_episodes: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN becomes None).

        Args:
            include_episodes: Whether to include the per-episode records.
        """
        out: dict[str, Any] = {
            "policy": self.policy,
            "env_id": self.env_id,
            "seed": self.seed,
            "n_episodes": self.n_episodes,
            "n_items": self.n_items,
            "metrics": {
                name: {k: _json_float(v) for k, v in dataclasses.asdict(value).items()}
                for name, value in self.metrics.items()
            },
            "catalog_coverage": _json_float(self.catalog_coverage),
            "exposure_gini": _json_float(self.exposure_gini),
            "wall_time_s": self.wall_time_s,
        }
        if include_episodes:
            out["episodes"] = [
                {
                    key: _json_float(value) if isinstance(value, float) else value
                    for key, value in dataclasses.asdict(record).items()
                }
                for record in self.episodes
            ]
        return out

    def summary_row(self) -> dict[str, Any]:
        """One flat table row: each metric's mean and 95% half-width (``<name>_ci95``)."""
        row: dict[str, Any] = {"policy": self.policy, "episodes": self.n_episodes}
        for name, value in self.metrics.items():
            row[name] = value.mean
            row[f"{name}_ci95"] = value.half_width
        row["catalog_coverage"] = self.catalog_coverage
        row["exposure_gini"] = self.exposure_gini
        row["wall_time_s"] = self.wall_time_s
        return row


class SB3Recommender(Recommender):
    """Adapts a stable-baselines3 (or sb3-contrib) model to :class:`Recommender`.

    Calls ``model.predict(observation, deterministic=...)``; a ``MaskablePPO`` also gets
    ``action_masks=env.action_masks()``. Actions come back as an ``int`` for ``Discrete``
    and an int64 array for slates. It does not learn during evaluation.

    Args:
        model: A trained model with ``predict``.
        deterministic: Whether to take the policy's most likely action.
        name: Name shown in result tables.
    """

    def __init__(self, model: Any, deterministic: bool = True, name: str = "sb3") -> None:
        if not callable(getattr(model, "predict", None)):
            raise TypeError(
                f"model must have a predict(observation, deterministic=...) method, got "
                f"{type(model).__name__}; pass a stable-baselines3 model"
            )
        self.model = model
        self.deterministic = bool(deterministic)
        self.name = name
        self.maskable = hasattr(model, "policy") and "Maskable" in type(model).__name__

    def act(self, observation: Observation, env: RecEnv) -> Any:
        """The model's action for the observation."""
        kwargs: dict[str, Any] = {"deterministic": self.deterministic}
        if self.maskable:
            kwargs["action_masks"] = unwrap_rec_env(env).action_masks()
        action, _ = self.model.predict(observation, **kwargs)
        if isinstance(env.action_space, spaces.MultiDiscrete):
            return np.asarray(action, dtype=np.int64).reshape(-1)
        return int(np.asarray(action).reshape(-1)[0])


def evaluate(
    env_factory: Callable[[], gym.Env[Any, Any]] | str,
    recommender: Recommender,
    n_episodes: int,
    seed: int,
    *,
    deterministic: bool | None = None,
) -> EvaluationResult:
    """Plays ``n_episodes`` sessions with a recommender and measures them.

    Episode ``i`` resets with ``seed + i`` (common random numbers: every policy evaluated
    with the same seed meets the same users). ``recommender.begin_episode`` is called after
    each reset and ``recommender.observe`` after each step, so online learners learn as
    they go (and keep learning across episodes). Intervals are 95% t-intervals over
    episodes (:func:`rec_gym.metrics.mean_confidence_interval`).

    Args:
        env_factory: A callable that creates the env (e.g. ``lambda: gym.make(...)``) or
            a registered env id.
        recommender: The policy.
        n_episodes: Number of sessions (>= 1).
        seed: Seed of the first session (>= 0).
        deterministic: When not None, overrides the recommender's ``deterministic``
            attribute (e.g. of :class:`SB3Recommender`) for this evaluation; ignored for
            recommenders without one.

    Returns:
        The evaluation result.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer):
        raise TypeError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer >= 0, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(recommender, Recommender):
        raise TypeError(
            f"recommender must be an agents.baselines.Recommender, got "
            f"{type(recommender).__name__}; wrap SB3 models in SB3Recommender"
        )
    env = _make_env(env_factory)
    previous = getattr(recommender, "deterministic", None)
    if deterministic is not None and previous is not None:
        recommender.deterministic = bool(deterministic)  # type: ignore[attr-defined]
    start = time.perf_counter()
    try:
        base = env.unwrapped
        if not isinstance(base, RecEnv):
            raise TypeError(f"env_factory must build a rec_gym RecEnv, got {type(base).__name__}")
        catalog = base.simulator.catalog
        features = catalog.public_features().astype(np.float64)
        records = [
            _run_episode(env, base, recommender, int(seed) + i, features, catalog.popularity)
            for i in range(int(n_episodes))
        ]
    finally:
        if deterministic is not None and previous is not None:
            recommender.deterministic = previous  # type: ignore[attr-defined]
        env.close()
    return EvaluationResult.from_records(
        recommender.name,
        env.spec.id if env.spec is not None else None,
        seed,
        catalog.n_items,
        records,
        time.perf_counter() - start,
    )


def _make_env(env_factory: Callable[[], gym.Env[Any, Any]] | str) -> gym.Env[Any, Any]:
    if isinstance(env_factory, str):
        return gym.make(env_factory)
    if not callable(env_factory):
        raise TypeError(
            f"env_factory must be a callable returning an env or an env id, got "
            f"{type(env_factory).__name__}; e.g. lambda: gym.make('RecEnv-v0')"
        )
    return env_factory()


def _run_episode(
    env: gym.Env[Any, Any],
    base: RecEnv,
    recommender: Recommender,
    episode_seed: int,
    features: np.ndarray,
    popularity: np.ndarray,
) -> EpisodeRecord:
    observation, _ = env.reset(seed=episode_seed)
    recommender.begin_episode(base)
    total = 0.0
    clicks = purchases = length = 0
    regret = 0.0
    exposed: list[int] = []
    terminated = truncated = False
    while not (terminated or truncated):
        action = recommender.act(observation, base)
        next_observation, reward, terminated, truncated, info = env.step(action)
        recommender.observe(observation, action, float(reward), info, next_observation)
        total += float(reward)
        clicks += int(info["click"])
        purchases += int(info["purchase"])
        regret += float(info.get("regret", math.nan))
        length += 1
        exposed.extend(dict.fromkeys(action_items(action).tolist()))
        observation = next_observation
    items = np.asarray(exposed, dtype=np.int64)
    return EpisodeRecord(
        seed=episode_seed,
        episode_return=total,
        clicks=clicks,
        purchases=purchases,
        length=length,
        terminated=bool(terminated),
        truncated=bool(truncated and not terminated),
        regret=regret,
        item_indices=exposed,
        intra_list_diversity=intra_list_diversity(features[items]),
        novelty=novelty(items, popularity),
    )


def _aggregate(records: list[EpisodeRecord]) -> dict[str, Interval]:
    columns = {
        "return": [r.episode_return for r in records],
        "ctr": [r.ctr for r in records],
        "purchase_rate": [r.purchase_rate for r in records],
        "session_length": [float(r.length) for r in records],
        "leave_rate": [float(r.terminated) for r in records],
        "regret": [r.regret for r in records],
        "intra_list_diversity": [r.intra_list_diversity for r in records],
        "novelty": [r.novelty for r in records],
    }
    metrics: dict[str, Interval] = {}
    for name in CI_METRICS:
        values = np.asarray(columns[name], dtype=np.float64)
        if name in ("intra_list_diversity", "novelty"):
            values = values[~np.isnan(values)]  # undefined for too-short sessions
        if values.size == 0:
            metrics[name] = Interval(math.nan, math.nan, math.nan)
        else:
            metrics[name] = Interval(*mean_confidence_interval(values, 0.95))
    return metrics


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
