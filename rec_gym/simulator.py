"""The simulator core: catalog + users + choice model + reward, with no RL library.

:class:`RecSimulator` steps a batch of users forward given the items shown to them. The
Gymnasium env, the oracles and batched simulation are thin layers over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rec_gym.choice import (
    Response,
    all_item_affinity,
    click_probability,
    marginal_click_probability,
    purchase_probability,
    response_probabilities,
    sample_response,
)
from rec_gym.config import RecEnvConfig
from rec_gym.items import ItemCatalog, generate_catalog
from rec_gym.reward import ClickPurchaseReward, RewardModel
from rec_gym.users import (
    UserPopulation,
    UserState,
    default_population,
    leave_probability,
    sample_users,
    update_users,
)


@dataclass(frozen=True)
class StepOutcome:
    """What happened in one simulated step, per user.

    Attributes:
        response: Sampled clicks and purchases with their probabilities.
        reward: Realised reward, ``[B]``.
        expected_reward: Expected reward of the shown slate before sampling, ``[B]``.
        left: Whether the user left after this step, ``[B]``.
        duplicates: Repeated items in the slate, ``[B]``.
    """

    response: Response
    reward: np.ndarray
    expected_reward: np.ndarray
    left: np.ndarray
    duplicates: np.ndarray


class RecSimulator:
    """A recommender world: a catalog, a user population and their response dynamics.

    Args:
        config: World configuration.
        catalog: Item catalog; generated from ``config.catalog_seed`` when None.
        population: User prior; generated from ``config.catalog_seed`` when None.
        reward_model: Reward function; ``ClickPurchaseReward`` from the config when None.
    """

    def __init__(
        self,
        config: RecEnvConfig,
        catalog: ItemCatalog | None = None,
        population: UserPopulation | None = None,
        reward_model: RewardModel | None = None,
    ) -> None:
        world_rng = np.random.default_rng(config.catalog_seed)
        self.config = config
        self.catalog = catalog if catalog is not None else generate_catalog(config, world_rng)
        self.population = (
            population if population is not None else default_population(config, world_rng)
        )
        if self.catalog.n_items != config.n_items:
            raise ValueError(
                f"catalog has {self.catalog.n_items} items but n_items={config.n_items}; "
                "pass a matching n_items"
            )
        self.reward_model: RewardModel = reward_model or ClickPurchaseReward(
            config.click_reward, config.purchase_reward
        )

    def new_users(self, count: int, rng: np.random.Generator) -> UserState:
        """Draws ``count`` new users from the population prior."""
        return sample_users(self.population, self.config.n_items, count, rng)

    def step(self, state: UserState, items: np.ndarray, rng: np.random.Generator) -> StepOutcome:
        """Shows slates to users, samples their responses and updates them in place.

        Draw order (fixed, for reproducibility): clicks, purchases, [cascade], leaving.

        Args:
            state: Users, batch B (modified in place).
            items: Item indices ``[B, K]`` (0-based).
            rng: Generator for every draw.

        Returns:
            The step's outcome.
        """
        response = sample_response(state, self.catalog, items, self.config, rng)
        reward = self.reward_model.reward(response.clicks, response.purchases)
        expected = self.reward_model.expected(
            response.click_prob, np.where(response.valid, response.purchase_prob, 0.0)
        )
        update_users(
            state,
            self.catalog,
            items,
            response.clicks,
            response.purchases,
            self.config,
            exposure=response.valid,  # duplicates add no satiation
        )
        left = rng.random(items.shape[0]) < leave_probability(state.patience, self.config)
        duplicates = (~response.valid).sum(axis=1)
        return StepOutcome(response, reward, expected, left, duplicates)

    def expected_reward(self, state: UserState, items: np.ndarray) -> np.ndarray:
        """Expected reward of showing slates ``items`` ``[B, K]`` now, ``[B]``."""
        _, marginal, purchase_prob, valid = response_probabilities(
            state, self.catalog, items, self.config
        )
        return self.reward_model.expected(marginal, np.where(valid, purchase_prob, 0.0))

    def item_expected_rewards(self, state: UserState) -> np.ndarray:
        """Expected reward of recommending each single item now, ``[B, N]``.

        One pass over the catalog: O(B * N * latent_dim).
        """
        aff = all_item_affinity(state, self.catalog, self.config)  # [B, N]
        valid = np.ones_like(aff, dtype=bool)
        click = click_probability(aff[..., None], valid[..., None], self.config)[..., 0]
        items = np.broadcast_to(np.arange(self.config.n_items), aff.shape)
        purchase = purchase_probability(aff, items, state.purchased, self.catalog, self.config)
        return self.reward_model.expected(click[..., None], purchase[..., None])

    def myopic_slate(self, state: UserState, slate_size: int) -> np.ndarray:
        """The slate with (greedily) the highest immediate expected reward, ``[B, K]``.

        Exact for a single item. For larger slates, positions are filled in order, each with
        the candidate (from the best single items) that most raises the slate's expected
        reward under the configured choice model.
        """
        single = self.item_expected_rewards(state)  # [B, N]
        if slate_size == 1:
            return single.argmax(axis=1)[:, None]
        pool_size = min(self.config.n_items, 4 * slate_size + 16)
        pool = np.argpartition(-single, pool_size - 1, axis=1)[:, :pool_size]  # [B, M]
        aff_all = all_item_affinity(state, self.catalog, self.config)
        aff = np.take_along_axis(aff_all, pool, axis=1)
        purchase = purchase_probability(aff, pool, state.purchased, self.catalog, self.config)
        batch = pool.shape[0]
        chosen = np.zeros((batch, 0), dtype=np.int64)  # positions in the pool
        for position in range(slate_size):
            prefix = np.broadcast_to(chosen[:, None, :], (batch, pool_size, position))
            trial = np.concatenate(
                [prefix, np.broadcast_to(np.arange(pool_size), (batch, pool_size))[..., None]],
                axis=2,
            )  # [B, M, j+1]
            trial_aff = np.take_along_axis(aff[:, None, :], trial, axis=2)
            trial_purchase = np.take_along_axis(purchase[:, None, :], trial, axis=2)
            valid = np.ones(trial.shape, dtype=bool)
            click = marginal_click_probability(
                click_probability(trial_aff, valid, self.config), self.config
            )
            value = self.reward_model.expected(click, trial_purchase)  # [B, M]
            if position:
                taken = (np.arange(pool_size)[None, :, None] == chosen[:, None, :]).any(axis=2)
                value = np.where(taken, -np.inf, value)
            chosen = np.concatenate([chosen, value.argmax(axis=1)[:, None]], axis=1)
        return np.take_along_axis(pool, chosen, axis=1)

    def best_expected_reward(self, state: UserState, slate_size: int) -> np.ndarray:
        """The myopic oracle's expected reward for this step, ``[B]``."""
        if slate_size == 1:
            return self.item_expected_rewards(state).max(axis=1)
        return self.expected_reward(state, self.myopic_slate(state, slate_size))
