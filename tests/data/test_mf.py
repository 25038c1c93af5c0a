"""The implicit ALS factorisation: exact solves, determinism, and that it learns structure."""

from __future__ import annotations

import numpy as np

from rec_gym.data.mf import Factors, ImplicitData, fit_als, solve_users


def _random_problem(seed: int = 0) -> tuple[ImplicitData, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_users, n_items, dim = 7, 9, 3
    observed = rng.random((n_users, n_items)) < 0.4
    user, item = np.nonzero(observed)
    data = ImplicitData(
        user=user,
        item=item,
        preference=rng.choice([0.5, 1.0], size=user.shape[0]),
        confidence=1.0 + 10.0 * rng.random(user.shape[0]),
        n_users=n_users,
        n_items=n_items,
    )
    return data, rng.normal(size=(n_items, dim)), rng.normal(size=n_items)


def test_user_solve_matches_dense_weighted_least_squares() -> None:
    data, item_factors, bias = _random_problem()
    w0, reg = 0.7, 0.3
    got = solve_users(
        item_factors,
        bias,
        data.user,
        data.item,
        data.preference,
        data.confidence,
        n_users=data.n_users,
        unobserved_weight=w0,
        regularization=reg,
    )
    # Dense reference: every pair, unobserved ones with p = 0 and weight w0.
    conf = np.full((data.n_users, data.n_items), w0)
    pref = np.zeros((data.n_users, data.n_items))
    conf[data.user, data.item] = data.confidence
    pref[data.user, data.item] = data.preference
    for u in range(data.n_users):
        weights = np.diag(conf[u])
        lhs = item_factors.T @ weights @ item_factors + reg * np.eye(item_factors.shape[1])
        rhs = item_factors.T @ weights @ (pref[u] - bias)
        np.testing.assert_allclose(got[u], np.linalg.solve(lhs, rhs), rtol=1e-9, atol=1e-10)


def test_fit_is_deterministic_and_seed_dependent() -> None:
    data, _, _ = _random_problem(1)

    def fit(seed: int) -> Factors:
        return fit_als(
            data, dim=3, unobserved_weight=1.0, regularization=0.5, iterations=4, seed=seed
        )

    first, second, other = fit(3), fit(3), fit(4)
    assert np.array_equal(first.item, second.item) and np.array_equal(first.user, second.user)
    assert not np.allclose(first.item, other.item)


def test_fit_ranks_planted_block_structure() -> None:
    """Two user groups each like their own half of the items: held-out pairs rank right."""
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    group = np.arange(n_users) % 2
    likes = (np.arange(n_items)[None, :] % 2) == group[:, None]
    observed = likes & (rng.random((n_users, n_items)) < 0.5)
    hidden = likes & ~observed  # never shown to the fit
    user, item = np.nonzero(observed)
    data = ImplicitData(
        user, item, np.ones(user.shape[0]), np.full(user.shape[0], 11.0), n_users, n_items
    )
    factors = fit_als(data, dim=4, unobserved_weight=1.0, regularization=5.0, iterations=8, seed=0)
    score = factors.user @ factors.item.T + factors.bias
    aucs = []
    for u in range(n_users):
        positives = score[u, hidden[u]][:, None]
        negatives = score[u, ~likes[u]][None, :]
        aucs.append((positives > negatives).mean())
    # A model without the block structure (e.g. popularity only) would be near 0.5.
    assert np.mean(aucs) > 0.95 and min(aucs) > 0.8
