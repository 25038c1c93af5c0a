"""The item catalog: hidden item vectors and the public features a recommender can see.

Items are indexed ``0..N-1`` in arrays; their public ids are ``index + 1`` (0 is padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rec_gym.config import RecEnvConfig


@dataclass(frozen=True)
class ItemCatalog:
    """A fixed catalog of N items.

    Hidden attributes drive the simulated users; public ones are what an agent may use.

    Attributes:
        latent: Hidden item vectors, shape ``[N, latent_dim]``.
        appeal: Hidden click appeal (bias added to affinity), shape ``[N]``.
        quality: Hidden true quality in ``[-1, 1]``; clicked high-quality items satisfy the
            user, clicked clickbait (negative quality) frustrates them. Shape ``[N]``.
        topic: Topic index of every item, shape ``[N]``.
        price: Price in ``[0, 1]``, shape ``[N]`` (public).
        quality_score: Public, noisy quality rating in ``[-1, 1]``, shape ``[N]``.
        popularity: Public prior popularity in ``[0, 1]``, shape ``[N]``.
    """

    latent: np.ndarray
    appeal: np.ndarray
    quality: np.ndarray
    topic: np.ndarray
    price: np.ndarray
    quality_score: np.ndarray
    popularity: np.ndarray
    n_topics: int

    @property
    def n_items(self) -> int:
        """Number of items N."""
        return int(self.latent.shape[0])

    def public_features(self) -> np.ndarray:
        """Public item features: topic one-hot, price, quality score, popularity.

        Returns:
            Array of shape ``[N, n_topics + 3]``, float32.
        """
        one_hot = np.zeros((self.n_items, self.n_topics), dtype=np.float32)
        one_hot[np.arange(self.n_items), self.topic] = 1.0
        extra = np.stack([self.price, self.quality_score, self.popularity], axis=1)
        return np.concatenate([one_hot, extra.astype(np.float32)], axis=1)


def generate_catalog(config: RecEnvConfig, rng: np.random.Generator) -> ItemCatalog:
    """Draws a synthetic catalog.

    Items cluster around one random direction per topic. Appeal is anti-correlated with
    quality by ``config.clickbait_strength``, so the most clickable items are often the
    ones that disappoint: a myopic recommender that chases clicks loses its users.

    Args:
        config: World configuration.
        rng: Generator for every draw.

    Returns:
        The catalog.
    """
    n, d, t = config.n_items, config.latent_dim, config.n_topics
    topic_centers = rng.normal(size=(t, d))
    topic_centers /= np.linalg.norm(topic_centers, axis=1, keepdims=True) + 1e-12
    topic = rng.integers(0, t, size=n)
    latent = topic_centers[topic] + 0.5 * rng.normal(size=(n, d)) / np.sqrt(d)
    latent /= np.linalg.norm(latent, axis=1, keepdims=True) + 1e-12
    quality = np.tanh(rng.normal(size=n))
    appeal = -config.clickbait_strength * 0.6 * quality + 0.3 * rng.normal(size=n)
    price = rng.uniform(0.0, 1.0, size=n)
    quality_score = np.clip(quality + 0.3 * rng.normal(size=n), -1.0, 1.0)
    popularity_logit = appeal + 0.5 * rng.normal(size=n)
    popularity = 1.0 / (1.0 + np.exp(-popularity_logit))
    return ItemCatalog(
        latent=latent.astype(np.float64),
        appeal=appeal.astype(np.float64),
        quality=quality.astype(np.float64),
        topic=topic.astype(np.int64),
        price=price.astype(np.float64),
        quality_score=quality_score.astype(np.float64),
        popularity=popularity.astype(np.float64),
        n_topics=t,
    )
