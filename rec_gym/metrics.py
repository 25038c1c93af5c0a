"""Pure metric functions for recommender evaluation (numpy only, no RL library).

Three groups, all hand-checkable:

- Statistics: :func:`mean_confidence_interval`.
- Beyond-accuracy metrics of what a recommender exposes: :func:`catalog_coverage`,
  :func:`gini`, :func:`intra_list_diversity`, :func:`novelty`.
- Offline next-item ranking: :func:`rank_of_target` (full ranking, the default protocol),
  :func:`sampled_rank` (sampled negatives; label results as such), and
  :func:`hit_rate_at_k`, :func:`ndcg_at_k`, :func:`mrr` over the 1-based ranks of the target.

Items are 0-based indices ``0..N-1`` here (an env's item id is ``index + 1``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

Ties = Literal["pessimistic", "average", "optimistic"]
_TIES = ("pessimistic", "average", "optimistic")


# -- statistics ---------------------------------------------------------------------------


def t_quantile(probability: float, df: int) -> float:
    """Quantile of Student's t distribution (no SciPy needed).

    Exact for ``df`` 1 and 2; for ``df >= 3`` the Cornish-Fisher expansion of Abramowitz &
    Stegun 26.7.5 around the normal quantile, within 1% of the exact value for two-sided
    confidences up to 99% (and far closer as ``df`` grows).

    Args:
        probability: Lower-tail probability in ``(0, 1)``.
        df: Degrees of freedom (>= 1).

    Returns:
        The ``probability`` quantile.

    Example:
        >>> round(t_quantile(0.975, 9), 3)  # tables: 2.262
        2.262
        >>> round(t_quantile(0.975, 1), 3)  # tables: 12.706
        12.706
    """
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {probability!r}")
    if df < 1:
        raise ValueError(f"df must be an integer >= 1, got {df!r}")
    if df == 1:
        return math.tan(math.pi * (probability - 0.5))
    if df == 2:
        return (2.0 * probability - 1.0) / math.sqrt(2.0 * probability * (1.0 - probability))
    z = NormalDist().inv_cdf(probability)
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def mean_confidence_interval(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Sample mean and a two-sided confidence interval for the mean.

    Uses Student's t with ``n - 1`` degrees of freedom (:func:`t_quantile`) and the sample
    standard deviation (``ddof=1``): ``mean +- t * s / sqrt(n)``. For ``n >= 30`` this is
    close to the normal interval (``t -> 1.96`` at 95%). With a single value the width
    cannot be estimated and the bounds are NaN. NaN values propagate to the result.

    Args:
        values: One value per independent unit (e.g. per episode).
        confidence: Coverage in ``(0, 1)``.

    Returns:
        ``(mean, low, high)``.

    Example:
        >>> m, lo, hi = mean_confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> m, round(hi - m, 3)  # s = 1.581, t(0.975, 4) = 2.776 -> 2.776 * 1.581 / sqrt(5)
        (3.0, 1.963)
        >>> mean_confidence_interval([2.0])
        (2.0, nan, nan)
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError("values must hold at least one number, got an empty sequence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence!r}")
    mean = float(array.mean())
    if array.size == 1:
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + confidence / 2.0, array.size - 1) * float(array.std(ddof=1))
    half /= math.sqrt(array.size)
    return mean, mean - half, mean + half


# -- beyond-accuracy metrics ----------------------------------------------------------------


def catalog_coverage(exposed_item_ids: Sequence[int] | np.ndarray, n_items: int) -> float:
    """Fraction of the catalog that was shown at least once.

    Args:
        exposed_item_ids: Item indices in ``[0, n_items)`` (repeats allowed).
        n_items: Catalog size N (>= 1).

    Returns:
        ``|unique(exposed)| / N`` in ``[0, 1]``.

    Example:
        >>> catalog_coverage([0, 0, 3, 3, 1], n_items=10)
        0.3
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer) or n_items < 1:
        raise ValueError(f"n_items must be an integer >= 1, got {n_items!r}")
    ids = _as_index_array("exposed_item_ids", exposed_item_ids, n_items)
    return float(np.unique(ids).size / n_items)


def gini(exposure_counts: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of how exposure is spread over items.

    0 when every item got the same exposure; ``(n - 1) / n`` (-> 1) when one item got all
    of it. Pass one count per catalog item, zeros included, or unexposed items are ignored.
    With sorted counts ``x_1 <= ... <= x_n``:
    ``G = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n``. All-zero counts give 0.

    Args:
        exposure_counts: Non-negative exposure count per item.

    Returns:
        The Gini coefficient in ``[0, 1)``.

    Example:
        >>> gini([5, 5, 5, 5])
        0.0
        >>> gini([0, 0, 0, 8])  # one of four items gets everything: 3 / 4
        0.75
    """
    counts = np.sort(np.asarray(exposure_counts, dtype=np.float64).reshape(-1))
    if counts.size == 0:
        raise ValueError("exposure_counts must hold one count per item, got an empty sequence")
    if not np.isfinite(counts).all() or counts[0] < 0:
        raise ValueError("exposure_counts must be finite and >= 0; pass raw exposure counts")
    total = counts.sum()
    if total == 0:
        return 0.0
    n = counts.size
    ranks = np.arange(1, n + 1)
    return float(2.0 * (ranks * counts).sum() / (n * total) - (n + 1) / n)


def intra_list_diversity(item_features_of_list: np.ndarray) -> float:
    """Mean pairwise cosine distance ``1 - cos(x_i, x_j)`` over the items of one list.

    The list is a session's exposed items or one slate, one feature row per item; a
    repeated item contributes distance 0 to its pairs, so repetition lowers diversity.
    An all-zero feature row is treated as orthogonal to everything (distance 1).

    Args:
        item_features_of_list: Features ``[n, d]`` of the n items of the list.

    Returns:
        The mean over the ``n * (n - 1) / 2`` pairs, in ``[0, 2]``; NaN when ``n < 2``.

    Example:
        >>> import numpy as np
        >>> intra_list_diversity(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
        0.6666666666666666
    """
    features = np.asarray(item_features_of_list, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"item_features_of_list must be 2-D [n_items, n_features], got shape {features.shape}"
        )
    n = features.shape[0]
    if n < 2:
        return math.nan
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    cosine = unit @ unit.T
    upper = np.triu_indices(n, k=1)
    return float((1.0 - cosine[upper]).mean())


def novelty(
    item_ids: Sequence[int] | np.ndarray, item_popularity: Sequence[float] | np.ndarray
) -> float:
    """Mean self-information ``-log2 p(item)`` of the recommended items (bits).

    Rarely consumed items are more novel: an item everyone knows (``p = 1``) has novelty 0,
    one known to a quarter of users has 2 bits.

    Args:
        item_ids: Item indices in ``[0, N)``.
        item_popularity: Probability ``p`` in ``(0, 1]`` that a user knows/consumed each item,
            shape ``[N]`` (e.g. the catalog's public popularity).

    Returns:
        The mean novelty in bits; NaN for an empty list.

    Example:
        >>> novelty([0, 1], [0.5, 0.25, 1.0])  # (1 + 2) / 2
        1.5
    """
    popularity = np.asarray(item_popularity, dtype=np.float64).reshape(-1)
    if popularity.size == 0 or not ((popularity > 0) & (popularity <= 1)).all():
        raise ValueError(
            "item_popularity must be probabilities in (0, 1], one per item; "
            "normalise counts by the number of users"
        )
    ids = _as_index_array("item_ids", item_ids, popularity.size)
    if ids.size == 0:
        return math.nan
    return float(-np.log2(popularity[ids]).mean())


# -- offline next-item ranking --------------------------------------------------------------


def rank_of_target(
    scores: np.ndarray,
    target: int | Sequence[int] | np.ndarray,
    *,
    exclude: np.ndarray | Sequence[int] | None = None,
    ties: Ties = "pessimistic",
) -> float | np.ndarray:
    """1-based rank of the target item among all candidate items (full-ranking protocol).

    ``rank = 1 + #(other candidates scoring above the target)``, plus the tied ones:
    all of them with ``ties="pessimistic"`` (the default, so a model that scores every
    item the same gets the worst rank instead of a lucky one), half of them with
    ``"average"`` (the expected rank under random tie-breaking), none with ``"optimistic"``.

    Args:
        scores: Item scores ``[N]`` or a batch ``[B, N]`` (higher is better, finite).
        target: Target item index, or ``[B]`` indices for a batch.
        exclude: Items removed from the candidates (e.g. already consumed): integer indices
            (applied to every row) or a boolean mask shaped like ``scores``. Must not
            contain the target.
        ties: How tied scores count.

    Returns:
        The rank (a float, for ``"average"`` ties), or ``[B]`` ranks for a batch.

    Example:
        >>> import numpy as np
        >>> scores = np.array([0.1, 0.9, 0.5, 0.5])
        >>> rank_of_target(scores, 2), rank_of_target(scores, 2, ties="average")
        (3.0, 2.5)
        >>> rank_of_target(scores, 2, exclude=[1])  # item 1 removed
        2.0
    """
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"scores must be [N] or [B, N] with N >= 1, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("scores must be finite; replace NaN/inf (e.g. masked items) first")
    _check_ties(ties)
    batch = array.reshape(-1, array.shape[-1])
    targets = np.asarray(target).reshape(-1)
    if targets.size != batch.shape[0]:
        raise ValueError(
            f"target must hold one index per row of scores ({batch.shape[0]}), got {targets.size}"
        )
    targets = _as_index_array("target", targets, batch.shape[1])
    candidate = np.ones(batch.shape, dtype=bool)
    if exclude is not None:
        excluded = np.asarray(exclude)
        if excluded.dtype == bool:
            if excluded.shape != array.shape:
                raise ValueError(
                    f"a boolean exclude mask must have the shape of scores {array.shape}, "
                    f"got {excluded.shape}"
                )
            candidate &= ~excluded.reshape(batch.shape)
        else:
            candidate[:, _as_index_array("exclude", excluded, batch.shape[1])] = False
    rows = np.arange(batch.shape[0])
    if not candidate[rows, targets].all():
        raise ValueError("exclude must not contain the target item; drop it from exclude")
    target_scores = batch[rows, targets][:, None]
    higher = ((batch > target_scores) & candidate).sum(axis=1)
    tied = ((batch == target_scores) & candidate).sum(axis=1) - 1  # minus the target itself
    ranks = 1.0 + higher + _tie_share(tied, ties)
    return float(ranks[0]) if array.ndim == 1 else ranks


def sampled_rank(
    scores: np.ndarray,
    target: int,
    negatives: Sequence[int] | np.ndarray,
    *,
    ties: Ties = "pessimistic",
) -> float:
    """1-based rank of the target among itself and sampled negative items.

    The sampled-negatives protocol (e.g. 100 random negatives) is cheaper but biased
    relative to full ranking, and its metrics are not comparable to full-ranking ones:
    label them as sampled. Ties count as in :func:`rank_of_target`.

    Args:
        scores: Item scores ``[N]``.
        target: Target item index.
        negatives: Negative item indices (distinct from the target).
        ties: How tied scores count.

    Returns:
        The rank in ``[1, len(negatives) + 1]``.

    Example:
        >>> import numpy as np
        >>> sampled_rank(np.array([0.2, 0.9, 0.5, 0.7]), target=2, negatives=[0, 3])
        2.0
    """
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"scores must be 1-D [N] with N >= 1, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("scores must be finite; replace NaN/inf (e.g. masked items) first")
    _check_ties(ties)
    (index,) = _as_index_array("target", [target], array.size)
    neg = _as_index_array("negatives", negatives, array.size)
    if (neg == index).any():
        raise ValueError("negatives must not contain the target item; resample them")
    higher = int((array[neg] > array[index]).sum())
    tied = int((array[neg] == array[index]).sum())
    return float(1.0 + higher + _tie_share(np.array([tied]), ties)[0])


def hit_rate_at_k(ranks: Sequence[float] | np.ndarray, k: int) -> float:
    """Fraction of targets ranked within the top ``k`` (HR@k, = recall@k for one target).

    Example:
        >>> hit_rate_at_k([1, 3, 11, 2], k=3)
        0.75
    """
    array = _check_ranks(ranks)
    _check_k(k)
    return float((array <= k).mean())


def ndcg_at_k(ranks: Sequence[float] | np.ndarray, k: int) -> float:
    """NDCG@k for one relevant item per list: ``1 / log2(rank + 1)`` if ``rank <= k``, else 0.

    The ideal DCG of a single relevant item is 1, so no normalisation is needed.

    Example:
        >>> ndcg_at_k([1, 3, 11], k=10)  # (1 + 1/log2(4) + 0) / 3 = 1.5 / 3
        0.5
    """
    array = _check_ranks(ranks)
    _check_k(k)
    gains = np.where(array <= k, 1.0 / np.log2(array + 1.0), 0.0)
    return float(gains.mean())


def mrr(ranks: Sequence[float] | np.ndarray) -> float:
    """Mean reciprocal rank of the target.

    Example:
        >>> mrr([1, 2, 4])  # (1 + 0.5 + 0.25) / 3
        0.5833333333333334
    """
    return float((1.0 / _check_ranks(ranks)).mean())


# -- helpers --------------------------------------------------------------------------------


def _as_index_array(name: str, values: object, n_items: int) -> np.ndarray:
    array = np.asarray(values).reshape(-1)
    if array.size == 0:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integer item indices, got dtype {array.dtype}")
    if array.min() < 0 or array.max() >= n_items:
        raise ValueError(
            f"{name} must be item indices in [0, {n_items}), got values in "
            f"[{array.min()}, {array.max()}]; env item ids are index + 1"
        )
    return array.astype(np.int64)


def _check_ties(ties: str) -> None:
    if ties not in _TIES:
        raise ValueError(f"ties must be one of {_TIES}, got {ties!r}")


def _tie_share(tied: np.ndarray, ties: str) -> np.ndarray:
    if ties == "pessimistic":
        return tied.astype(np.float64)
    if ties == "average":
        return tied / 2.0
    return np.zeros(tied.shape)


def _check_ranks(ranks: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError("ranks must hold at least one rank, got an empty sequence")
    if not np.isfinite(array).all() or array.min() < 1:
        raise ValueError("ranks must be finite 1-based ranks (>= 1); use rank_of_target")
    return array


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
