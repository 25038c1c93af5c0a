"""The fidelity report: the calibrated simulator against the held-out window of the log.

Only interactions at or after the artifact's cut are used here (calibration never saw
them). Protocols, all stated in the report itself:

- **Ranking (AUC)**: strong generalisation. Each held-out user's held-out interactions,
  in time order, are split in halves: the first half (with any training history) is
  folded in to infer their interest (:func:`rec_gym.data.calibration.fold_in_heldout`);
  the engaged interactions of the second half are positives. Negatives are
  ``n_negatives`` catalog items sampled uniformly per user among those the user never
  interacted with (at any time); the protocol is a *sampled* ranking metric. The score is
  the simulator's click probability of a fresh user (no satiation). AUC is per user, then
  averaged over users; the pair-weighted AUC, the AUC of users with and without training
  history, the AUC with the population-mean interest for everyone (cold start) and a
  popularity baseline on the same pairs are reported too.
- **Calibration (ECE)**: on every scored held-out interaction (engaged or not), the
  simulator's click probability (with the topic satiation replayed over the real
  session) against the engagement label; 10 equal-width bins.
- **Sessions**: ``n_sim_users`` simulated sessions under the popularity policy
  (items drawn in proportion to popularity, no repeats) in the calibrated simulator
  against the real held-out sessions (split at ``session_gap_minutes``); lengths capped at
  ``max_session_steps`` on both sides. Reported: CTR (real: engaged share of held-out
  interactions), the Kolmogorov-Smirnov distance of session lengths, and the genre
  (primary topic) shares of simulated clicks vs real engaged interactions (total
  variation distance).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rec_gym.choice import sigmoid
from rec_gym.data.calibration import (
    UNKNOWN_GENRE,
    CalibratedWorld,
    CalibrationSettings,
    HeldoutScores,
    TrainView,
    engagement_levels,
    fold_in_heldout,
    lookup_ids,
    primary_topics,
    session_lengths,
    session_satiation,
    session_starts,
    simulate_popularity_sessions,
    topics_of,
)
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import InteractionLog
from rec_gym.simulator import RecSimulator

# -- metrics (pure functions) ----------------------------------------------------------------


def pairwise_auc(positive: np.ndarray, negative: np.ndarray) -> tuple[float, int]:
    """Share of (positive, negative) pairs ranked correctly, ties counting one half.

    Args:
        positive: Scores of positives ``[P]``.
        negative: Scores of negatives ``[Q]``.

    Returns:
        ``(auc, n_pairs)``; AUC is NaN without pairs.

    Example:
        >>> pairwise_auc(np.array([3.0, 1.0]), np.array([2.0, 1.0]))
        (0.625, 4)
    """
    pairs = positive.shape[0] * negative.shape[0]
    if pairs == 0:
        return math.nan, 0
    ordered = np.sort(negative)
    below = np.searchsorted(ordered, positive, side="left")
    tied = np.searchsorted(ordered, positive, side="right") - below
    return float((below + 0.5 * tied).sum() / pairs), pairs


def expected_calibration_error(
    prob: np.ndarray, label: np.ndarray, n_bins: int = 10
) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error over equal-width probability bins.

    ``ECE = sum_b (n_b / n) |mean label_b - mean prob_b|``.

    Args:
        prob: Predicted probabilities ``[n]``.
        label: 0/1 outcomes ``[n]``.
        n_bins: Number of bins on ``[0, 1]``.

    Returns:
        ``(ece, bins)`` where each bin has ``low``, ``high``, ``count``, ``mean_prob``
        and ``rate`` (NaN for empty bins).

    Example:
        >>> ece, _ = expected_calibration_error(np.array([0.2, 0.2, 0.9]), np.array([0, 1, 1]))
        >>> round(ece, 4)
        0.2333
    """
    if prob.shape[0] == 0:
        return math.nan, []
    index = np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    prob_sum = np.bincount(index, weights=prob, minlength=n_bins)
    label_sum = np.bincount(index, weights=label.astype(np.float64), minlength=n_bins)
    filled = count > 0
    gap = np.abs(label_sum[filled] - prob_sum[filled]).sum() / prob.shape[0]
    bins = []
    for b in range(n_bins):
        n = int(count[b])
        bins.append(
            {
                "low": b / n_bins,
                "high": (b + 1) / n_bins,
                "count": n,
                "mean_prob": float(prob_sum[b] / n) if n else math.nan,
                "rate": float(label_sum[b] / n) if n else math.nan,
            }
        )
    return float(gap), bins


def ks_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between empirical CDFs).

    Example:
        >>> ks_distance(np.array([1, 2, 3]), np.array([1, 2, 3]))
        0.0
        >>> ks_distance(np.array([1, 1]), np.array([2, 2]))
        1.0
    """
    if first.shape[0] == 0 or second.shape[0] == 0:
        return math.nan
    values = np.union1d(first, second)
    cdf_first = np.searchsorted(np.sort(first), values, side="right") / first.shape[0]
    cdf_second = np.searchsorted(np.sort(second), values, side="right") / second.shape[0]
    return float(np.abs(cdf_first - cdf_second).max())


def total_variation(first: np.ndarray, second: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` of two distributions.

    Example:
        >>> total_variation(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
        0.5
    """
    return float(0.5 * np.abs(first - second).sum())


# -- the report -------------------------------------------------------------------------------


def fidelity_report(
    world: CalibratedWorld,
    log: InteractionLog,
    *,
    n_negatives: int = 100,
    n_sim_users: int = 2000,
    timing: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Compares the calibrated simulator with the held-out window of ``log``.

    Args:
        world: The calibrated world (its ``cut_time`` splits the log).
        log: The same log it was calibrated from.
        n_negatives: Sampled non-interacted items per user for the AUC.
        n_sim_users: Simulated sessions under the popularity policy.
        timing: Extra timings to include (e.g. ``cached_load_seconds``).

    Returns:
        A JSON-serialisable dict (see the module docstring for the protocols).

    Raises:
        DataError: The log has no interactions after the cut.
    """
    settings = world.settings
    cut = world.cut_time
    level = engagement_levels(log, settings)
    heldout = log.time >= cut
    if not heldout.any():
        raise DataError(
            f"no interactions at or after the cut {cut}: nothing to compare against; "
            "lower train_fraction or cut_time"
        )
    train = ~heldout
    rng = np.random.default_rng([settings.seed, 2])
    catalog, config = world.catalog, world.config
    scale, threshold = config.affinity_scale, config.no_click_utility

    # Ranking and calibration on held-out interactions.
    view = TrainView.build(
        log.user[train], log.item[train], level[train], log.time[train], cut, settings
    )
    if not np.array_equal(view.item_ids, world.item_ids):
        raise DataError(
            "the log does not match the calibrated world (different training items); pass "
            "the data it was calibrated from"
        )
    scores = fold_in_heldout(
        user=log.user,
        item=log.item,
        level=level,
        time=log.time,
        heldout=heldout,
        item_ids=world.item_ids,
        train_user_ids=view.user_ids,
        train_data=view.data,
        item_factors=catalog.latent,
        bias=catalog.appeal,
        mean_interest=world.population.mean_interest,
        settings=settings,
    )
    ranking = _ranking(world, log, level, scores, n_negatives, rng)
    genre_names, meta_ids, meta_topic = primary_topics(log.items)
    unknown = genre_names.index(UNKNOWN_GENRE)
    row_topic = topics_of(log.item, meta_ids, meta_topic, unknown)
    satiation = session_satiation(log.user, log.time, row_topic, settings)
    logit = scale * (scores.affinity - config.satiation_weight * satiation[scores.row])
    prob = sigmoid(logit - threshold)
    engaged = level[scores.row] >= 1
    ece, bins = expected_calibration_error(prob, engaged)

    # Sessions under the popularity policy vs the real held-out sessions.
    steps = settings.max_session_steps
    simulator = RecSimulator(config, catalog, world.population)
    run = simulate_popularity_sessions(simulator, n_sim_users, steps, rng)
    in_session = np.arange(steps)[None, :] < run["length"][:, None]
    clicks = run["clicks"] * in_session
    sim_ctr = float(clicks.sum() / in_session.sum())
    real_lengths = session_lengths(log.user[heldout], log.time[heldout], settings)
    real_ctr = float((level[heldout] >= 1).mean())
    clicked_topics = catalog.topic[run["items"][clicks > 0]]
    n_topics = len(genre_names)
    sim_share = np.bincount(clicked_topics, minlength=n_topics) / max(clicked_topics.size, 1)
    real_topics = row_topic[heldout & (level >= 1)]
    real_share = np.bincount(real_topics, minlength=n_topics) / max(real_topics.size, 1)
    sim_purchase = float(run["purchases"][clicks > 0].mean()) if clicks.any() else math.nan
    held_engaged = level[heldout] >= 1
    real_purchase = (
        float((level[heldout][held_engaged] >= 2).mean()) if held_engaged.any() else math.nan
    )
    position_ctr = _position_ctr(log, level, heldout, settings)

    meta = world.meta
    return {
        "dataset": {
            "format": log.format,
            "data_path": meta.get("data_path"),
            "data_checksum": meta.get("data_checksum"),
            "rows": log.n_rows,
            "cut_time": cut,
            "cut_utc": datetime.fromtimestamp(cut, UTC).isoformat(),
            "train_rows": int(train.sum()),
            "heldout_rows": int(heldout.sum()),
            "heldout_users": int(np.unique(log.user[heldout]).shape[0]),
            "catalog_items": config.n_items,
            "topics": list(genre_names),
        },
        "engagement_mapping": (
            f"rating >= {settings.click_threshold:g} is a click, rating >= "
            f"{settings.purchase_threshold:g} also a purchase"
            if log.signal == "rating"
            else "event level 1 is a click, level 2 also a purchase"
        ),
        "ranking": ranking,
        "calibration": {
            "ece": ece,
            "n": int(prob.shape[0]),
            "mean_predicted": float(prob.mean()) if prob.size else math.nan,
            "observed_rate": float(engaged.mean()) if engaged.size else math.nan,
            "bins": bins,
            "protocol": "scored held-out interactions (second halves); 10 equal-width bins",
        },
        "ctr": {
            "real_heldout": real_ctr,
            "simulated_popularity_policy": sim_ctr,
            "abs_difference": abs(sim_ctr - real_ctr),
            "real_by_position": position_ctr,
            "simulated_by_position": _sim_position_ctr(run["clicks"], in_session),
        },
        "purchase_given_click": {"real_heldout": real_purchase, "simulated": sim_purchase},
        "session_length": {
            "ks": ks_distance(real_lengths, run["length"]),
            "cap": steps,
            "real_n": int(real_lengths.shape[0]),
            "real_mean": float(real_lengths.mean()) if real_lengths.size else math.nan,
            "real_median": float(np.median(real_lengths)) if real_lengths.size else math.nan,
            "real_lengths": np.bincount(real_lengths, minlength=steps + 1)[1:].tolist(),
            "simulated_n": int(run["length"].shape[0]),
            "simulated_mean": float(run["length"].mean()),
            "simulated_median": float(np.median(run["length"])),
            "simulated_lengths": np.bincount(run["length"], minlength=steps + 1)[1:].tolist(),
            "session_gap_minutes": settings.session_gap_minutes,
        },
        "genre_share": {
            "tv_distance": total_variation(real_share, sim_share),
            "real": dict(zip(genre_names, real_share.tolist(), strict=True)),
            "simulated": dict(zip(genre_names, sim_share.tolist(), strict=True)),
        },
        "fit": meta.get("fit"),
        "config": config.to_dict(),
        "timing": {"calibration_seconds": meta.get("calibration_seconds"), **(timing or {})},
    }


def _ranking(
    world: CalibratedWorld,
    log: InteractionLog,
    level: np.ndarray,
    scores: HeldoutScores,
    n_negatives: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    catalog = world.catalog
    n_items = catalog.n_items
    # Every catalog item each held-out user ever interacted with (never a negative).
    seen_user = lookup_ids(scores.users, log.user)
    seen_item = lookup_ids(world.item_ids, log.item)
    keep = (seen_user >= 0) & (seen_item >= 0)
    seen = np.zeros((scores.users.shape[0], n_items), dtype=bool)
    seen[seen_user[keep], seen_item[keep]] = True
    prior = catalog.latent @ world.population.mean_interest + catalog.appeal
    results: dict[str, list[float]] = {"fold_in": [], "cold": [], "popularity": []}
    wins = {"fold_in": 0.0, "cold": 0.0, "popularity": 0.0}
    total_pairs = 0
    known_auc: list[float] = []
    new_auc: list[float] = []
    n_pos = 0
    positive_rows = level[scores.row] >= 1
    for u in range(scores.users.shape[0]):
        mine = positive_rows & (scores.row_user == u)
        if not mine.any():
            continue
        candidates = np.flatnonzero(~seen[u])
        if candidates.shape[0] == 0:
            continue
        take = min(n_negatives, candidates.shape[0])
        negatives = rng.choice(candidates, size=take, replace=False)
        positives = scores.row_item[mine]
        n_pos += positives.shape[0]
        personal = catalog.latent @ scores.interest[u] + catalog.appeal
        for name, score in (
            ("fold_in", personal),
            ("cold", prior),
            ("popularity", catalog.popularity),
        ):
            auc, pairs = pairwise_auc(score[positives], score[negatives])
            results[name].append(auc)
            wins[name] += auc * pairs
        total_pairs += positives.shape[0] * take
        (known_auc if scores.known[u] else new_auc).append(results["fold_in"][-1])
    if not results["fold_in"]:
        raise DataError(
            "no held-out user has an engaged interaction on a catalog item in the second half "
            "of their held-out window; use more data or a later cut"
        )

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    return {
        "auc": mean(results["fold_in"]),
        "auc_pair_weighted": wins["fold_in"] / total_pairs,
        "auc_users_with_training_history": mean(known_auc),
        "auc_users_without_training_history": mean(new_auc),
        "auc_cold_start_population_mean": mean(results["cold"]),
        "auc_popularity_baseline": mean(results["popularity"]),
        "user_aucs": {name: values for name, values in results.items()},
        "n_users": len(results["fold_in"]),
        "n_users_with_training_history": len(known_auc),
        "n_positives": n_pos,
        "negatives_per_user": n_negatives,
        "heldout_rows_out_of_catalog": scores.out_of_catalog,
        "protocol": (
            "strong generalisation: fold in the first half of each held-out user's held-out "
            "interactions, score the engaged second half against "
            f"{n_negatives} sampled never-interacted catalog items per user; per-user AUC "
            "averaged over users"
        ),
    }


def _position_ctr(
    log: InteractionLog, level: np.ndarray, heldout: np.ndarray, settings: CalibrationSettings
) -> list[float]:
    """Real engaged rate at each session position (1..cap) in the held-out window."""
    user, time, engaged = log.user[heldout], log.time[heldout], level[heldout] >= 1
    order, new = session_starts(user, time, settings)
    starts = np.flatnonzero(new)
    position = np.arange(new.shape[0]) - np.repeat(starts, np.diff(np.r_[starts, new.shape[0]]))
    cap = settings.max_session_steps
    inside = position < cap
    count = np.bincount(position[inside], minlength=cap)
    hits = np.bincount(position[inside], weights=engaged[order][inside], minlength=cap)
    return [float(h / c) if c else math.nan for h, c in zip(hits, count, strict=True)]


def _sim_position_ctr(clicks: np.ndarray, in_session: np.ndarray) -> list[float]:
    count = in_session.sum(axis=0)
    hits = (clicks * in_session).sum(axis=0)
    return [float(h / c) if c else math.nan for h, c in zip(hits, count, strict=True)]
