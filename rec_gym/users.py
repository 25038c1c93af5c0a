"""The user model: hidden interests that drift, per-topic satiation, and patience.

Users are held as a batch (leading dimension B) so that one code path serves a single env
(B = 1), the oracles' look-ahead (B = candidates) and batched simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rec_gym.config import RecEnvConfig
from rec_gym.items import ItemCatalog


@dataclass(frozen=True)
class UserPopulation:
    """The prior that new users are drawn from.

    Attributes:
        mean_interest: Population-mean interest vector, shape ``[latent_dim]``.
        interest_scale: Standard deviation of interest along any unit direction.
        feature_projection: Maps interest to observable features, ``[feature_dim, latent_dim]``.
        feature_noise: Noise of the observable features.
        n_topics: Number of topics (size of the satiation vector).
        initial_patience: Patience of a new user.
        interest_cov_factor: Optional ``[latent_dim, latent_dim]`` factor ``A`` so that
            interests are ``mean + A @ z``; when None, ``mean + interest_scale * z``.
    """

    mean_interest: np.ndarray
    interest_scale: float
    feature_projection: np.ndarray
    feature_noise: float
    n_topics: int
    initial_patience: float
    interest_cov_factor: np.ndarray | None = None

    @property
    def latent_dim(self) -> int:
        """Dimension of the interest vectors."""
        return int(self.mean_interest.shape[0])


@dataclass
class UserState:
    """Mutable hidden state of a batch of users (never shown to the agent).

    Attributes:
        interest: Interest vectors, ``[B, latent_dim]``.
        satiation: Per-topic boredom, ``[B, n_topics]``, >= 0.
        patience: Remaining patience in ``[0, 1]``, ``[B]``.
        features: Observable noisy user features, ``[B, feature_dim]``.
        purchased: Whether each user already bought each item, ``[B, N]`` bool.
    """

    interest: np.ndarray
    satiation: np.ndarray
    patience: np.ndarray
    features: np.ndarray
    purchased: np.ndarray

    def copy(self) -> UserState:
        """Deep copy (for look-ahead planning)."""
        return UserState(
            interest=self.interest.copy(),
            satiation=self.satiation.copy(),
            patience=self.patience.copy(),
            features=self.features.copy(),
            purchased=self.purchased.copy(),
        )

    def repeat(self, count: int) -> UserState:
        """Repeats a single user (B = 1) ``count`` times along the batch dimension."""
        return UserState(
            interest=np.repeat(self.interest, count, axis=0),
            satiation=np.repeat(self.satiation, count, axis=0),
            patience=np.repeat(self.patience, count, axis=0),
            features=np.repeat(self.features, count, axis=0),
            purchased=np.repeat(self.purchased, count, axis=0),
        )


def default_population(config: RecEnvConfig, rng: np.random.Generator) -> UserPopulation:
    """Draws the synthetic population prior of the default world.

    Args:
        config: World configuration.
        rng: Generator for every draw.

    Returns:
        The population prior.
    """
    d = config.latent_dim
    mean = rng.normal(size=d)
    mean *= config.population_mean_scale / (np.linalg.norm(mean) + 1e-12)
    projection = rng.normal(size=(config.user_feature_dim, d)) / np.sqrt(d)
    return UserPopulation(
        mean_interest=mean,
        interest_scale=config.interest_scale,
        feature_projection=projection,
        feature_noise=config.user_feature_noise,
        n_topics=config.n_topics,
        initial_patience=config.initial_patience,
    )


def sample_users(
    population: UserPopulation, n_items: int, count: int, rng: np.random.Generator
) -> UserState:
    """Draws ``count`` fresh users from the population prior.

    Args:
        population: The prior.
        n_items: Catalog size (for the purchase record).
        count: Batch size B.
        rng: Generator for every draw.

    Returns:
        New users with zero satiation and full initial patience.
    """
    return users_from_normals(population, n_items, draw_user_normals(population, count, rng))


def draw_user_normals(
    population: UserPopulation,
    count: int,
    rng: np.random.Generator,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The standard-normal draws behind ``count`` new users (see :func:`sample_users`).

    Args:
        population: The prior.
        count: Batch size B.
        rng: Generator for every draw.
        out: Optional array ``[B, latent_dim + feature_dim]`` to draw into.

    Returns:
        ``[B, latent_dim + feature_dim]``: each row is one user's interest draws, then its
        feature noise (one call, so a user's draws are contiguous in the stream).
    """
    size = (count, population.latent_dim + population.feature_projection.shape[0])
    return rng.standard_normal(size, out=out)


def users_from_normals(population: UserPopulation, n_items: int, draws: np.ndarray) -> UserState:
    """New users from their standard-normal draws (see :func:`draw_user_normals`).

    Products are taken one user at a time (a stack of vector-matrix products), so a user's
    values do not depend on the batch it is built in: users drawn one by one (single envs)
    and together (the batched env) are bitwise identical.
    """
    count, d = draws.shape[0], population.latent_dim
    z, noise = draws[:, :d], draws[:, d:]
    if population.interest_cov_factor is not None:
        spread = (z[:, None, :] @ population.interest_cov_factor.T)[:, 0, :]
        interest = population.mean_interest + spread
    else:
        interest = population.mean_interest + population.interest_scale * z
    seen = (interest[:, None, :] @ population.feature_projection.T)[:, 0, :]
    features = seen + noise * population.feature_noise
    return UserState(
        interest=interest,
        satiation=np.zeros((count, population.n_topics)),
        patience=np.full(count, population.initial_patience),
        features=features,
        purchased=np.zeros((count, n_items), dtype=bool),
    )


def leave_probability(patience: np.ndarray, config: RecEnvConfig) -> np.ndarray:
    """Chance that each user leaves after the current step.

    ``base + (1 - base) * sensitivity * (1 - patience)``, always within ``[0, 1]``.
    """
    base = config.leave_base_prob
    return base + (1.0 - base) * config.leave_sensitivity * (1.0 - np.clip(patience, 0.0, 1.0))


def update_users(
    state: UserState,
    catalog: ItemCatalog,
    shown: np.ndarray,
    clicks: np.ndarray,
    purchases: np.ndarray,
    config: RecEnvConfig,
    exposure: np.ndarray | None = None,
) -> None:
    """Applies one step's consequences to the users, in place.

    Works with realised (0/1) or expected (probability) clicks and purchases, so the
    planning oracle can roll the mean state forward with the same code.

    Args:
        state: Users to update, batch B.
        catalog: The catalog.
        shown: Item indices shown, ``[B, K]`` (K = slate size).
        clicks: Clicks (or click probabilities) per shown item, ``[B, K]``.
        purchases: Purchases (or their probabilities) per shown item, ``[B, K]``.
        config: World configuration.
        exposure: Whether each position counts as an exposure ``[B, K]`` (False for a
            duplicate of an earlier slate position); all True when None.
    """
    batch = np.arange(shown.shape[0])[:, None]
    # Interest drifts toward what the user consumed. With several clicks (cascade) it moves
    # toward their mean, by at most ``drift_rate``, so it never overshoots and diverges.
    clicked_direction = np.einsum("bk,bkd->bd", clicks, catalog.latent[shown])
    click_mass = clicks.sum(axis=1, keepdims=True)
    step = config.drift_rate / np.maximum(click_mass, 1.0)
    state.interest += step * (clicked_direction - click_mass * state.interest)
    # Satiation: every shown item's topic gets more boring, then everything decays.
    gain = np.full(shown.shape, config.satiation_gain)
    if exposure is not None:
        gain = gain * exposure
    np.add.at(state.satiation, (np.broadcast_to(batch, shown.shape), catalog.topic[shown]), gain)
    state.satiation *= config.satiation_decay
    # Patience: clicked quality satisfies (clickbait frustrates); no click and time tire.
    satisfaction = (clicks * catalog.quality[shown]).sum(axis=1)
    no_click = np.clip(1.0 - click_mass[:, 0], 0.0, 1.0)
    state.patience += (
        config.satisfaction_gain * satisfaction
        - config.no_click_penalty * no_click
        - config.fatigue_per_step
    )
    np.clip(state.patience, 0.0, 1.0, out=state.patience)
    # Purchases are recorded (probabilistically for expected updates).
    if purchases.dtype == bool:
        state.purchased[np.broadcast_to(batch, shown.shape)[purchases], shown[purchases]] = True
