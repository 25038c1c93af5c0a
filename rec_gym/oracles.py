"""Reference policies that read the hidden user state (upper and lower bounds for agents).

- :func:`myopic_items`: the item (slate) with the highest immediate expected reward.
- :func:`anti_oracle_items`: the item with the lowest immediate expected reward.
- :func:`planning_items`: short-horizon look-ahead on a copy of the user state: every
  candidate is rolled forward in expectation (mean-field: expected clicks, purchases,
  satiation, drift, patience and survival) followed by myopic choices, and the candidate
  with the largest expected return over the horizon is chosen.

They return 0-based item indices ``[B, K]``; the env turns them into actions.
"""

from __future__ import annotations

import numpy as np

from rec_gym.choice import all_item_affinity, click_probability, purchase_probability
from rec_gym.simulator import RecSimulator
from rec_gym.users import UserState, leave_probability, update_users


def myopic_items(sim: RecSimulator, state: UserState, slate_size: int) -> np.ndarray:
    """Greedy immediate-reward slate, ``[B, K]``."""
    return sim.myopic_slate(state, slate_size)


def anti_oracle_items(sim: RecSimulator, state: UserState, slate_size: int) -> np.ndarray:
    """The slate of the ``K`` items with the lowest immediate expected reward, ``[B, K]``."""
    single = sim.item_expected_rewards(state)
    return np.argsort(single, axis=1, kind="stable")[:, :slate_size]


def planning_items(
    sim: RecSimulator,
    state: UserState,
    slate_size: int,
    horizon: int = 10,
    n_candidates: int = 20,
    discount: float = 1.0,
) -> np.ndarray:
    """Look-ahead planning oracle, ``[B, K]``.

    For each user, the ``n_candidates`` items with the highest immediate expected reward
    (plus the ones with the highest quality-weighted click chance) are each simulated for
    ``horizon`` steps in expectation, continuing myopically, and ranked by expected
    discounted return weighted by the chance the user is still there. A slate takes the
    ``K`` best-ranked candidates.

    Args:
        sim: The simulator (read only).
        state: Users, batch B (not modified).
        slate_size: K.
        horizon: Look-ahead steps (>= 1).
        n_candidates: Candidates per user (>= K).
        discount: Per-step discount of the look-ahead return.

    Returns:
        Item indices ``[B, K]``.
    """
    n_items = sim.config.n_items
    n_candidates = max(slate_size, min(n_candidates, n_items))
    chosen = np.empty((state.interest.shape[0], slate_size), dtype=np.int64)
    for user in range(state.interest.shape[0]):
        one = _select(state, user)
        immediate = sim.item_expected_rewards(one)[0]  # [N]
        candidates = _candidates(sim, one, immediate, n_candidates)
        values = _rollout_values(sim, one, candidates, horizon, discount)
        order = np.argsort(-values, kind="stable")[:slate_size]
        chosen[user] = candidates[order]
    return chosen


def _select(state: UserState, user: int) -> UserState:
    return UserState(
        interest=state.interest[user : user + 1],
        satiation=state.satiation[user : user + 1],
        patience=state.patience[user : user + 1],
        features=state.features[user : user + 1],
        purchased=state.purchased[user : user + 1],
    )


def _candidates(sim: RecSimulator, one: UserState, immediate: np.ndarray, count: int) -> np.ndarray:
    by_reward = np.argsort(-immediate, kind="stable")[:count]
    aff = all_item_affinity(one, sim.catalog, sim.config)
    click = click_probability(aff[..., None], np.ones(aff.shape + (1,), bool), sim.config)
    satisfying = click[0, :, 0] * sim.catalog.quality
    by_quality = np.argsort(-satisfying, kind="stable")[:count]
    return np.unique(np.concatenate([by_reward, by_quality]))


def _rollout_values(
    sim: RecSimulator, one: UserState, candidates: np.ndarray, horizon: int, discount: float
) -> np.ndarray:
    config, catalog = sim.config, sim.catalog
    branches = one.repeat(candidates.shape[0]).copy()
    not_bought = 1.0 - branches.purchased.astype(np.float64)  # [M, N]
    branches.purchased = np.zeros_like(branches.purchased)
    rows = np.arange(candidates.shape[0])
    survival = np.ones(candidates.shape[0])
    value = np.zeros(candidates.shape[0])
    items = candidates
    for step in range(horizon):
        aff_all = all_item_affinity(branches, catalog, config)  # [M, N]
        ones = np.ones(aff_all.shape + (1,), dtype=bool)
        click_all = click_probability(aff_all[..., None], ones, config)[..., 0]
        all_items = np.broadcast_to(np.arange(config.n_items), aff_all.shape)
        purchase_all = (
            purchase_probability(aff_all, all_items, branches.purchased, catalog, config)
            * not_bought
        )
        reward_all = sim.reward_model.expected(click_all[..., None], purchase_all[..., None])
        if step > 0:
            items = reward_all.argmax(axis=1)
        click = click_all[rows, items]
        purchase = purchase_all[rows, items]
        value += survival * discount**step * reward_all[rows, items]
        update_users(branches, catalog, items[:, None], click[:, None], purchase[:, None], config)
        not_bought[rows, items] *= 1.0 - click * purchase
        survival *= 1.0 - leave_probability(branches.patience, config)
    return value
