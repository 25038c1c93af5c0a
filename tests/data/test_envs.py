"""The calibrated envs: registration, data location, checkers and determinism."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rec_gym
from rec_gym.data.envs import LOGS_ENV_VAR, MOVIELENS_ENV_VAR
from rec_gym.data.errors import DataError
from rec_gym.registration import DATA_ENV_IDS
from tests.data.conftest import FAST
from tests.data.synthetic import SyntheticLog, write_events_csv

FAST_KW: dict[str, Any] = {"calibration": FAST.to_dict()}


def test_ids_are_registered() -> None:
    assert set(DATA_ENV_IDS) <= set(rec_gym.registered_ids(include_data=True))
    assert not set(DATA_ENV_IDS) & set(rec_gym.registered_ids())  # those need no data
    for env_id in DATA_ENV_IDS:
        assert gym.spec(env_id).max_episode_steps == 50


@pytest.mark.parametrize(
    ("env_id", "keyword", "variable"),
    [
        ("RecEnv-MovieLens-v0", "data_dir", MOVIELENS_ENV_VAR),
        ("RecEnv-Logs-v0", "data_path", LOGS_ENV_VAR),
    ],
)
def test_missing_location_is_a_clear_error(
    env_id: str, keyword: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(DataError) as info:
        gym.make(env_id)
    message = str(info.value)
    assert "\n" not in message and f"{keyword}=" in message and variable in message


def test_location_from_environment_variable(
    latest_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MOVIELENS_ENV_VAR, str(latest_dir))
    monkeypatch.setenv("REC_GYM_CACHE", str(cache_dir))
    env = gym.make("RecEnv-MovieLens-v0", **FAST_KW)
    assert env.unwrapped.world.meta["data_path"] == str(latest_dir)  # type: ignore[attr-defined]
    assert any(cache_dir.rglob("*.npz"))  # the cache came from REC_GYM_CACHE


def _run(env: gym.Env[Any, Any], seed: int, steps: int = 30) -> list[Any]:
    trace: list[Any] = []
    n_items = env.unwrapped.config.n_items  # type: ignore[attr-defined]
    obs, _ = env.reset(seed=seed)
    trace.append({k: v.tolist() for k, v in obs.items()})
    for step in range(steps):
        obs, reward, terminated, truncated, info = env.step((7 * step) % n_items)
        trace.append(({k: v.tolist() for k, v in obs.items()}, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            trace.append({k: v.tolist() for k, v in obs.items()})
    return trace


def test_checkers_and_determinism_on_movielens_env(latest_dir: Path, cache_dir: Path) -> None:
    kwargs: dict[str, Any] = {"data_dir": latest_dir, "cache_dir": cache_dir, **FAST_KW}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("RecEnv-MovieLens-v0", **kwargs)
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    world = env.unwrapped.world  # type: ignore[attr-defined]
    assert env.action_space == gym.spaces.Discrete(world.config.n_items)
    first = _run(gym.make("RecEnv-MovieLens-v0", **kwargs), seed=5)
    second = _run(gym.make("RecEnv-MovieLens-v0", **kwargs), seed=5)
    other = _run(gym.make("RecEnv-MovieLens-v0", **kwargs), seed=6)
    assert first == second and first != other


def test_logs_env_with_generic_event_csv(
    tmp_path: Path, cache_dir: Path, synthetic_log: SyntheticLog
) -> None:
    path = write_events_csv(synthetic_log, tmp_path / "events.csv")
    columns = {"user": "uid", "item": "sku", "event": "kind", "time": "ts", "genres": "cats"}
    env = gym.make(
        "RecEnv-Logs-v0", data_path=path, columns=columns, cache_dir=cache_dir, **FAST_KW
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.world.meta["signal"] == "event"  # type: ignore[attr-defined]


def test_overrides(latest_dir: Path, cache_dir: Path) -> None:
    kwargs: dict[str, Any] = {"data_dir": latest_dir, "cache_dir": cache_dir, **FAST_KW}
    env = gym.make("RecEnv-MovieLens-v0", history_length=4, **kwargs)
    assert env.unwrapped.config.history_length == 4  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="n_items is fixed by the calibrated data"):
        gym.make("RecEnv-MovieLens-v0", n_items=3, **kwargs)
    with pytest.raises(TypeError, match="unknown RecEnv parameter"):
        gym.make("RecEnv-MovieLens-v0", n_itemz=3, **kwargs)


def test_movielens_env_refuses_other_logs(tmp_path: Path, synthetic_log: SyntheticLog) -> None:
    folder = tmp_path / "logs"
    write_events_csv(synthetic_log, folder / "interactions.csv")
    with pytest.raises(DataError, match="not a MovieLens folder"):
        gym.make("RecEnv-MovieLens-v0", data_dir=folder)


def test_world_actions_map_to_dataset_ids(latest_dir: Path, cache_dir: Path) -> None:
    env = gym.make("RecEnv-MovieLens-v0", data_dir=latest_dir, cache_dir=cache_dir, **FAST_KW)
    world = env.unwrapped.world  # type: ignore[attr-defined]
    env.reset(seed=0)
    obs, *_ = env.step(3)
    history = obs["item_ids"] if "item_ids" in obs else obs["items"]
    assert history[-1] == 4  # env id = action + 1
    assert world.env_item_ids(np.array([world.item_ids[3]])).tolist() == [4]
