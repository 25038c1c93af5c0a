"""Validation of RecEnvConfig: unknown keywords, bad values and type errors."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import rec_gym  # noqa: F401  (registers the ids)
from rec_gym.config import MAX_ITEMS, RecEnvConfig
from rec_gym.envs import RecEnv

# (parameter, bad value): 0/negative sizes, probabilities outside [0, 1], NaN, inf, too large.
BAD_VALUES = [
    ("n_items", 0),
    ("n_items", -5),
    ("n_items", MAX_ITEMS + 1),
    ("n_topics", 0),
    ("latent_dim", -1),
    ("slate_size", 0),
    ("history_length", 0),
    ("user_feature_dim", -1),
    ("catalog_seed", -1),
    ("drift_rate", -0.1),
    ("drift_rate", 1.5),
    ("satiation_decay", 1.01),
    ("position_bias", 0.0),
    ("position_bias", 1.2),
    ("cascade_continue_prob", -0.01),
    ("leave_base_prob", 1.0001),
    ("leave_base_prob", -1.0),
    ("leave_sensitivity", 2.0),
    ("initial_patience", 0.0),
    ("fatigue_per_step", 1.5),
    ("no_click_penalty", -0.5),
    ("affinity_scale", 0.0),
    ("interest_scale", -1.0),
    ("satiation_gain", float("nan")),
    ("click_reward", float("nan")),
    ("purchase_reward", float("inf")),
    ("no_click_utility", float("-inf")),
    ("leave_base_prob", float("nan")),
    ("choice_model", "logit"),
    ("n_items", 3.5),
    ("n_items", "100"),
    ("n_items", True),
    ("drift_rate", "0.1"),
    ("debug_info", 1),
]


def test_defaults_are_valid_and_frozen() -> None:
    cfg = RecEnvConfig()
    assert cfg.slate_size == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_items = 3  # type: ignore[misc]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_value_raises_value_error_naming_parameter(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name) as caught:
        RecEnvConfig.from_kwargs(**{name: value})
    message = str(caught.value)
    assert "\n" not in message
    assert "must" in message  # states the allowed range or type


@pytest.mark.parametrize(("name", "value"), BAD_VALUES[:8])
def test_bad_value_through_gym_make(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        gym.make("RecEnv-v0", **{name: value})


def test_range_is_named_in_message() -> None:
    with pytest.raises(ValueError, match=r"leave_base_prob must be in \[0, 1\]"):
        RecEnvConfig(leave_base_prob=1.5)


def test_slate_larger_than_catalog_rejected() -> None:
    with pytest.raises(ValueError, match="slate_size"):
        RecEnvConfig(n_items=3, slate_size=4)


def test_max_items_boundary_is_accepted_by_validation() -> None:
    # A config builds no catalog, so the largest allowed size is cheap to validate.
    assert RecEnvConfig(n_items=MAX_ITEMS).n_items == MAX_ITEMS == 2**24 - 1
    assert float(np.float32(MAX_ITEMS)) == MAX_ITEMS  # ids survive SB3's float32 cast


def test_unknown_keyword_raises_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="n_itemz") as caught:
        RecEnvConfig.from_kwargs(n_itemz=3)
    assert "n_items" in str(caught.value)  # suggests the close match
    with pytest.raises(TypeError, match="frobnicate"):
        gym.make("RecEnv-v0", frobnicate=1)
    with pytest.raises(TypeError, match="colour"):
        gym.make("RecEnv-Slate-v0", colour="red")


def test_replace_validates_and_keeps_other_fields() -> None:
    cfg = RecEnvConfig(n_items=40, drift_rate=0.3)
    new = cfg.replace(n_items=60)
    assert (new.n_items, new.drift_rate) == (60, 0.3)
    with pytest.raises(ValueError, match="drift_rate"):
        cfg.replace(drift_rate=2.0)
    with pytest.raises(TypeError, match="drift_rat"):
        cfg.replace(drift_rat=0.1)


def test_to_dict_round_trips() -> None:
    cfg = RecEnvConfig(n_items=33, choice_model="cascade", slate_size=3)
    data = cfg.to_dict()
    assert all(isinstance(v, str | int | float | bool) for v in data.values())
    assert RecEnvConfig(**data) == cfg


def test_numpy_scalars_accepted() -> None:
    cfg = RecEnvConfig(n_items=np.int64(30), drift_rate=np.float32(0.25))  # type: ignore[arg-type]
    assert int(cfg.n_items) == 30
    assert math.isclose(float(cfg.drift_rate), 0.25)


def test_env_rejects_slate_size_on_single_env() -> None:
    with pytest.raises(ValueError, match="slate_size"):
        gym.make("RecEnv-v0", slate_size=3)


def test_env_rejects_bad_render_mode() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        RecEnv(render_mode="human")
