"""Calibrating a RecEnv world from a real interaction log.

:func:`calibrate` turns a log (see :mod:`rec_gym.data.loaders`) into a
:class:`CalibratedWorld`: an :class:`~rec_gym.items.ItemCatalog`, a
:class:`~rec_gym.users.UserPopulation` and a :class:`~rec_gym.config.RecEnvConfig` that
``RecEnv(config=..., catalog=..., population=...)`` runs. The result is cached on disk,
keyed by the data's checksum and the settings, so a second call loads it in well under a
second.

## Time split

One global cut in time: calibration sees only interactions strictly before ``cut_time``
(by default the timestamp at the ``train_fraction`` quantile); the fidelity report
(:mod:`rec_gym.data.fidelity`) sees only those at or after it. The cut is stored in the
artifact. A row is on exactly one side, so the ``(user, item, time)`` sets are disjoint.

## The engagement mapping

Logged rows become engagement levels: 0 = shown but not engaged, 1 = engaged (the
simulator's *click*), 2 = converted (the simulator's *purchase*). For ratings, a rating
``>= click_threshold`` (default 4) is a click and ``>= purchase_threshold`` (default 5) is
also a purchase: on MovieLens, 4-5 stars is "liked it" and 5 stars "loved it", the
strongest signal a rating log has, standing in for a conversion. A logged rating below 4 is
an exposure without engagement. For event logs the level comes from the event type (see
:class:`~rec_gym.data.loaders.LogColumns`). An unlogged user-item pair is unobserved, not
a negative.

## What is fitted (all from the training window)

- **Item latent vectors, item appeal, user factors**: weighted implicit matrix
  factorisation (:mod:`rec_gym.data.mf`) of the user-item pairs; engaged pairs have
  preference 1, logged non-engaged ones ``mf_negative_preference``, unobserved ones 0.
  Confidence ``1 + mf_confidence * w`` decays with age, ``w = floor + (1 - floor) *
  exp(-age / recency_days)``, so the world reflects the catalog as it stands at the cut
  (what is popular now). ``latent`` = item factors, ``appeal`` = item bias.
- **Item public features**: ``topic`` = primary genre (the item's globally rarest genre,
  i.e. its most specific one; ``unknown`` when it has none), ``quality`` = mean rating
  (shrunk toward the global mean with 5 pseudo-ratings) scaled to ``[-1, 1]`` (for event
  logs, mean level - 1), ``quality_score`` = the same (MovieLens shows average ratings),
  ``popularity`` = recency-weighted interaction count / its maximum. MovieLens has no
  prices: ``price`` is 0 and ``price_sensitivity`` 0. Release years and multi-hot genres are
  kept in the artifact (:meth:`CalibratedWorld.item_features`).
- **User population**: mean and covariance (Cholesky factor -> ``interest_cov_factor``) of
  the training users' factors; observable features = the top ``user_feature_dim``
  principal directions of the interests, standardised.
- **Click mapping**: ``P(click) = sigmoid(affinity_scale * (affinity - satiation_weight *
  satiation) - no_click_utility)``, fitted by logistic regression of the engagement label
  on logged interactions. The fit is out of sample: the training window is split again in
  time, the factorisation is refitted on its early part and the users of its late part are
  folded in (see :func:`fold_in_heldout`), so the affinities have held-out quality.
  Satiation is the simulator's own topic satiation replayed over each real session.
- **Purchase mapping**: logistic regression of conversion given engagement on affinity and
  quality (``purchase_affinity_weight``, ``quality_weight`` >= 0, ``purchase_bias``).
- **Sessions and leaving**: real sessions are split at gaps longer than
  ``session_gap_minutes`` and capped at ``max_session_steps``. The patience/leave
  parameters are the grid point whose expected session-length distribution, under a
  popularity policy in the calibrated simulator, is closest (Kolmogorov-Smirnov) to the
  real one.

Drift (``drift_rate``) and satiation dynamics (``satiation_gain``/``decay``) keep their
default values: ratings do not identify them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time as timer
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rec_gym.config import RecEnvConfig
from rec_gym.data.cache import atomic_write, resolve_cache_dir
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import (
    UNKNOWN_GENRE,
    InteractionLog,
    ItemMetadata,
    LogColumns,
    data_checksum,
    data_files,
    detect_format,
    load_log,
)
from rec_gym.data.mf import Factors, ImplicitData, fit_als, solve_users
from rec_gym.items import ItemCatalog
from rec_gym.simulator import RecSimulator
from rec_gym.users import UserPopulation

#: Bump when the artifact layout or the fitting procedure changes (invalidates caches).
ARTIFACT_VERSION = 1

#: Pseudo-ratings at the global mean added to each item's mean rating (shrinkage).
QUALITY_PRIOR_COUNT = 5.0

#: Smallest affinity scale (slope of the click logit); used when affinity does not predict
#: engagement at all (then ``meta["fit"]["click"]["slope_clamped"]`` is True).
_MIN_AFFINITY_SCALE = 0.05


@dataclass(frozen=True)
class CalibrationSettings:
    """Settings of a calibration (part of the cache key).

    Attributes:
        train_fraction: Fraction of interactions (by time) before the cut, in ``(0, 1)``.
        cut_time: Explicit cut (unix seconds); overrides ``train_fraction``.
        click_threshold: Rating at or above which a logged rating counts as a click.
        purchase_threshold: Rating at or above which it also counts as a purchase.
        latent_dim: Dimension of the item/user vectors.
        min_item_interactions: Items need this many training interactions to enter the
            catalog.
        mf_iterations: ALS iterations.
        mf_regularization: L2 penalty of the factorisation.
        mf_confidence: Extra confidence of logged pairs (``alpha``).
        mf_unobserved_weight: Confidence of unobserved pairs.
        mf_negative_preference: Preference of logged but not engaged pairs, in ``[0, 1]``.
        recency_days: Time scale of the confidence decay (days); 0 disables it.
        recency_floor: Weight that old interactions keep, in ``[0, 1]``.
        session_gap_minutes: A gap longer than this starts a new session.
        max_session_steps: Session cap (the registered envs truncate at 50).
        user_feature_dim: Observable user features.
        n_simulated_users: Simulated users used to fit the leave parameters.
        seed: Seed of every random draw of the calibration.
    """

    train_fraction: float = 0.8
    cut_time: int | None = None
    click_threshold: float = 4.0
    purchase_threshold: float = 5.0
    latent_dim: int = 16
    min_item_interactions: int = 1
    mf_iterations: int = 10
    mf_regularization: float = 1.0
    mf_confidence: float = 10.0
    mf_unobserved_weight: float = 1.0
    mf_negative_preference: float = 0.5
    recency_days: float = 30.0
    recency_floor: float = 0.1
    session_gap_minutes: float = 30.0
    max_session_steps: int = 50
    user_feature_dim: int = 4
    n_simulated_users: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, need: str) -> None:
            if not ok:
                value = getattr(self, name)
                raise DataError(f"calibration setting {name}={value!r} is invalid: {need}")

        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            check(item.name, number and math.isfinite(value), "must be a finite number")
        check("train_fraction", 0.0 < self.train_fraction < 1.0, "must be in (0, 1)")
        check("cut_time", self.cut_time is None or int(self.cut_time) == self.cut_time, "int")
        check(
            "purchase_threshold",
            self.purchase_threshold >= self.click_threshold,
            "must be >= click_threshold",
        )
        for name in ("latent_dim", "mf_iterations", "max_session_steps", "n_simulated_users"):
            check(name, int(getattr(self, name)) == getattr(self, name) >= 1, "integer >= 1")
        check("min_item_interactions", int(self.min_item_interactions) >= 1, "integer >= 1")
        check("user_feature_dim", int(self.user_feature_dim) >= 0, "integer >= 0")
        for name in ("mf_regularization", "mf_unobserved_weight", "session_gap_minutes"):
            check(name, getattr(self, name) > 0, "must be > 0")
        check("mf_confidence", self.mf_confidence >= 0, "must be >= 0")
        check("recency_days", self.recency_days >= 0, "must be >= 0 (0 disables decay)")
        check("mf_negative_preference", 0 <= self.mf_negative_preference <= 1, "in [0, 1]")
        check("recency_floor", 0 <= self.recency_floor <= 1, "must be in [0, 1]")
        check("seed", int(self.seed) == self.seed >= 0, "integer >= 0")

    @classmethod
    def from_any(cls, value: CalibrationSettings | Mapping[str, Any] | None) -> CalibrationSettings:
        """Settings from an instance, a dict of overrides or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, CalibrationSettings):
            return value
        names = [f.name for f in dataclasses.fields(cls)]
        for key in value:
            if key not in names:
                raise DataError(f"unknown calibration setting {key!r}; valid: {', '.join(names)}")
        return cls(**value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CalibratedWorld:
    """A simulator world fitted to a real log, plus its provenance.

    Env item id ``k`` (action ``k - 1``) is the item with raw id ``item_ids[k - 1]``.

    Attributes:
        config: World configuration (run it with ``RecEnv(config=..., catalog=...,
            population=...)``).
        catalog: The calibrated catalog.
        population: The calibrated user prior.
        item_ids: Raw (dataset) item id of every catalog item, ``[N]``.
        item_year: Release year, ``[N]`` (NaN when unknown).
        item_genres: Multi-hot genres, ``[N, n_topics]``.
        genre_names: Topic names (``topic`` indexes them).
        user_ids: Raw ids of the training users, ``[U]``.
        user_factors: Their fitted interest vectors, ``[U, latent_dim]``.
        meta: JSON-serialisable provenance and fit results (``cut_time``, ``settings``,
            ``data_checksum``, ``fit``...).
        path: Cache file it was loaded from or saved to (None when not cached).
    """

    config: RecEnvConfig
    catalog: ItemCatalog
    population: UserPopulation
    item_ids: np.ndarray
    item_year: np.ndarray
    item_genres: np.ndarray
    genre_names: tuple[str, ...]
    user_ids: np.ndarray
    user_factors: np.ndarray
    meta: dict[str, Any]
    path: Path | None = None

    @property
    def cut_time(self) -> int:
        """The time cut (unix seconds): training rows are strictly before it."""
        return int(self.meta["cut_time"])

    @property
    def settings(self) -> CalibrationSettings:
        """The settings it was calibrated with."""
        return CalibrationSettings(**self.meta["settings"])

    def env_item_ids(self, raw_ids: np.ndarray) -> np.ndarray:
        """Env item ids (1..N) of raw dataset ids; 0 for items not in the catalog."""
        return lookup_ids(self.item_ids, np.asarray(raw_ids, dtype=np.int64)) + 1

    def item_features(self) -> np.ndarray:
        """Public item features: genres multi-hot, year (scaled), popularity, quality score.

        Returns:
            ``[N, n_topics + 3]`` float32; unknown years are set to the mean year.
        """
        year = self.item_year.copy()
        known = np.isfinite(year)
        fill = float(year[known].mean()) if known.any() else 2000.0
        year[~known] = fill
        scaled = (year - fill) / 20.0
        extra = np.stack([scaled, self.catalog.popularity, self.catalog.quality_score], axis=1)
        return np.concatenate([self.item_genres.astype(np.float32), extra.astype(np.float32)], 1)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the artifact, by name (what the cache file stores)."""
        cat, pop = self.catalog, self.population
        cov = pop.interest_cov_factor
        return {
            "item_ids": self.item_ids,
            "latent": cat.latent,
            "appeal": cat.appeal,
            "quality": cat.quality,
            "topic": cat.topic,
            "price": cat.price,
            "quality_score": cat.quality_score,
            "popularity": cat.popularity,
            "item_year": self.item_year,
            "item_genres": self.item_genres,
            "user_ids": self.user_ids,
            "user_factors": self.user_factors,
            "mean_interest": pop.mean_interest,
            "interest_cov_factor": cov if cov is not None else np.zeros((0, 0)),
            "feature_projection": pop.feature_projection,
        }


# -- public entry point -------------------------------------------------------------------


def calibrate(
    data: Path | str,
    *,
    fmt: str = "auto",
    columns: LogColumns | Mapping[str, Any] | None = None,
    settings: CalibrationSettings | Mapping[str, Any] | None = None,
    cache_dir: Path | str | None = None,
    force: bool = False,
) -> CalibratedWorld:
    """Calibrates a world from a log, or loads it from the cache.

    Args:
        data: Dataset folder or generic ``.csv`` file.
        fmt: Log format or ``"auto"``.
        columns: Column names of a generic CSV.
        settings: Calibration settings (instance or dict of overrides).
        cache_dir: Cache directory (see :mod:`rec_gym.data.cache`).
        force: Recalibrate even when a cached artifact exists.

    Returns:
        The calibrated world (``path`` is its cache file).

    Raises:
        DataError: Bad input data or settings (one line naming the file or setting).
    """
    started = timer.perf_counter()
    data = Path(data).expanduser()
    fmt = detect_format(data) if fmt == "auto" else fmt
    cols = LogColumns.from_any(columns)
    options = CalibrationSettings.from_any(settings)
    files = data_files(data, fmt)
    if not files:
        raise DataError(f"{data}: no data files found for format {fmt}; check the path")
    checksum = data_checksum(files)
    key = cache_key(fmt, checksum, options, cols if fmt == "csv" else None)
    path = resolve_cache_dir(cache_dir) / "calibrated" / f"{fmt}-{key}.npz"
    if path.is_file() and not force:
        try:
            return load_world(path)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: recalibrate and overwrite it
    log = load_log(data, fmt, cols)
    world = fit_world(log, options)
    meta = {
        **world.meta,
        "data_checksum": checksum,
        "data_path": str(data),
        "columns": cols.to_dict() if fmt == "csv" else None,
        "cache_key": key,
        "calibration_seconds": timer.perf_counter() - started,
    }
    world = dataclasses.replace(world, meta=meta)
    save_world(world, path)
    return dataclasses.replace(world, path=path)


def cache_key(
    fmt: str, checksum: str, settings: CalibrationSettings, columns: LogColumns | None
) -> str:
    """Cache key of a calibration: hash of the artifact version, data checksum and settings."""
    payload = {
        "version": ARTIFACT_VERSION,
        "format": fmt,
        "data": checksum,
        "settings": settings.to_dict(),
        "columns": columns.to_dict() if columns is not None else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def save_world(world: CalibratedWorld, path: Path) -> Path:
    """Writes the artifact atomically (npz of arrays + a JSON string, no pickle)."""
    meta = {**world.meta, "config": world.config.to_dict(), "genre_names": list(world.genre_names)}
    arrays = {**world.arrays(), "meta_json": np.array(json.dumps(meta, sort_keys=True))}
    savez: Any = np.savez  # numpy's stub types **kwds as its own keyword arguments
    return atomic_write(path, lambda handle: savez(handle, **arrays))


def load_world(path: Path | str) -> CalibratedWorld:
    """Loads an artifact written by :func:`save_world` (``allow_pickle=False``)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays.pop("meta_json")))
    if meta.get("version") != ARTIFACT_VERSION:
        raise ValueError(f"{path}: artifact version {meta.get('version')} is not supported")
    config = RecEnvConfig(**meta.pop("config"))
    genre_names = tuple(meta.pop("genre_names"))
    cov = arrays["interest_cov_factor"]
    catalog = ItemCatalog(
        latent=arrays["latent"],
        appeal=arrays["appeal"],
        quality=arrays["quality"],
        topic=arrays["topic"],
        price=arrays["price"],
        quality_score=arrays["quality_score"],
        popularity=arrays["popularity"],
        n_topics=config.n_topics,
    )
    population = UserPopulation(
        mean_interest=arrays["mean_interest"],
        interest_scale=config.interest_scale,
        feature_projection=arrays["feature_projection"],
        feature_noise=config.user_feature_noise,
        n_topics=config.n_topics,
        initial_patience=config.initial_patience,
        interest_cov_factor=cov if cov.size else None,
    )
    return CalibratedWorld(
        config=config,
        catalog=catalog,
        population=population,
        item_ids=arrays["item_ids"],
        item_year=arrays["item_year"],
        item_genres=arrays["item_genres"],
        genre_names=genre_names,
        user_ids=arrays["user_ids"],
        user_factors=arrays["user_factors"],
        meta=meta,
        path=path,
    )


# -- the fit ------------------------------------------------------------------------------


def engagement_levels(log: InteractionLog, settings: CalibrationSettings) -> np.ndarray:
    """Engagement level of every row: 0 none, 1 click, 2 click and purchase (``[M]`` int64)."""
    if log.signal == "event":
        return log.value.astype(np.int64)
    clicks = log.value >= settings.click_threshold
    return clicks.astype(np.int64) + (log.value >= settings.purchase_threshold)


def time_cut(time: np.ndarray, settings: CalibrationSettings) -> int:
    """The cut: ``settings.cut_time`` or the timestamp at the ``train_fraction`` quantile."""
    if settings.cut_time is not None:
        return int(settings.cut_time)
    ordered = np.sort(time)
    position = min(max(int(settings.train_fraction * ordered.shape[0]), 1), ordered.shape[0] - 1)
    return int(ordered[position])


def primary_topics(items: ItemMetadata) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Genre names (with ``unknown``), the metadata item ids and each item's primary topic.

    The primary topic is the item's genre that is rarest over the whole metadata (its most
    specific genre; ties go to the earlier genre); ``unknown`` when it has no genre.

    Returns:
        ``(genre_names, sorted_item_ids, topic_of_sorted_item)``.
    """
    names = tuple(items.genre_names)
    genres = items.genres
    if UNKNOWN_GENRE not in names:
        names = (*names, UNKNOWN_GENRE)
        genres = np.concatenate([genres, np.zeros((genres.shape[0], 1), dtype=bool)], axis=1)
    unknown = names.index(UNKNOWN_GENRE)
    count = genres.sum(axis=0).astype(np.float64)
    rank = count * len(names) + np.arange(len(names))  # rarest first, then by index
    score = np.where(genres, rank[None, :], np.inf)
    topic = np.where(genres.any(axis=1), score.argmin(axis=1), unknown)
    order = np.argsort(items.item_id, kind="stable")
    return names, items.item_id[order], topic[order]


def fit_world(log: InteractionLog, settings: CalibrationSettings) -> CalibratedWorld:
    """Fits a world from the training window of a log (pure: no cache, no files).

    Args:
        log: The interaction log.
        settings: Calibration settings.

    Returns:
        The calibrated world (``meta`` holds the cut and the fit results).

    Raises:
        DataError: Too little data before the cut.
    """
    level = engagement_levels(log, settings)
    cut = time_cut(log.time, settings)
    train = log.time < cut
    if not train.any():
        raise DataError(
            f"no interactions before the cut {cut}; raise train_fraction or move cut_time later"
        )
    user, item, time = log.user[train], log.item[train], log.time[train]
    level, value = level[train], log.value[train]
    genre_names, meta_ids, meta_topic = primary_topics(log.items)
    unknown = genre_names.index(UNKNOWN_GENRE)
    row_topic = topics_of(item, meta_ids, meta_topic, unknown)
    row_satiation = session_satiation(user, time, row_topic, settings)

    # 1. Click/purchase mappings, out of sample (inner time split of the training window).
    inner_cut = time_cut(time, dataclasses.replace(settings, cut_time=None))
    inner = time < inner_cut
    click_fit, purchase_fit = _fit_mappings(
        user, item, level, value, time, row_satiation, inner, inner_cut, log.signal, settings
    )

    # 2. The world itself, on the whole training window.
    view = TrainView.build(user, item, level, time, cut, settings)
    if view.n_users < 2 or view.n_items < 2:
        raise DataError(
            f"only {view.n_users} users and {view.n_items} items before the cut; need >= 2 "
            "of each: raise train_fraction or lower min_item_interactions"
        )
    factors = view.fit(settings)
    item_rows = lookup_ids(view.item_ids, item)
    quality = _item_quality(item_rows, value, level, log.signal, view.n_items)
    weight = _recency_weight(time, cut, settings)
    in_catalog = item_rows >= 0
    popularity = np.bincount(
        item_rows[in_catalog], weights=weight[in_catalog], minlength=view.n_items
    )
    popularity = popularity / popularity.max()
    topic = topics_of(view.item_ids, meta_ids, meta_topic, unknown)
    item_genres, item_year = _item_metadata(view.item_ids, log.items, genre_names)
    catalog = ItemCatalog(
        latent=factors.item,
        appeal=factors.bias,
        quality=quality,
        topic=topic,
        price=np.zeros(view.n_items),
        quality_score=quality.copy(),
        popularity=popularity,
        n_topics=len(genre_names),
    )
    population, interest_scale = _population(factors.user, settings, len(genre_names))
    base_config = RecEnvConfig(
        n_items=view.n_items,
        n_topics=len(genre_names),
        latent_dim=settings.latent_dim,
        user_feature_dim=settings.user_feature_dim,
        catalog_seed=settings.seed,
        interest_scale=interest_scale,
        affinity_scale=click_fit["affinity_scale"],
        no_click_utility=click_fit["no_click_utility"],
        satiation_weight=click_fit["satiation_weight"],
        purchase_bias=purchase_fit["purchase_bias"],
        purchase_affinity_weight=purchase_fit["purchase_affinity_weight"],
        quality_weight=purchase_fit["quality_weight"],
        price_sensitivity=0.0,
    )

    # 3. Sessions and leaving.
    real_lengths = session_lengths(user, time, settings)
    leave_fit = _fit_leaving(catalog, population, base_config, real_lengths, settings)
    leave_params = {k: leave_fit[k] for k in _LEAVE_GRID}
    config = base_config.replace(**leave_params)
    population = dataclasses.replace(population, initial_patience=config.initial_patience)
    meta = {
        "version": ARTIFACT_VERSION,
        "format": log.format,
        "signal": log.signal,
        "settings": settings.to_dict(),
        "cut_time": cut,
        "counts": {
            "rows": log.n_rows,
            "train_rows": int(train.sum()),
            "heldout_rows": int((~train).sum()),
            "train_users": view.n_users,
            "catalog_items": view.n_items,
            "train_sessions": int(real_lengths.shape[0]),
        },
        "fit": {"click": click_fit, "purchase": purchase_fit, "leave": leave_fit},
    }
    return CalibratedWorld(
        config=config,
        catalog=catalog,
        population=population,
        item_ids=view.item_ids,
        item_year=item_year,
        item_genres=item_genres,
        genre_names=genre_names,
        user_ids=view.user_ids,
        user_factors=factors.user,
        meta=meta,
    )


# -- training view and factorisation -------------------------------------------------------


@dataclass(frozen=True)
class TrainView:
    """Index maps and the implicit-feedback problem of one training window.

    Attributes:
        item_ids: Sorted raw ids of the catalog items (training items with at least
            ``min_item_interactions`` interactions).
        user_ids: Sorted raw ids of the users with an interaction on a catalog item.
        data: One pair per (user, item) with its preference and recency-weighted confidence.
    """

    item_ids: np.ndarray  # sorted raw ids of catalog items
    user_ids: np.ndarray  # sorted raw ids of users with a catalog interaction
    data: ImplicitData

    @property
    def n_users(self) -> int:
        """Number of training users."""
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        """Number of catalog items."""
        return int(self.item_ids.shape[0])

    @classmethod
    def build(
        cls,
        user: np.ndarray,
        item: np.ndarray,
        level: np.ndarray,
        time: np.ndarray,
        reference: int,
        settings: CalibrationSettings,
    ) -> TrainView:
        """Builds the view of training rows, with confidences relative to ``reference``."""
        ids, counts = np.unique(item, return_counts=True)
        item_ids = ids[counts >= settings.min_item_interactions]
        item_rows = lookup_ids(item_ids, item)
        keep = item_rows >= 0
        user_ids = np.unique(user[keep])
        pairs = _aggregate_pairs(
            lookup_ids(user_ids, user[keep]), item_rows[keep], level[keep], time[keep]
        )
        data = _implicit(*pairs, reference, len(user_ids), len(item_ids), settings)
        return cls(item_ids, user_ids, data)

    def fit(self, settings: CalibrationSettings) -> Factors:
        """Factorises the training pairs."""
        return fit_als(
            self.data,
            dim=settings.latent_dim,
            unobserved_weight=settings.mf_unobserved_weight,
            regularization=settings.mf_regularization,
            iterations=settings.mf_iterations,
            seed=settings.seed,
        )


def _aggregate_pairs(
    user: np.ndarray, item: np.ndarray, level: np.ndarray, time: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One entry per (user, item): the highest level and the latest time."""
    order = np.lexsort((time, item, user))
    user, item, level, time = user[order], item[order], level[order], time[order]
    first = np.flatnonzero(np.r_[True, (user[1:] != user[:-1]) | (item[1:] != item[:-1])])
    return (
        user[first],
        item[first],
        np.maximum.reduceat(level, first),
        np.maximum.reduceat(time, first),
    )


def _recency_weight(time: np.ndarray, reference: int, settings: CalibrationSettings) -> np.ndarray:
    """Weight in ``[floor, 1]`` that decays with the age of an interaction at ``reference``."""
    if settings.recency_days <= 0:
        return np.ones(time.shape[0])
    age_days = np.maximum(reference - time, 0) / 86_400.0
    floor = settings.recency_floor
    return floor + (1.0 - floor) * np.exp(-age_days / settings.recency_days)


def _implicit(
    user: np.ndarray,
    item: np.ndarray,
    level: np.ndarray,
    time: np.ndarray,
    reference: int,
    n_users: int,
    n_items: int,
    settings: CalibrationSettings,
) -> ImplicitData:
    preference = np.where(level >= 1, 1.0, settings.mf_negative_preference)
    confidence = 1.0 + settings.mf_confidence * _recency_weight(time, reference, settings)
    return ImplicitData(user, item, preference, confidence, n_users, n_items)


# -- held-out scoring (shared by the mapping fit and the fidelity report) ------------------


@dataclass(frozen=True)
class HeldoutScores:
    """Affinities of held-out interactions under the strong-generalisation protocol.

    Each held-out user's held-out rows are ordered in time; the first half is *folded in*
    (their interest is re-solved with the item vectors fixed, from their training history
    plus that half), the second half is *scored*. Users with no history at all get the
    population mean interest.

    Attributes:
        users: Raw ids of the held-out users with a scored row, ``[H]``.
        interest: Their inferred interest, ``[H, d]``.
        history: Number of fold-in pairs of each (0: population mean), ``[H]``.
        known: Whether each had training history, ``[H]``.
        row: Log row index of every scored row (within the arrays passed in), ``[R]``.
        row_user: Index into ``users`` of every scored row, ``[R]``.
        row_item: Catalog index of every scored row, ``[R]``.
        affinity: ``interest . latent + appeal`` of every scored row, ``[R]``.
        out_of_catalog: Held-out rows skipped because their item is not in the catalog.
    """

    users: np.ndarray
    interest: np.ndarray
    history: np.ndarray
    known: np.ndarray
    row: np.ndarray
    row_user: np.ndarray
    row_item: np.ndarray
    affinity: np.ndarray
    out_of_catalog: int


def fold_in_heldout(
    *,
    user: np.ndarray,
    item: np.ndarray,
    level: np.ndarray,
    time: np.ndarray,
    heldout: np.ndarray,
    item_ids: np.ndarray,
    train_user_ids: np.ndarray,
    train_data: ImplicitData,
    item_factors: np.ndarray,
    bias: np.ndarray,
    mean_interest: np.ndarray,
    settings: CalibrationSettings,
) -> HeldoutScores:
    """Scores held-out rows with fold-in interests (see :class:`HeldoutScores`).

    Args:
        user: Raw user id per row ``[M]``.
        item: Raw item id per row ``[M]``.
        level: Engagement level per row ``[M]``.
        time: Time per row ``[M]``.
        heldout: Which rows are held out ``[M]`` bool.
        item_ids: Sorted raw ids of the catalog.
        train_user_ids: Sorted raw ids of the training users (rows of ``train_data``).
        train_data: The training pairs (with their confidences).
        item_factors: ``[N, d]``.
        bias: ``[N]``.
        mean_interest: Population mean interest ``[d]``.
        settings: Calibration settings (fold-in uses the factorisation's weights).

    Returns:
        The scores.
    """
    rows = np.flatnonzero(heldout)
    rows = rows[np.lexsort((rows, time[rows], user[rows]))]
    held_users, starts, counts = np.unique(user[rows], return_index=True, return_counts=True)
    position = np.arange(rows.shape[0]) - np.repeat(starts, counts)
    fold = position < np.repeat(counts // 2, counts)
    catalog_item = lookup_ids(item_ids, item[rows])
    owner = np.repeat(np.arange(held_users.shape[0]), counts)
    scored = ~fold & (catalog_item >= 0)
    # Fold-in pairs: the user's training pairs, then the first half of their held-out rows.
    train_index = lookup_ids(train_user_ids, held_users)
    edge_owner = np.full(train_user_ids.shape[0], -1)
    edge_owner[train_index[train_index >= 0]] = np.flatnonzero(train_index >= 0)
    train_edges = edge_owner[train_data.user] >= 0
    fold_rows = fold & (catalog_item >= 0)
    edges_user = np.r_[edge_owner[train_data.user[train_edges]], owner[fold_rows]]
    edges_item = np.r_[train_data.item[train_edges], catalog_item[fold_rows]]
    edges_pref = np.r_[
        train_data.preference[train_edges],
        np.where(level[rows[fold_rows]] >= 1, 1.0, settings.mf_negative_preference),
    ]
    edges_conf = np.r_[
        train_data.confidence[train_edges],
        np.full(int(fold_rows.sum()), 1.0 + settings.mf_confidence),
    ]
    interest = solve_users(
        item_factors,
        bias,
        edges_user.astype(np.int64),
        edges_item.astype(np.int64),
        edges_pref,
        edges_conf,
        n_users=held_users.shape[0],
        unobserved_weight=settings.mf_unobserved_weight,
        regularization=settings.mf_regularization,
    )
    history = np.bincount(edges_user.astype(np.int64), minlength=held_users.shape[0])
    interest[history == 0] = mean_interest
    # Keep users with at least one scored row.
    has_scored = np.bincount(owner[scored], minlength=held_users.shape[0]) > 0
    remap = np.cumsum(has_scored) - 1
    row_user = remap[owner[scored]]
    row_item = catalog_item[scored]
    interest = interest[has_scored]
    affinity = np.einsum("rd,rd->r", interest[row_user], item_factors[row_item]) + bias[row_item]
    return HeldoutScores(
        users=held_users[has_scored],
        interest=interest,
        history=history[has_scored],
        known=(train_index >= 0)[has_scored],
        row=rows[scored],
        row_user=row_user,
        row_item=row_item,
        affinity=affinity,
        out_of_catalog=int((catalog_item < 0).sum()),
    )


# -- mappings ------------------------------------------------------------------------------


def _fit_mappings(
    user: np.ndarray,
    item: np.ndarray,
    level: np.ndarray,
    value: np.ndarray,
    time: np.ndarray,
    satiation: np.ndarray,
    inner: np.ndarray,
    inner_cut: int,
    signal: str,
    settings: CalibrationSettings,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fits the click and purchase mappings on an inner time split of the training window."""
    view = TrainView.build(user[inner], item[inner], level[inner], time[inner], inner_cut, settings)
    if view.n_users < 2 or view.n_items < 2:
        raise DataError(
            "too few interactions early in the training window to fit the click mapping; "
            "raise train_fraction or use more data"
        )
    factors = view.fit(settings)
    scores = fold_in_heldout(
        user=user,
        item=item,
        level=level,
        time=time,
        heldout=~inner,
        item_ids=view.item_ids,
        train_user_ids=view.user_ids,
        train_data=view.data,
        item_factors=factors.item,
        bias=factors.bias,
        mean_interest=factors.user.mean(axis=0),
        settings=settings,
    )
    aff = scores.affinity
    sat = satiation[scores.row]
    engaged = (level[scores.row] >= 1).astype(np.float64)
    if aff.shape[0] < 10 or engaged.min() == engaged.max():
        raise DataError(
            f"only {aff.shape[0]} scorable interactions late in the training window, or all "
            "with the same engagement label; use more data or change click_threshold"
        )
    # logit = scale * affinity - scale * satiation_weight * satiation - no_click_utility
    scale, drop, offset = _logistic(np.stack([aff, -sat], axis=1), engaged)
    if drop < 0 or scale <= 0:  # no satiation effect in the data: refit without it
        (scale, offset), drop = _logistic(aff[:, None], engaged), 0.0
    clamped = bool(scale < _MIN_AFFINITY_SCALE)
    if clamped:  # affinity does not predict engagement: keep a small positive slope
        scale, drop = _MIN_AFFINITY_SCALE, 0.0
        offset = _logistic_offset(scale * aff, engaged)
    click = {
        "affinity_scale": float(scale),
        "no_click_utility": float(-offset),
        "satiation_weight": float(drop / scale),
        "slope_clamped": clamped,
        "n_samples": int(aff.shape[0]),
        "engaged_rate": float(engaged.mean()),
        "inner_cut_time": int(inner_cut),
    }
    # Purchase given click: affinity and quality, non-negative weights.
    item_rows = lookup_ids(view.item_ids, item[inner])
    quality = _item_quality(item_rows, value[inner], level[inner], signal, view.n_items)
    clicked = engaged > 0
    bought = (level[scores.row] >= 2).astype(np.float64)[clicked]
    features = np.stack([aff[clicked], quality[scores.row_item][clicked]], axis=1)
    purchase = _purchase_fit(features, bought)
    return click, purchase


def _purchase_fit(features: np.ndarray, bought: np.ndarray) -> dict[str, Any]:
    if bought.shape[0] == 0 or bought.max() == 0:
        return {
            "purchase_bias": -10.0,
            "purchase_affinity_weight": 0.0,
            "quality_weight": 0.0,
            "n_samples": int(bought.shape[0]),
            "purchase_rate": 0.0,
        }
    active = [0, 1]
    weights = np.zeros(2)
    while True:
        coef = _logistic(features[:, active], bought) if active else None
        if coef is None:
            bias = _logistic_offset(np.zeros(bought.shape[0]), bought)
            break
        if (coef[:-1] >= 0).all():
            weights[active] = coef[:-1]
            bias = float(coef[-1])
            break
        active = [a for a, c in zip(active, coef[:-1], strict=True) if c >= 0]
    return {
        "purchase_bias": float(bias),
        "purchase_affinity_weight": float(weights[0]),
        "quality_weight": float(weights[1]),
        "n_samples": int(bought.shape[0]),
        "purchase_rate": float(bought.mean()),
    }


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-4, iterations: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method; returns ``[w_1..w_k, intercept]``."""
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    coef = np.zeros(design.shape[1])
    penalty = l2 * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-np.clip(design @ coef, -30, 30)))
        grad = design.T @ (prob - y) / y.shape[0] + penalty @ coef
        hess = (design.T * (prob * (1 - prob))) @ design / y.shape[0] + penalty
        step = np.linalg.solve(hess + 1e-10 * np.eye(hess.shape[0]), grad)
        coef -= step
        if np.abs(step).max() < 1e-10:
            break
    return coef


def _logistic_offset(logit: np.ndarray, y: np.ndarray) -> float:
    """Intercept b maximising the likelihood of ``sigmoid(logit + b)`` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(80):
        mid = 0.5 * (low + high)
        mean = float((1.0 / (1.0 + np.exp(-np.clip(logit + mid, -30, 30)))).mean())
        low, high = (mid, high) if mean < y.mean() else (low, mid)
    return 0.5 * (low + high)


# -- item and user features -----------------------------------------------------------------


def _item_quality(
    item_rows: np.ndarray, value: np.ndarray, level: np.ndarray, signal: str, n_items: int
) -> np.ndarray:
    """Shrunk mean rating (or level) per catalog item, scaled to ``[-1, 1]``."""
    keep = item_rows >= 0
    score = value[keep] if signal == "rating" else level[keep].astype(np.float64)
    low, high = (float(score.min()), float(score.max())) if signal == "rating" else (0.0, 2.0)
    total = np.bincount(item_rows[keep], weights=score, minlength=n_items)
    count = np.bincount(item_rows[keep], minlength=n_items)
    mean = (total + QUALITY_PRIOR_COUNT * score.mean()) / (count + QUALITY_PRIOR_COUNT)
    half = max((high - low) / 2.0, 1e-12)
    return np.clip((mean - (low + high) / 2.0) / half, -1.0, 1.0)


def _item_metadata(
    item_ids: np.ndarray, items: ItemMetadata, genre_names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot genres (over ``genre_names``) and years of the catalog items."""
    genres = np.zeros((item_ids.shape[0], len(genre_names)), dtype=bool)
    year = np.full(item_ids.shape[0], np.nan)
    order = np.argsort(items.item_id, kind="stable")
    rows = lookup_ids(items.item_id[order], item_ids)
    found = rows >= 0
    meta_rows = order[rows[found]]
    genres[found, : items.genres.shape[1]] = items.genres[meta_rows]
    year[found] = items.year[meta_rows]
    genres[~genres.any(axis=1), genre_names.index(UNKNOWN_GENRE)] = True
    return genres, year


def _population(
    user_factors: np.ndarray, settings: CalibrationSettings, n_topics: int
) -> tuple[UserPopulation, float]:
    """Gaussian prior of interests and a PCA view of them as observable features."""
    dim = user_factors.shape[1]
    mean = user_factors.mean(axis=0)
    cov = np.cov(user_factors, rowvar=False) if user_factors.shape[0] > 1 else np.eye(dim)
    cov = np.atleast_2d(cov) + 1e-6 * np.eye(dim)
    factor = np.linalg.cholesky(cov)
    eigval, eigvec = np.linalg.eigh(cov)
    top = np.argsort(eigval)[::-1][: settings.user_feature_dim]
    vectors = eigvec[:, top].T  # [F, d]
    signs = np.sign(vectors[np.arange(vectors.shape[0]), np.abs(vectors).argmax(axis=1)])
    projection = vectors * signs[:, None] / np.sqrt(eigval[top])[:, None]
    interest_scale = float(np.sqrt(np.trace(cov) / dim))
    population = UserPopulation(
        mean_interest=mean,
        interest_scale=interest_scale,
        feature_projection=projection,
        feature_noise=RecEnvConfig.user_feature_noise,
        n_topics=n_topics,
        initial_patience=1.0,  # replaced by the fitted value
        interest_cov_factor=factor,
    )
    return population, interest_scale


# -- sessions and leaving --------------------------------------------------------------------


def session_starts(
    user: np.ndarray, time: np.ndarray, settings: CalibrationSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Row order by (user, time) and where each session starts in that order.

    Returns:
        ``(order, new_session)``: the ordering and a bool mask over it.
    """
    order = np.lexsort((np.arange(user.shape[0]), time, user))
    gap = settings.session_gap_minutes * 60.0
    u, t = user[order], time[order]
    new = np.r_[True, (u[1:] != u[:-1]) | (np.diff(t) > gap)]
    return order, new


def session_lengths(
    user: np.ndarray, time: np.ndarray, settings: CalibrationSettings
) -> np.ndarray:
    """Real session lengths (interactions per session), capped at ``max_session_steps``."""
    if user.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, new = session_starts(user, time, settings)
    lengths = np.diff(np.r_[np.flatnonzero(new), new.shape[0]])
    return np.minimum(lengths, settings.max_session_steps)


def session_satiation(
    user: np.ndarray, time: np.ndarray, topic: np.ndarray, settings: CalibrationSettings
) -> np.ndarray:
    """The simulator's topic satiation at every logged row, replayed over real sessions.

    Before the t-th item of a session, satiation of topic k is
    ``sum_{j < t, topic_j = k} gain * decay ** (t - j)`` (the simulator's update with the
    default ``satiation_gain`` and ``satiation_decay``).
    """
    gain, decay = RecEnvConfig.satiation_gain, RecEnvConfig.satiation_decay
    order, new = session_starts(user, time, settings)
    out = np.zeros(user.shape[0])
    state: dict[int, tuple[float, int]] = {}
    step = 0
    for position, row in enumerate(order.tolist()):
        if new[position]:
            state, step = {}, 0
        k = int(topic[row])
        value, since = state.get(k, (0.0, step))
        current = value * decay ** (step - since)
        out[row] = current
        state[k] = ((current + gain) * decay, step + 1)
        step += 1
    return out


#: Grid of the patience/leave parameters searched by :func:`_fit_leaving`.
_LEAVE_GRID: dict[str, tuple[float, ...]] = {
    "initial_patience": (0.25, 0.5, 0.75, 1.0),
    "fatigue_per_step": (0.0, 0.01, 0.03, 0.1),
    "no_click_penalty": (0.0, 0.05, 0.15),
    "satisfaction_gain": (0.0, 0.1, 0.3, 1.0),
    "leave_base_prob": (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16),
    "leave_sensitivity": (0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0),
}


def popularity_order(
    popularity: np.ndarray, n_users: int, n_steps: int, rng: np.random.Generator
) -> np.ndarray:
    """The popularity policy: per user, items drawn with probability proportional to
    popularity, without repeats while the catalog lasts (Gumbel top-k).

    Returns:
        Item indices ``[n_users, n_steps]``.
    """
    logits = np.log(np.maximum(popularity, 1e-12))
    n_items = popularity.shape[0]
    columns = []
    remaining = n_steps
    while remaining > 0:
        take = min(remaining, n_items)
        keys = logits[None, :] + rng.gumbel(size=(n_users, n_items))
        top = np.argpartition(-keys, take - 1, axis=1)[:, :take]
        rank = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        columns.append(np.take_along_axis(top, rank, axis=1))
        remaining -= take
    return np.concatenate(columns, axis=1)


def simulate_popularity_sessions(
    simulator: RecSimulator, n_users: int, n_steps: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Runs the popularity policy for ``n_steps`` in the simulator.

    Every user is stepped ``n_steps`` times; ``length`` is the first step at which the
    simulator said they left (or ``n_steps``). Leaving does not change clicks before it,
    so this is the same as stopping there.

    Returns:
        ``items`` ``[B, T]``, ``clicks`` ``[B, T]``, ``purchases`` ``[B, T]``,
        ``left`` ``[B, T]`` and ``length`` ``[B]``.
    """
    items = popularity_order(simulator.catalog.popularity, n_users, n_steps, rng)
    state = simulator.new_users(n_users, rng)
    clicks = np.zeros((n_users, n_steps))
    purchases = np.zeros((n_users, n_steps), dtype=bool)
    left = np.zeros((n_users, n_steps), dtype=bool)
    for step in range(n_steps):
        outcome = simulator.step(state, items[:, step : step + 1], rng)
        clicks[:, step] = outcome.response.clicks[:, 0]
        purchases[:, step] = outcome.response.purchases[:, 0]
        left[:, step] = outcome.left
    gone = left.any(axis=1)
    length = np.where(gone, left.argmax(axis=1) + 1, n_steps)
    return {
        "items": items,
        "clicks": clicks,
        "purchases": purchases,
        "left": left,
        "length": length,
    }


def _fit_leaving(
    catalog: ItemCatalog,
    population: UserPopulation,
    config: RecEnvConfig,
    real_lengths: np.ndarray,
    settings: CalibrationSettings,
) -> dict[str, Any]:
    """Grid search of patience/leave parameters by expected session-length KS distance."""
    steps = settings.max_session_steps
    simulator = RecSimulator(config, catalog, population)
    rng = np.random.default_rng([settings.seed, 1])
    run = simulate_popularity_sessions(simulator, settings.n_simulated_users, steps, rng)
    clicks = run["clicks"]  # [B, T]
    satisfied = clicks * catalog.quality[run["items"]]
    real_pmf = np.bincount(np.minimum(real_lengths, steps) - 1, minlength=steps)[:steps]
    real_cdf = np.cumsum(real_pmf) / max(real_pmf.sum(), 1)
    grid = _LEAVE_GRID
    base = np.array(grid["leave_base_prob"])[:, None, None]
    sensitivity = np.array(grid["leave_sensitivity"])[None, :, None]
    best: tuple[float, dict[str, float]] | None = None
    for init, fatigue, penalty, gain in itertools.product(
        grid["initial_patience"],
        grid["fatigue_per_step"],
        grid["no_click_penalty"],
        grid["satisfaction_gain"],
    ):
        patience = _patience_path(init, fatigue, penalty, gain, clicks, satisfied)  # [T, B]
        survive = np.ones((base.shape[0], sensitivity.shape[1], patience.shape[1]))
        cdf = np.empty((base.shape[0], sensitivity.shape[1], steps))
        for step in range(steps):
            survive *= 1.0 - leave_hazard(patience[step], base, sensitivity)  # [P, S, B]
            cdf[..., step] = 1.0 - survive.mean(axis=2)
        cdf[..., -1] = 1.0  # the cap ends every session
        distance = np.abs(cdf - real_cdf).max(axis=2)  # [P, S]
        flat = int(distance.argmin())
        if best is None or distance.flat[flat] < best[0] - 1e-12:
            i, j = np.unravel_index(flat, distance.shape)
            params = {
                "initial_patience": init,
                "fatigue_per_step": fatigue,
                "no_click_penalty": penalty,
                "satisfaction_gain": gain,
                "leave_base_prob": grid["leave_base_prob"][i],
                "leave_sensitivity": grid["leave_sensitivity"][j],
            }
            best = (float(distance.flat[flat]), params)
    assert best is not None
    distance, params = best
    return {**params, "train_ks": distance, "train_mean_length": float(real_lengths.mean())}


def leave_hazard(patience: np.ndarray, base: np.ndarray, sensitivity: np.ndarray) -> np.ndarray:
    """:func:`rec_gym.users.leave_probability` with broadcastable parameter arrays.

    ``base + (1 - base) * sensitivity * (1 - patience)``; patience is already in ``[0, 1]``.
    """
    return base + (1.0 - base) * sensitivity * (1.0 - patience)


def _patience_path(
    init: float,
    fatigue: float,
    penalty: float,
    gain: float,
    clicks: np.ndarray,
    satisfied: np.ndarray,
) -> np.ndarray:
    """Patience after every step (the simulator's update in ``update_users``), ``[T, B]``."""
    steps = clicks.shape[1]
    patience = np.empty((steps, clicks.shape[0]))
    current = np.full(clicks.shape[0], init)
    for step in range(steps):
        current = np.clip(
            current + gain * satisfied[:, step] - penalty * (1 - clicks[:, step]) - fatigue,
            0.0,
            1.0,
        )
        patience[step] = current
    return patience


# -- small helpers ---------------------------------------------------------------------------


def lookup_ids(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index of each id in ``sorted_ids`` or -1.

    Example:
        >>> lookup_ids(np.array([3, 7, 9]), np.array([7, 4, 9])).tolist()
        [1, -1, 2]
    """
    if sorted_ids.shape[0] == 0:
        return np.full(ids.shape[0], -1, dtype=np.int64)
    position = np.searchsorted(sorted_ids, ids)
    position = np.minimum(position, sorted_ids.shape[0] - 1)
    return np.where(sorted_ids[position] == ids, position, -1).astype(np.int64)


def topics_of(
    item: np.ndarray, meta_ids: np.ndarray, meta_topic: np.ndarray, unknown: int
) -> np.ndarray:
    """Primary topic of raw item ids (``unknown`` for items without metadata)."""
    if meta_topic.shape[0] == 0:  # a log without item metadata: every item is "unknown"
        return np.full(item.shape[0], unknown, dtype=np.int64)
    rows = lookup_ids(meta_ids, item)
    return np.where(rows >= 0, meta_topic[np.maximum(rows, 0)], unknown).astype(np.int64)
