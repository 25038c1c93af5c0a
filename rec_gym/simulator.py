"""The simulator core: catalog + users + choice model + reward, with no RL library.

:class:`RecSimulator` steps a batch of users forward given the items shown to them. The
Gymnasium env, the oracles and batched simulation are thin layers over it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rec_gym.choice import (
    Response,
    all_item_affinity,
    click_probability,
    marginal_click_probability,
    purchase_probability,
    response_from_uniforms,
    response_probabilities,
    uniforms_per_response,
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
from rec_gym.world import INACTIVE_APPEAL


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


class SingleStep(NamedTuple):
    """What happened in one step of one user shown one item (:meth:`RecSimulator.step_one`).

    Attributes:
        click: Whether the user clicked.
        purchase: Whether the user bought the item.
        reward: Realised reward.
        expected_reward: Expected reward of the item before sampling.
        left: Whether the user left after this step.
    """

    click: bool
    purchase: bool
    reward: float
    expected_reward: float
    left: bool


#: Steps of uniforms that one refill of a :class:`UniformStream` draws per user. It is part
#: of the definition of an env's randomness (it fixes where reset draws fall in a user's
#: generator stream), so changing it changes trajectories.
STREAM_BLOCK_STEPS = 64
#: Users x items processed at once by the one-item oracle: bounds its temporary arrays and
#: keeps each matrix product small enough for OpenBLAS to run it on one thread (threaded
#: products of this size are slower, and far slower on a busy machine).
ORACLE_CHUNK_ELEMENTS = 2**15


class UniformStream:
    """Buffered uniform draws for a batch of users, each from its own generator.

    Every step a user consumes ``per_step`` uniforms (see :meth:`RecSimulator.step_from_uniforms`)
    from its buffer, which holds ``generator.random((block_steps, per_step))`` and is refilled
    when empty. Envs call :meth:`refill` right after a user's reset draws, so the buffer comes
    next in the generator's stream. A user's draws depend only on its own generator and
    history, so B users stepped together draw exactly what B separate single-user envs draw,
    while each generator is called once per ``block_steps`` steps rather than every step.

    Args:
        batch: Number of users B.
        per_step: Uniforms per user and step.
        block_steps: Steps per refill.

    Example:
        >>> import numpy as np
        >>> stream = UniformStream(batch=1, per_step=3)
        >>> first = stream.take_one(np.random.default_rng(0))
        >>> bool(np.array_equal(first, np.random.default_rng(0).random(3)))
        True
    """

    def __init__(self, batch: int, per_step: int, block_steps: int = STREAM_BLOCK_STEPS) -> None:
        self.per_step = per_step
        self.block_steps = block_steps
        self._buffer = np.empty((batch, block_steps, per_step))  # [B, S, U]
        self._next = np.full(batch, block_steps, dtype=np.int64)  # next row; S means empty
        self._rows = np.arange(batch)

    def refill(self, user: int, generator: np.random.Generator) -> None:
        """Replaces ``user``'s buffer with the next ``block_steps`` steps of its generator."""
        generator.random(out=self._buffer[user])
        self._next[user] = 0

    def clear(self, users: np.ndarray | None = None) -> None:
        """Empties the buffers of ``users`` (a bool mask or indices; all users when None)."""
        if users is None:
            self._next[:] = self.block_steps
        else:
            self._next[users] = self.block_steps

    def take(
        self, generators: Sequence[np.random.Generator], active: np.ndarray | None = None
    ) -> np.ndarray:
        """The next step's uniforms of every user, ``[B, per_step]``.

        Args:
            generators: One generator per user (only called for users whose buffer is empty).
            active: Bool mask ``[B]`` of the users that step; the others consume nothing
                and their rows hold arbitrary values. All users when None.

        Returns:
            Uniforms in ``[0, 1)``.
        """
        empty = self._next >= self.block_steps
        if active is not None:
            empty &= active
        for user in np.flatnonzero(empty).tolist():
            self.refill(user, generators[user])
        if active is None:
            out = self._buffer[self._rows, self._next]
            self._next += 1
            return out
        out = self._buffer[self._rows, np.minimum(self._next, self.block_steps - 1)]
        self._next += active
        return out

    def take_one(self, generator: np.random.Generator) -> np.ndarray:
        """The next step's uniforms of user 0 (the single-user fast path), ``[per_step]``."""
        row = int(self._next[0])
        if row >= self.block_steps:
            self.refill(0, generator)
            row = 0
        self._next[0] = row + 1
        return self._buffer[0, row]


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
        #: The whole catalog, inactive items included (``catalog`` is the live one).
        self.full_catalog = self.catalog
        self._derive_item_arrays()

    def set_inactive_items(self, items: np.ndarray | None) -> None:
        """Takes items out of the live catalog (None or empty: every item is active).

        An inactive item keeps its id and public features, but its hidden appeal is
        :data:`rec_gym.world.INACTIVE_APPEAL`, so it is never clicked or bought, and the
        oracles never prefer it. Used for new items that enter the catalog mid-run.

        Args:
            items: 0-based indices of the inactive items.
        """
        full = self.full_catalog
        if items is None or len(items) == 0:
            self.catalog = full
        else:
            appeal = full.appeal.copy()
            appeal[np.asarray(items, dtype=np.int64)] = INACTIVE_APPEAL
            self.catalog = dataclasses.replace(full, appeal=appeal)
        self._derive_item_arrays()

    def _derive_item_arrays(self) -> None:
        """Precomputes the item-only arrays of the fast paths from the live catalog."""
        config = self.config
        # The item-only part of the purchase logit, [N].
        self._purchase_offset = (
            config.quality_weight * self.catalog.quality
            - config.price_sensitivity * self.catalog.price
            + config.purchase_bias
        )
        # For the one-item oracle: half logits are scale * (dot - w * satiation) + offset, with
        # click and purchase stacked, [2, 1] and [2, N].
        self._half_scales = 0.5 * np.array(
            [[config.affinity_scale], [config.purchase_affinity_weight]]
        )
        self._half_offsets = np.stack(
            [
                0.5 * (config.affinity_scale * self.catalog.appeal - config.no_click_utility),
                0.5
                * (config.purchase_affinity_weight * self.catalog.appeal + self._purchase_offset),
            ]
        )
        self._latent_t = np.ascontiguousarray(self.catalog.latent.T)  # [D, N], fast matmul

    def new_users(self, count: int, rng: np.random.Generator) -> UserState:
        """Draws ``count`` new users from the population prior."""
        return sample_users(self.population, self.config.n_items, count, rng)

    def uniforms_per_step(self, slate_size: int) -> int:
        """Uniform draws one user's step consumes: its response's, then one for leaving."""
        return uniforms_per_response(slate_size, self.config) + 1

    def step(self, state: UserState, items: np.ndarray, rng: np.random.Generator) -> StepOutcome:
        """Shows slates to users, samples their responses and updates them in place.

        Draws one row of :meth:`uniforms_per_step` uniforms per user from ``rng`` and hands
        them to :meth:`step_from_uniforms`.

        Args:
            state: Users, batch B (modified in place).
            items: Item indices ``[B, K]`` (0-based).
            rng: Generator for every draw.

        Returns:
            The step's outcome.
        """
        uniforms = rng.random((items.shape[0], self.uniforms_per_step(items.shape[1])))
        return self.step_from_uniforms(state, items, uniforms)

    def step_from_uniforms(
        self, state: UserState, items: np.ndarray, uniforms: np.ndarray
    ) -> StepOutcome:
        """Shows slates to users and updates them in place, with pre-drawn randomness.

        Args:
            state: Users, batch B (modified in place).
            items: Item indices ``[B, K]`` (0-based).
            uniforms: Uniform draws ``[B, U]``, U = :meth:`uniforms_per_step`, in a fixed
                order: the response's (clicks, purchases, [cascade]), then leaving.

        Returns:
            The step's outcome.
        """
        used = uniforms_per_response(items.shape[1], self.config)
        response = response_from_uniforms(
            state, self.catalog, items, self.config, uniforms[:, :used]
        )
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
        left = uniforms[:, used] < leave_probability(state.patience, self.config)
        duplicates = (~response.valid).sum(axis=1)
        return StepOutcome(response, reward, expected, left, duplicates)

    def step_one(
        self, state: UserState, item: int, uniforms: Sequence[float] | np.ndarray
    ) -> SingleStep:
        """Scalar fast path of :meth:`step_from_uniforms` for one user and one item.

        The same dynamics written with Python floats, for the single-item env's hot loop
        (numpy's per-call overhead dominates at B = K = 1). It agrees with
        ``step_from_uniforms(state, np.array([[item]]), uniforms[None])`` up to floating-point
        rounding; ``tests/rec_gym/test_vector.py`` checks that on random states, and the
        batched env (which runs :meth:`step_from_uniforms`) against the single env.

        Args:
            state: One user (B = 1), modified in place.
            item: Item index (0-based).
            uniforms: :meth:`uniforms_per_step` uniforms for K = 1: click, purchase, leave.

        Returns:
            The step's outcome.
        """
        config, catalog = self.config, self.catalog
        u_click, u_purchase, u_leave = float(uniforms[0]), float(uniforms[1]), float(uniforms[2])
        interest = state.interest[0]
        satiation = state.satiation[0]
        latent = catalog.latent[item]
        topic = catalog.topic.item(item)
        aff = (
            float(interest @ latent)
            + catalog.appeal.item(item)
            - config.satiation_weight * satiation.item(topic)
        )
        # For one item both choice models reduce to sigmoid(scale * aff - no_click_utility).
        click_prob = _logistic(config.affinity_scale * aff - config.no_click_utility)
        if state.purchased[0, item]:
            purchase_prob = 0.0
        else:
            purchase_prob = _logistic(
                config.purchase_affinity_weight * aff + self._purchase_offset.item(item)
            )
        click = u_click < click_prob
        purchase = click and u_purchase < purchase_prob
        model = self.reward_model
        if type(model) is ClickPurchaseReward:
            reward = model.click_weight * float(click) + model.purchase_weight * int(purchase)
            expected = click_prob * (model.click_weight + model.purchase_weight * purchase_prob)
        else:
            reward = float(model.reward(np.array([[float(click)]]), np.array([[purchase]]))[0])
            expected = float(
                model.expected(np.array([[click_prob]]), np.array([[purchase_prob]]))[0]
            )
        # update_users for one item: drift, satiation, patience, purchases.
        if click:
            interest += config.drift_rate * (latent - interest)
        satiation[topic] = satiation.item(topic) + config.satiation_gain
        satiation *= config.satiation_decay
        satisfied = config.satisfaction_gain * (float(click) * catalog.quality.item(item))
        no_click = 0.0 if click else 1.0
        patience = state.patience.item(0) + (
            satisfied - config.no_click_penalty * no_click - config.fatigue_per_step
        )
        patience = min(max(patience, 0.0), 1.0)
        state.patience[0] = patience
        if purchase:
            state.purchased[0, item] = True
        base = config.leave_base_prob
        leave_prob = base + (1.0 - base) * config.leave_sensitivity * (1.0 - patience)
        return SingleStep(click, purchase, reward, expected, u_leave < leave_prob)

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
        """The myopic oracle's expected reward for this step, ``[B]``.

        For one item this is the maximum of :meth:`item_expected_rewards`, computed with
        fewer passes over the catalog (the env reports it every step) and a few users at a
        time (bounded memory for large batches): the logistic function is evaluated as
        ``(1 + tanh(x / 2)) / 2``, exact to about 1e-16 in absolute terms.
        """
        if slate_size != 1:
            return self.expected_reward(state, self.myopic_slate(state, slate_size))
        batch = state.interest.shape[0]
        rows = max(1, ORACLE_CHUNK_ELEMENTS // self.config.n_items)
        if batch <= rows:
            return self._best_single_item(state.interest, state.satiation, state.purchased)
        best = np.empty(batch)
        for start in range(0, batch, rows):
            part = slice(start, start + rows)
            best[part] = self._best_single_item(
                state.interest[part], state.satiation[part], state.purchased[part]
            )
        return best

    def _best_single_item(
        self, interest: np.ndarray, satiation: np.ndarray, purchased: np.ndarray
    ) -> np.ndarray:
        config, catalog = self.config, self.catalog
        if interest.shape[0] == 1 and self._latent_t.size > 8192:
            # A long vector-matrix product: OpenBLAS would split it over threads, which is
            # slower, and far slower on a busy machine; einsum stays on this thread.
            aff = np.einsum("bd,dn->bn", interest, self._latent_t)  # [1, N]
        else:
            aff = interest @ self._latent_t  # [B, N]: interest . latent, as all_item_affinity
        aff -= (config.satiation_weight * satiation).take(catalog.topic, axis=1)  # no appeal
        half = np.multiply(self._half_scales[:, None, :], aff[None])  # [2, B, N]
        half += self._half_offsets[:, None, :]
        _logistic_of_half_inplace(half)
        click, buy = half[0], half[1]
        buy[purchased] = 0.0
        model = self.reward_model
        if type(model) is ClickPurchaseReward:
            buy *= model.purchase_weight
            buy += model.click_weight
            buy *= click
            return buy.max(axis=1)
        return model.expected(click[..., None], buy[..., None]).max(axis=1)


def _logistic_of_half_inplace(half_x: np.ndarray) -> None:
    """Replaces ``x / 2`` by the logistic function of x, in place (stable, no overflow)."""
    np.tanh(half_x, out=half_x)
    half_x *= 0.5
    half_x += 0.5


def _logistic(x: float) -> float:
    """Numerically stable logistic function of a Python float."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    exp_x = math.exp(x)
    return exp_x / (1.0 + exp_x)
