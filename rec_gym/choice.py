"""The choice/response model: affinity, click and purchase probabilities, and sampling.

All functions are stateless and batched: the leading dimension B indexes users, K indexes
slate positions. Probabilities are computed in a numerically stable way, so they stay
finite and within ``[0, 1]`` for any affinity, including very negative ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rec_gym.config import RecEnvConfig
from rec_gym.items import ItemCatalog
from rec_gym.users import UserState


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for any finite input)."""
    out = np.empty_like(x, dtype=np.float64)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    exp_x = np.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out


def scaled_affinity(
    state: UserState, catalog: ItemCatalog, items: np.ndarray, config: RecEnvConfig
) -> np.ndarray:
    """Affinity of each user for some items: ``interest . latent + appeal - w * satiation``.

    Args:
        state: Users, batch B.
        catalog: The catalog.
        items: Item indices ``[B, K]``.
        config: World configuration (``satiation_weight`` is w).

    Returns:
        Affinities ``[B, K]``.
    """
    dot = np.einsum("bd,bkd->bk", state.interest, catalog.latent[items])
    boredom = np.take_along_axis(state.satiation, catalog.topic[items], axis=1)
    return dot + catalog.appeal[items] - config.satiation_weight * boredom


def all_item_affinity(state: UserState, catalog: ItemCatalog, config: RecEnvConfig) -> np.ndarray:
    """Affinity of every user for every item, ``[B, N]`` (one pass over the catalog)."""
    boredom = state.satiation[:, catalog.topic]
    return state.interest @ catalog.latent.T + catalog.appeal - config.satiation_weight * boredom


def purchase_probability(
    aff: np.ndarray,
    items: np.ndarray,
    purchased: np.ndarray,
    catalog: ItemCatalog,
    config: RecEnvConfig,
) -> np.ndarray:
    """Chance of buying an item given that it was clicked, ``[B, K]``.

    Rises with affinity and quality, falls with price; zero for items already bought.
    """
    logit = (
        config.purchase_affinity_weight * aff
        + config.quality_weight * catalog.quality[items]
        - config.price_sensitivity * catalog.price[items]
        + config.purchase_bias
    )
    already = np.take_along_axis(purchased, items, axis=1)
    return np.where(already, 0.0, sigmoid(logit))


def position_weights(slate_size: int, config: RecEnvConfig) -> np.ndarray:
    """Attention weight of each slate position, ``position_bias ** j``, shape ``[K]``."""
    return config.position_bias ** np.arange(slate_size, dtype=np.float64)


def click_probability(aff: np.ndarray, valid: np.ndarray, config: RecEnvConfig) -> np.ndarray:
    """Click probability of every slate position, ``[..., K]``.

    MNL: a softmax over the valid items (with attention-weighted utilities) and a no-click
    option, so at most one item is clicked. Cascade: each position is examined with its
    attention weight and clicked independently with ``sigmoid(u - u_no_click)`` (these are
    marginal probabilities before the scan stops; see :func:`sample_response`).
    For a single item both reduce to ``sigmoid(scale * affinity - no_click_utility)``.

    Args:
        aff: Affinities ``[..., K]``.
        valid: Whether each position holds a first occurrence of its item ``[..., K]``.
        config: World configuration.
    """
    utility = config.affinity_scale * aff
    weights = position_weights(aff.shape[-1], config)
    if config.choice_model == "cascade" and aff.shape[-1] > 1:
        return np.where(valid, weights * sigmoid(utility - config.no_click_utility), 0.0)
    # Stable MNL: log-sum-exp over [no-click, valid items]. Log-weights are computed directly
    # (``bias ** j`` underflows to 0 for long slates and a small bias).
    log_weights = np.arange(aff.shape[-1], dtype=np.float64) * np.log(config.position_bias)
    logits = np.where(valid, utility + log_weights, -np.inf)
    top = np.maximum(logits.max(axis=-1, keepdims=True), config.no_click_utility)
    exp_items = np.exp(logits - top)
    exp_none = np.exp(config.no_click_utility - top)
    return exp_items / (exp_none + exp_items.sum(axis=-1, keepdims=True))


def first_occurrence(items: np.ndarray) -> np.ndarray:
    """Marks the first occurrence of each item in every slate row, ``[B, K]`` bool.

    Duplicates later in a slate are not shown again: they cannot be clicked and do not add
    satiation. Their count is reported in ``info["duplicates"]``.
    """
    if items.shape[1] == 1:
        return np.ones(items.shape, dtype=bool)
    same = items[:, :, None] == items[:, None, :]  # [B, K, K]: position i equals position j
    return ~np.tril(same, k=-1).any(axis=2)  # a duplicate equals some earlier position j < i


@dataclass(frozen=True)
class Response:
    """A sampled response to one step's recommendation.

    Attributes:
        clicks: 0/1 per slate position, ``[B, K]``.
        purchases: bool per slate position, ``[B, K]``.
        click_prob: Marginal click probability per position, ``[B, K]``.
        purchase_prob: Purchase-given-click probability per position, ``[B, K]``.
        valid: First occurrences in the slate, ``[B, K]``.
    """

    clicks: np.ndarray
    purchases: np.ndarray
    click_prob: np.ndarray
    purchase_prob: np.ndarray
    valid: np.ndarray


def marginal_click_probability(click_prob: np.ndarray, config: RecEnvConfig) -> np.ndarray:
    """Turns :func:`click_probability` into the marginal chance each position is clicked.

    Equal to the input for MNL. In the cascade model position j is clicked only if the scan
    reaches it: the scan stops after a click unless it continues with
    ``cascade_continue_prob``.
    """
    if config.choice_model != "cascade" or click_prob.shape[-1] == 1:
        return click_prob
    stop = click_prob * (1.0 - config.cascade_continue_prob)
    reach = np.cumprod(1.0 - stop, axis=-1)
    reach = np.concatenate([np.ones_like(reach[..., :1]), reach[..., :-1]], axis=-1)
    return reach * click_prob


def response_probabilities(
    state: UserState, catalog: ItemCatalog, items: np.ndarray, config: RecEnvConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of a slate's responses.

    Returns:
        ``(click_prob, marginal_click_prob, purchase_prob, valid)``, each ``[B, K]``.
    """
    valid = first_occurrence(items)
    aff = scaled_affinity(state, catalog, items, config)
    click_prob = click_probability(aff, valid, config)
    purchase_prob = purchase_probability(aff, items, state.purchased, catalog, config)
    return click_prob, marginal_click_probability(click_prob, config), purchase_prob, valid


def uniforms_per_response(slate_size: int, config: RecEnvConfig) -> int:
    """Number of uniform draws one user's response to a K-item slate consumes.

    K for clicks, K for purchases, and K more for the scan's continue decisions in the
    cascade model with K > 1.
    """
    cascade = config.choice_model == "cascade" and slate_size > 1
    return (3 if cascade else 2) * slate_size


def sample_response(
    state: UserState,
    catalog: ItemCatalog,
    items: np.ndarray,
    config: RecEnvConfig,
    rng: np.random.Generator,
) -> Response:
    """Samples clicks and purchases for a slate.

    Draws one row of :func:`uniforms_per_response` uniforms per user (clicks, purchases,
    [cascade]) and hands them to :func:`response_from_uniforms`.

    Args:
        state: Users, batch B.
        catalog: The catalog.
        items: Item indices ``[B, K]``.
        config: World configuration.
        rng: Generator for every draw.

    Returns:
        The sampled response.
    """
    size = uniforms_per_response(items.shape[1], config)
    return response_from_uniforms(state, catalog, items, config, rng.random((items.shape[0], size)))


def response_from_uniforms(
    state: UserState,
    catalog: ItemCatalog,
    items: np.ndarray,
    config: RecEnvConfig,
    uniforms: np.ndarray,
) -> Response:
    """Samples clicks and purchases for a slate from pre-drawn uniforms.

    Args:
        state: Users, batch B.
        catalog: The catalog.
        items: Item indices ``[B, K]``.
        config: World configuration.
        uniforms: Uniform draws in ``[0, 1)``, ``[B, U]`` with U at least
            :func:`uniforms_per_response`: columns ``[0, K)`` decide clicks, ``[K, 2K)``
            purchases and, in the cascade model, ``[2K, 3K)`` whether the scan continues.

    Returns:
        The sampled response.
    """
    click_prob, marginal, purchase_prob, valid = response_probabilities(
        state, catalog, items, config
    )
    batch, size = items.shape
    click_draw = uniforms[:, :size]
    purchase_draw = uniforms[:, size : 2 * size]
    if config.choice_model == "cascade" and size > 1:
        clicks = np.zeros((batch, size))
        scanning = np.ones(batch, dtype=bool)
        continue_draw = uniforms[:, 2 * size : 3 * size]
        for position in range(size):
            hit = scanning & (click_draw[:, position] < click_prob[:, position])
            clicks[:, position] = hit
            scanning &= ~hit | (continue_draw[:, position] < config.cascade_continue_prob)
    else:
        # Inverse-CDF draw of one categorical outcome per row (an item or no click).
        cumulative = np.cumsum(click_prob, axis=1)
        chosen = (click_draw[:, :1] < cumulative).argmax(axis=1)
        any_click = click_draw[:, 0] < cumulative[:, -1]
        clicks = np.zeros((batch, size))
        clicks[np.arange(batch)[any_click], chosen[any_click]] = 1.0
    purchases = (clicks > 0) & (purchase_draw < purchase_prob)
    return Response(clicks, purchases, marginal, purchase_prob, valid)
