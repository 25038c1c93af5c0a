"""Hand-checked unit tests of the pure metric functions in rec_gym.metrics."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rec_gym.metrics import (
    catalog_coverage,
    gini,
    hit_rate_at_k,
    intra_list_diversity,
    mean_confidence_interval,
    mrr,
    ndcg_at_k,
    novelty,
    rank_of_target,
    sampled_rank,
    t_quantile,
)

# -- statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "df", "table"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 4, 2.776),
        (0.975, 9, 2.262),
        (0.975, 29, 2.045),
        (0.995, 9, 3.250),
        (0.95, 5, 2.015),
        (0.975, 100_000, 1.960),
    ],
)
def test_t_quantile_matches_printed_tables(probability: float, df: int, table: float) -> None:
    assert t_quantile(probability, df) == pytest.approx(table, abs=2e-3)


def test_t_quantile_is_antisymmetric() -> None:
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7))


def test_mean_confidence_interval_by_hand() -> None:
    mean, low, high = mean_confidence_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * s / sqrt(n), s^2 = 2.5
    assert mean == 3.0
    assert low == pytest.approx(3.0 - half, abs=1e-3)
    assert high == pytest.approx(3.0 + half, abs=1e-3)


def test_mean_confidence_interval_is_normal_for_large_n() -> None:
    values = np.tile([0.0, 1.0], 500)  # n = 1000, mean 0.5, s = sqrt(1000 / 3996)
    mean, low, high = mean_confidence_interval(values)
    s = float(np.std(values, ddof=1))
    assert mean == 0.5
    assert high - mean == pytest.approx(1.96 * s / math.sqrt(1000), rel=2e-3)


def test_mean_confidence_interval_covers_the_true_mean_95_percent_of_the_time() -> None:
    # With n = 5 a normal (1.96) interval covers only ~88%; the t interval ~95%.
    rng = np.random.default_rng(0)
    samples = rng.normal(loc=2.0, scale=3.0, size=(4000, 5))
    covered = 0
    for row in samples:
        _, low, high = mean_confidence_interval(row)
        covered += low <= 2.0 <= high
    assert covered / len(samples) == pytest.approx(0.95, abs=0.015)


def test_mean_confidence_interval_of_one_value_has_no_width() -> None:
    mean, low, high = mean_confidence_interval([4.0])
    assert mean == 4.0
    assert math.isnan(low) and math.isnan(high)


def test_mean_confidence_interval_constant_values_collapse() -> None:
    assert mean_confidence_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


@pytest.mark.parametrize(
    ("values", "confidence", "match"),
    [([], 0.95, "empty"), ([1.0, 2.0], 1.5, "confidence"), ([1.0, 2.0], 0.0, "confidence")],
)
def test_mean_confidence_interval_rejects_bad_input(
    values: list[float], confidence: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        mean_confidence_interval(values, confidence)


# -- beyond-accuracy ------------------------------------------------------------------------


def test_catalog_coverage_counts_distinct_items() -> None:
    assert catalog_coverage([0, 0, 3, 3, 1], n_items=10) == 0.3
    assert catalog_coverage(np.arange(4), n_items=4) == 1.0
    assert catalog_coverage([], n_items=4) == 0.0


@pytest.mark.parametrize(("ids", "n_items"), [([0, 4], 4), ([-1], 4), ([0], 0), ([0.5], 4)])
def test_catalog_coverage_rejects_bad_input(ids: list[Any], n_items: int) -> None:
    with pytest.raises(ValueError):
        catalog_coverage(ids, n_items)


def test_gini_by_hand() -> None:
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    # 1..4: mean absolute difference form: sum_ij |xi - xj| / (2 n^2 mean) = 20 / 80
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)
    assert gini([0, 0]) == 0.0


def test_gini_ignores_scale_and_order_and_grows_with_concentration() -> None:
    assert gini([1, 2, 3, 4]) == pytest.approx(gini([40, 10, 30, 20]))
    assert gini([1, 1, 1, 5]) < gini([0, 1, 1, 6]) < gini([0, 0, 0, 8])


def test_gini_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="exposure_counts"):
        gini([1, -1])


def test_intra_list_diversity_by_hand() -> None:
    x, y = [1.0, 0.0], [0.0, 1.0]
    assert intra_list_diversity(np.array([x, y])) == pytest.approx(1.0)
    assert intra_list_diversity(np.array([x, x])) == pytest.approx(0.0)
    assert intra_list_diversity(np.array([x, y, x])) == pytest.approx(2.0 / 3.0)  # 1, 0, 1
    assert intra_list_diversity(np.array([x, [-1.0, 0.0]])) == pytest.approx(2.0)
    # 45 degrees: 1 - cos(pi / 4)
    d = intra_list_diversity(np.array([x, [1.0, 1.0]]))
    assert d == pytest.approx(1 - math.sqrt(0.5))


def test_intra_list_diversity_of_short_lists_is_nan_and_shape_checked() -> None:
    assert math.isnan(intra_list_diversity(np.ones((1, 3))))
    with pytest.raises(ValueError, match="2-D"):
        intra_list_diversity(np.ones(3))


def test_novelty_by_hand() -> None:
    assert novelty([0, 1], [0.5, 0.25, 1.0]) == pytest.approx(1.5)
    assert novelty([2, 2], [0.5, 0.25, 1.0]) == 0.0
    assert math.isnan(novelty([], [0.5]))


@pytest.mark.parametrize("popularity", [[0.0, 0.5], [0.5, 1.5]])
def test_novelty_rejects_non_probabilities(popularity: list[float]) -> None:
    with pytest.raises(ValueError, match="item_popularity"):
        novelty([0], popularity)


# -- ranking --------------------------------------------------------------------------------


def test_rank_of_target_by_hand() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.5, 0.2])
    assert rank_of_target(scores, 1) == 1.0
    assert rank_of_target(scores, 0) == 5.0
    assert rank_of_target(scores, 4) == 4.0
    # Item 2 ties with item 3, below item 1.
    assert rank_of_target(scores, 2) == 3.0
    assert rank_of_target(scores, 2, ties="average") == 2.5
    assert rank_of_target(scores, 2, ties="optimistic") == 2.0
    assert rank_of_target(scores, 2, exclude=[1, 3]) == 1.0


def test_rank_of_target_constant_scores_are_worst_when_pessimistic() -> None:
    scores = np.zeros(10)
    assert rank_of_target(scores, 3) == 10.0
    assert rank_of_target(scores, 3, ties="average") == 5.5


def test_rank_of_target_agrees_with_sorting_and_batches() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(6, 20))
    targets = rng.integers(0, 20, size=6)
    ranks = np.asarray(rank_of_target(scores, targets))
    for row, target, rank in zip(scores, targets, ranks, strict=True):
        order = np.argsort(-row)
        assert rank == 1 + int(np.flatnonzero(order == target)[0])
        assert rank_of_target(row, int(target)) == rank


def test_rank_of_target_boolean_exclude_mask() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    mask = np.array([[True, False, False], [False, False, False]])
    assert np.asarray(rank_of_target(scores, [2, 2], exclude=mask)).tolist() == [2.0, 3.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores": np.zeros(3), "target": 1, "exclude": [1]}, "target"),
        ({"scores": np.zeros(3), "target": 3}, r"\[0, 3\)"),
        ({"scores": np.array([0.0, np.nan]), "target": 0}, "finite"),
        ({"scores": np.zeros(3), "target": 0, "ties": "random"}, "ties"),
        ({"scores": np.zeros((2, 3)), "target": 0}, "one index per row"),
        ({"scores": np.zeros(3), "target": 0, "exclude": np.zeros(2, bool)}, "shape"),
    ],
)
def test_rank_of_target_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        rank_of_target(**kwargs)


def test_sampled_rank_by_hand() -> None:
    scores = np.array([0.2, 0.9, 0.5, 0.7, 0.5])
    assert sampled_rank(scores, 2, [0, 3]) == 2.0
    assert sampled_rank(scores, 2, [0]) == 1.0
    assert sampled_rank(scores, 2, [1, 3, 4]) == 4.0  # pessimistic tie with item 4
    assert sampled_rank(scores, 2, [1, 3, 4], ties="average") == 3.5
    with pytest.raises(ValueError, match="negatives"):
        sampled_rank(scores, 2, [2, 3])


def test_ranking_metrics_by_hand() -> None:
    ranks = [1, 3, 11, 2]
    assert hit_rate_at_k(ranks, 1) == 0.25
    assert hit_rate_at_k(ranks, 3) == 0.75
    assert ndcg_at_k([1, 3, 11], 10) == pytest.approx(0.5)  # (1 + 1/2 + 0) / 3
    assert ndcg_at_k([2], 10) == pytest.approx(1 / math.log2(3))
    assert mrr([1, 2, 4]) == pytest.approx((1 + 0.5 + 0.25) / 3)


def test_ranking_metrics_chain_with_rank_of_target() -> None:
    scores = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.5]])
    ranks = np.asarray(rank_of_target(scores, [0, 2]))  # first in row 0, second in row 1
    assert ranks.tolist() == [1.0, 2.0]
    assert hit_rate_at_k(ranks, 1) == 0.5
    assert mrr(ranks) == 0.75


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: hit_rate_at_k([0], 1), "ranks"),
        (lambda: hit_rate_at_k([1], 0), "k must"),
        (lambda: ndcg_at_k([], 5), "ranks"),
        (lambda: mrr([np.nan]), "ranks"),
    ],
)
def test_ranking_metrics_reject_bad_input(call: Callable[[], float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
