"""Rewards: a pluggable function of the user's response.

A reward model turns a sampled response into a scalar per user, and gives its expectation
under the response probabilities (used for ``info["expected_reward"]``, the oracles and
regret). Pass your own object with the same two methods as ``reward_model=`` to ``RecEnv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class RewardModel(Protocol):
    """Interface of a reward function over responses."""

    def reward(self, clicks: np.ndarray, purchases: np.ndarray) -> np.ndarray:
        """Realised reward per user, ``[B]``, from clicks and purchases ``[B, K]``."""
        ...

    def expected(self, click_prob: np.ndarray, purchase_prob: np.ndarray) -> np.ndarray:
        """Expected reward ``[..., K] -> [...]`` given click and purchase-given-click probs."""
        ...


@dataclass(frozen=True)
class ClickPurchaseReward:
    """The default reward: ``click_weight * clicks + purchase_weight * purchases``.

    Attributes:
        click_weight: Reward per click.
        purchase_weight: Bonus per purchase (on top of its click).

    Example:
        >>> import numpy as np
        >>> model = ClickPurchaseReward(click_weight=1.0, purchase_weight=2.0)
        >>> model.reward(np.array([[1.0, 0.0]]), np.array([[True, False]])).tolist()
        [3.0]
    """

    click_weight: float = 1.0
    purchase_weight: float = 2.0

    def reward(self, clicks: np.ndarray, purchases: np.ndarray) -> np.ndarray:
        """Realised reward per user, ``[B]``."""
        return self.click_weight * clicks.sum(axis=-1) + self.purchase_weight * purchases.sum(
            axis=-1
        )

    def expected(self, click_prob: np.ndarray, purchase_prob: np.ndarray) -> np.ndarray:
        """Expected reward, summing over the last (slate) axis."""
        return (click_prob * (self.click_weight + self.purchase_weight * purchase_prob)).sum(
            axis=-1
        )
