"""Typed, frozen, validated configuration of the recommender world.

One :class:`RecEnvConfig` describes everything about a simulated world: the catalog, the
user population, the choice model, session dynamics and the reward. It is validated once,
on construction; every simulator part trusts it afterwards.

Example:
    >>> from rec_gym.config import RecEnvConfig
    >>> cfg = RecEnvConfig(n_items=50)
    >>> cfg.n_items, cfg.slate_size
    (50, 1)
    >>> RecEnvConfig.from_kwargs(n_itemz=3)
    Traceback (most recent call last):
        ...
    TypeError: unknown RecEnv parameter 'n_itemz'; did you mean 'n_items'?
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: Largest catalog size. Item ids travel through SB3 as float32, which represents every
#: integer up to 2**24 exactly, so ids above that could not be cast back without error.
MAX_ITEMS = 2**24 - 1

#: Largest world step accepted by the changing-world options.
MAX_WORLD_STEP = 2**62

ChoiceModel = Literal["mnl", "cascade"]


@dataclass(frozen=True)
class RecEnvConfig:
    """All parameters of a simulated recommender world.

    Attributes:
        n_items: Catalog size N. Item ids are ``1..N``; 0 is reserved for padding.
        n_topics: Number of topics (genres); every item has exactly one.
        latent_dim: Dimension of the hidden user-interest and item vectors.
        slate_size: Items shown per step (1 for single-item recommendation).
        history_length: Number of past recommended items (with feedback) in the observation.
        user_feature_dim: Size of the observable, noisy user-feature vector (0 disables it).
        catalog_seed: Seed of the generated world (catalog, population prior). Users are drawn
            from the env's own generator at every ``reset``.
        interest_scale: Standard deviation of user interests around the population mean.
        population_mean_scale: Length of the population-mean interest vector.
        user_feature_noise: Noise standard deviation of the observable user features.
        drift_rate: Fraction by which interest moves toward a clicked item, in ``[0, 1]``.
        satiation_gain: Satiation added to an item's topic each time it is shown (>= 0).
        satiation_decay: Per-step multiplicative decay of satiation, in ``[0, 1]``.
        satiation_weight: How strongly satiation lowers affinity (>= 0).
        affinity_scale: Inverse temperature of the choice model (> 0).
        no_click_utility: Utility of not clicking; higher means fewer clicks.
        clickbait_strength: How strongly an item's appeal is anti-correlated with its quality.
        position_bias: Attention multiplier per slate position (position j gets ``bias**j``),
            in ``(0, 1]``.
        choice_model: ``"mnl"`` (at most one click per slate) or ``"cascade"`` (the user scans
            the slate in order and may click several items).
        cascade_continue_prob: In the cascade model, chance of scanning on after a click.
        purchase_bias: Offset of the purchase-given-click logit.
        purchase_affinity_weight: Weight of affinity in the purchase logit (>= 0).
        quality_weight: Weight of item quality in the purchase logit (>= 0).
        price_sensitivity: Weight of price in the purchase logit (>= 0).
        initial_patience: Patience of a new user, in ``(0, 1]``.
        fatigue_per_step: Patience lost every step, in ``[0, 1]``.
        no_click_penalty: Extra patience lost on a step without a click, in ``[0, 1]``.
        satisfaction_gain: Patience change per clicked item, times the item's quality
            (negative for clickbait), >= 0.
        leave_base_prob: Chance of leaving after any step, in ``[0, 1]``.
        leave_sensitivity: Extra chance of leaving as patience runs out, in ``[0, 1]``:
            ``p_leave = base + (1 - base) * sensitivity * (1 - patience)``.
        click_reward: Reward per click.
        purchase_reward: Reward bonus per purchase.
        compute_oracle_info: Whether ``info`` carries the myopic oracle's best expected reward
            (costs one pass over the catalog per step).
        debug_info: Whether ``info`` exposes the hidden user state (for debugging only).
        shift_step: World step (env steps taken by one env instance, counted across
            episodes) at which the population-mean interest starts to move; -1 = never.
        shift_duration: 0 for an abrupt shift at ``shift_step``; otherwise the mean moves
            linearly over this many steps (gradual drift).
        shift_magnitude: Distance the population mean moves, along a unit direction drawn
            from ``catalog_seed`` (>= 0).
        shift_current_user: Whether the interest of the user in session moves with the
            population (otherwise only users drawn afterwards are shifted).
        n_new_items: Number of reserved new items: the last ids, inactive (never clicked,
            masked in ``action_masks()``) before ``new_items_step``; in ``[0, n_items - 1]``.
        new_items_step: World step at which the new items enter the catalog (-1 = never).
        purchase_delay: Steps from a purchase to the crediting of its reward (0 = at once);
            rewards still pending when the session ends are credited at its last step.
        session_limit: Step at which sessions are cut off by the caller (set it to
            ``max_episode_steps``: the env cannot see the ``TimeLimit`` wrapper). Only used
            to credit pending delayed rewards at the last step; 0 = the user leaving is the
            only end the env knows of. The env never truncates by itself.
    """

    n_items: int = 200
    n_topics: int = 10
    latent_dim: int = 8
    slate_size: int = 1
    history_length: int = 10
    user_feature_dim: int = 4
    catalog_seed: int = 0
    interest_scale: float = 1.0
    population_mean_scale: float = 0.5
    user_feature_noise: float = 0.5
    drift_rate: float = 0.05
    satiation_gain: float = 0.5
    satiation_decay: float = 0.8
    satiation_weight: float = 1.0
    affinity_scale: float = 2.0
    no_click_utility: float = 0.5
    clickbait_strength: float = 1.0
    position_bias: float = 0.8
    choice_model: ChoiceModel = "mnl"
    cascade_continue_prob: float = 0.5
    purchase_bias: float = -2.0
    purchase_affinity_weight: float = 1.0
    quality_weight: float = 1.0
    price_sensitivity: float = 1.0
    initial_patience: float = 1.0
    fatigue_per_step: float = 0.01
    no_click_penalty: float = 0.05
    satisfaction_gain: float = 0.1
    leave_base_prob: float = 0.0
    leave_sensitivity: float = 0.2
    click_reward: float = 1.0
    purchase_reward: float = 2.0
    compute_oracle_info: bool = True
    debug_info: bool = False
    shift_step: int = -1
    shift_duration: int = 0
    shift_magnitude: float = 1.0
    shift_current_user: bool = False
    n_new_items: int = 0
    new_items_step: int = 0
    purchase_delay: int = 0
    session_limit: int = 0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            _check_type(field.name, value, field.type)
        _check_int("n_items", self.n_items, 1, MAX_ITEMS)
        _check_int("n_topics", self.n_topics, 1, 10_000)
        _check_int("latent_dim", self.latent_dim, 1, 4096)
        _check_int("slate_size", self.slate_size, 1, min(self.n_items, 1000))
        _check_int("history_length", self.history_length, 1, 10_000)
        _check_int("user_feature_dim", self.user_feature_dim, 0, 4096)
        _check_int("catalog_seed", self.catalog_seed, 0, 2**63 - 1)
        _check_float("interest_scale", self.interest_scale, 0.0, math.inf)
        _check_float("population_mean_scale", self.population_mean_scale, 0.0, math.inf)
        _check_float("user_feature_noise", self.user_feature_noise, 0.0, math.inf)
        _check_float("drift_rate", self.drift_rate, 0.0, 1.0)
        _check_float("satiation_gain", self.satiation_gain, 0.0, math.inf)
        _check_float("satiation_decay", self.satiation_decay, 0.0, 1.0)
        _check_float("satiation_weight", self.satiation_weight, 0.0, math.inf)
        _check_float("affinity_scale", self.affinity_scale, 0.0, math.inf, low_open=True)
        _check_float("no_click_utility", self.no_click_utility, -math.inf, math.inf)
        _check_float("clickbait_strength", self.clickbait_strength, 0.0, math.inf)
        _check_float("position_bias", self.position_bias, 0.0, 1.0, low_open=True)
        if self.choice_model not in ("mnl", "cascade"):
            raise ValueError(f"choice_model must be 'mnl' or 'cascade', got {self.choice_model!r}")
        _check_float("cascade_continue_prob", self.cascade_continue_prob, 0.0, 1.0)
        _check_float("purchase_bias", self.purchase_bias, -math.inf, math.inf)
        _check_float("purchase_affinity_weight", self.purchase_affinity_weight, 0.0, math.inf)
        _check_float("quality_weight", self.quality_weight, 0.0, math.inf)
        _check_float("price_sensitivity", self.price_sensitivity, 0.0, math.inf)
        _check_float("initial_patience", self.initial_patience, 0.0, 1.0, low_open=True)
        _check_float("fatigue_per_step", self.fatigue_per_step, 0.0, 1.0)
        _check_float("no_click_penalty", self.no_click_penalty, 0.0, 1.0)
        _check_float("satisfaction_gain", self.satisfaction_gain, 0.0, math.inf)
        _check_float("leave_base_prob", self.leave_base_prob, 0.0, 1.0)
        _check_float("leave_sensitivity", self.leave_sensitivity, 0.0, 1.0)
        _check_float("click_reward", self.click_reward, -math.inf, math.inf)
        _check_float("purchase_reward", self.purchase_reward, -math.inf, math.inf)
        _check_int("shift_step", self.shift_step, -1, MAX_WORLD_STEP)
        _check_int("shift_duration", self.shift_duration, 0, MAX_WORLD_STEP)
        _check_float("shift_magnitude", self.shift_magnitude, 0.0, math.inf)
        _check_int("n_new_items", self.n_new_items, 0, self.n_items - 1)
        _check_int("new_items_step", self.new_items_step, -1, MAX_WORLD_STEP)
        _check_int("purchase_delay", self.purchase_delay, 0, 100_000)
        _check_int("session_limit", self.session_limit, 0, MAX_WORLD_STEP)

    @property
    def changing_world(self) -> bool:
        """Whether any changing-world option (shift, new items, delayed purchases) is on."""
        return self.shift_step >= 0 or self.n_new_items > 0 or self.purchase_delay > 0

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> RecEnvConfig:
        """Builds a config from keyword overrides, rejecting unknown names.

        Args:
            **kwargs: Field overrides.

        Returns:
            The validated config.

        Raises:
            TypeError: A keyword is not a field of the config (the closest name is suggested).
            ValueError: A value is out of its allowed range.
        """
        names = [field.name for field in dataclasses.fields(cls)]
        for key in kwargs:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(names)}"
                raise TypeError(f"unknown RecEnv parameter {key!r}{hint}")
        return cls(**kwargs)

    def replace(self, **changes: Any) -> RecEnvConfig:
        """Returns a validated copy with some fields changed (unknown names raise TypeError)."""
        return RecEnvConfig.from_kwargs(**{**dataclasses.asdict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a plain dict (YAML/JSON serialisable)."""
        return dataclasses.asdict(self)


def _check_type(name: str, value: Any, annotation: Any) -> None:
    expected = str(annotation)
    if isinstance(value, str | bytes) and expected in ("bool", "int", "float"):
        kind = {"bool": "a bool", "int": "an integer", "float": "a number"}[expected]
        raise ValueError(f"{name} must be {kind}, got the string {value!r}")
    if expected == "bool" and not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be a bool (true/false), got {value!r}")
    if expected == "int" and (isinstance(value, bool) or not hasattr(value, "__index__")):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if expected == "float" and (isinstance(value, bool) or not hasattr(value, "__float__")):
        raise ValueError(f"{name} must be a number, got {value!r}")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _check_float(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number in {_range(low, high, low_open)}, got NaN")
    too_low = value <= low if low_open else value < low
    if too_low or value > high or math.isinf(value):
        raise ValueError(f"{name} must be in {_range(low, high, low_open)}, got {value!r}")


def _range(low: float, high: float, low_open: bool) -> str:
    left = "(" if low_open or math.isinf(low) else "["
    right = ")" if math.isinf(high) else "]"
    return f"{left}{low:g}, {high:g}{right}"
