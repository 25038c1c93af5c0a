"""Weighted implicit matrix factorisation by alternating least squares, in numpy.

The model scores user u and item i as ``x_u . y_i + b_i`` and minimises (Hu, Koren and
Volinsky, 2008, with an item bias)::

    sum_{u,i} c_ui (p_ui - x_u . y_i - b_i)^2 + reg (|X|^2 + |Y|^2 + |b|^2)

over *all* user-item pairs: observed pairs have preference ``p_ui`` and confidence
``c_ui``; every unobserved pair has ``p = 0`` and confidence ``unobserved_weight``. The
sum over unobserved pairs is never built: it enters through one Gram matrix per half-step.
The solves are batched (one ``np.linalg.solve`` over stacked systems), and the only random
draw is the initialisation, from a generator seeded by ``seed``: the fit is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Observed pairs whose outer products are held in memory at once.
_CHUNK = 16_384


@dataclass(frozen=True)
class ImplicitData:
    """Observed user-item pairs of an implicit-feedback problem.

    Attributes:
        user: User index of each observed pair, ``[E]`` int64 in ``[0, n_users)``.
        item: Item index of each pair, ``[E]`` int64 in ``[0, n_items)``.
        preference: Target ``p_ui``, ``[E]``.
        confidence: Weight ``c_ui`` (> unobserved weight for informative pairs), ``[E]``.
        n_users: Number of users.
        n_items: Number of items.
    """

    user: np.ndarray
    item: np.ndarray
    preference: np.ndarray
    confidence: np.ndarray
    n_users: int
    n_items: int


@dataclass(frozen=True)
class Factors:
    """A fitted factorisation.

    Attributes:
        user: User factors ``[n_users, dim]``.
        item: Item factors ``[n_items, dim]``.
        bias: Item biases ``[n_items]``.
    """

    user: np.ndarray
    item: np.ndarray
    bias: np.ndarray


def fit_als(
    data: ImplicitData,
    *,
    dim: int,
    unobserved_weight: float,
    regularization: float,
    iterations: int,
    seed: int,
) -> Factors:
    """Fits user and item factors (and item biases) by alternating least squares.

    Args:
        data: Observed pairs.
        dim: Factor dimension.
        unobserved_weight: Confidence of every unobserved pair (> 0).
        regularization: L2 penalty on factors and biases (> 0).
        iterations: Number of (user, item) half-step pairs.
        seed: Seed of the initialisation.

    Returns:
        The fitted factors.
    """
    rng = np.random.default_rng(seed)
    item_factors = 0.1 * rng.normal(size=(data.n_items, dim))
    bias = np.zeros(data.n_items)
    user_factors = np.zeros((data.n_users, dim))
    by_user = np.argsort(data.user, kind="stable")
    by_item = np.argsort(data.item, kind="stable")
    for _ in range(iterations):
        user_factors = _solve_users_sorted(
            item_factors,
            bias,
            data.user[by_user],
            data.item[by_user],
            data.preference[by_user],
            data.confidence[by_user],
            data.n_users,
            unobserved_weight,
            regularization,
        )
        item_factors, bias = _solve_items_sorted(
            user_factors,
            data.item[by_item],
            data.user[by_item],
            data.preference[by_item],
            data.confidence[by_item],
            data.n_items,
            unobserved_weight,
            regularization,
        )
    return Factors(user_factors, item_factors, bias)


def solve_users(
    item_factors: np.ndarray,
    bias: np.ndarray,
    user: np.ndarray,
    item: np.ndarray,
    preference: np.ndarray,
    confidence: np.ndarray,
    *,
    n_users: int,
    unobserved_weight: float,
    regularization: float,
) -> np.ndarray:
    """Best user factors for fixed item factors (also the fold-in of new users).

    Args:
        item_factors: ``[n_items, dim]``.
        bias: Item biases ``[n_items]``.
        user: User index per observed pair ``[E]``.
        item: Item index per pair ``[E]``.
        preference: ``[E]``.
        confidence: ``[E]``.
        n_users: Number of users (rows of the result; users without pairs get the
            all-unobserved solution).
        unobserved_weight: Confidence of unobserved pairs.
        regularization: L2 penalty.

    Returns:
        User factors ``[n_users, dim]``.
    """
    order = np.argsort(user, kind="stable")
    return _solve_users_sorted(
        item_factors,
        bias,
        user[order],
        item[order],
        preference[order],
        confidence[order],
        n_users,
        unobserved_weight,
        regularization,
    )


def _solve_users_sorted(
    item_factors: np.ndarray,
    bias: np.ndarray,
    user: np.ndarray,
    item: np.ndarray,
    preference: np.ndarray,
    confidence: np.ndarray,
    n_users: int,
    w0: float,
    regularization: float,
) -> np.ndarray:
    gram = w0 * (item_factors.T @ item_factors)
    base = -w0 * (item_factors.T @ bias)  # the unobserved pairs' pull toward p = 0
    z = item_factors[item]
    target = confidence * (preference - bias[item]) + w0 * bias[item]
    return _ridge_rows(n_users, user, z, confidence - w0, target, gram, base, regularization)


def _solve_items_sorted(
    user_factors: np.ndarray,
    item: np.ndarray,
    user: np.ndarray,
    preference: np.ndarray,
    confidence: np.ndarray,
    n_items: int,
    w0: float,
    regularization: float,
) -> tuple[np.ndarray, np.ndarray]:
    extended = np.hstack([user_factors, np.ones((user_factors.shape[0], 1))])  # [U, dim + 1]
    gram = w0 * (extended.T @ extended)
    base = np.zeros(extended.shape[1])
    z = extended[user]
    target = confidence * preference
    solution = _ridge_rows(n_items, item, z, confidence - w0, target, gram, base, regularization)
    return solution[:, :-1], solution[:, -1]


def _ridge_rows(
    n_rows: int,
    row: np.ndarray,
    z: np.ndarray,
    extra_weight: np.ndarray,
    target: np.ndarray,
    gram: np.ndarray,
    base: np.ndarray,
    regularization: float,
) -> np.ndarray:
    """Solves ``(gram + reg I + sum_e w_e z_e z_e^T) x_r = base + sum_e t_e z_e`` per row.

    ``row`` must be sorted. Rows are bucketed by their number of pairs (padded to the next
    power of two) so that each bucket's sums are one batched matrix product; the solves are
    one batched call.
    """
    dim = z.shape[1]
    lhs = np.broadcast_to(gram + regularization * np.eye(dim), (n_rows, dim, dim)).copy()
    rhs = np.broadcast_to(base, (n_rows, dim)).copy()
    bounds = np.searchsorted(row, np.arange(n_rows + 1))
    counts = np.diff(bounds)
    weighted = z * extra_weight[:, None]
    width = 1
    while width // 2 < counts.max(initial=0):
        members = np.flatnonzero((counts > width // 2) & (counts <= width))
        per_chunk = max(_CHUNK // width, 1)
        for first in range(0, members.shape[0], per_chunk):
            rows = members[first : first + per_chunk]
            offset = np.arange(width)
            valid = offset[None, :] < counts[rows, None]  # [R, K]
            index = np.where(valid, bounds[rows, None] + offset[None, :], 0)
            mask = valid[:, :, None]
            z_pad = np.where(mask, z[index], 0.0)  # [R, K, d]
            w_pad = np.where(mask, weighted[index], 0.0)
            lhs[rows] += np.matmul(w_pad.transpose(0, 2, 1), z_pad)
            rhs[rows] += np.einsum("rk,rkd->rd", np.where(valid, target[index], 0.0), z_pad)
        width *= 2
    return np.linalg.solve(lhs, rhs[..., None])[..., 0]
