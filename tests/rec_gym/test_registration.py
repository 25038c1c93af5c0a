"""Registration of the ids, overrides through gym.make, and import hygiene."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import rec_gym
from rec_gym.registration import DEFAULT_MAX_EPISODE_STEPS

from .helpers import inner, obs_space

REPO_ROOT = Path(__file__).resolve().parents[2]
SIMULATOR_MODULES = ["config", "items", "users", "choice", "reward", "simulator", "oracles"]


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_registered_ids_are_in_the_registry() -> None:
    ids = rec_gym.registered_ids()
    assert ids == ["RecEnv-v0", "RecEnv-Slate-v0"]
    for env_id in ids:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps == DEFAULT_MAX_EPISODE_STEPS == 50


def test_make_with_module_prefix_in_fresh_process() -> None:
    result = _run_python(
        """
        import sys
        import gymnasium as gym
        assert "rec_gym" not in sys.modules
        env = gym.make("rec_gym:RecEnv-v0")
        obs, info = env.reset(seed=0)
        env.step(env.action_space.sample())
        slate = gym.make("rec_gym:RecEnv-Slate-v0")
        print(env.spec.id, env.unwrapped.config.n_items, slate.action_space.shape)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RecEnv-v0", "200", "(5,)"]


def test_make_overrides_defaults() -> None:
    env = gym.make("RecEnv-v0", n_items=50, max_episode_steps=20)
    assert env.action_space == gym.spaces.Discrete(50)
    assert env.spec is not None and env.spec.max_episode_steps == 20
    assert inner(env).config.n_items == 50
    slate = gym.make("RecEnv-Slate-v0", n_items=40, slate_size=3, history_length=6)
    assert slate.action_space == gym.spaces.MultiDiscrete([40, 40, 40])
    assert obs_space(slate)["item_ids"].shape == (6,)


def test_import_twice_and_reload() -> None:
    importlib.import_module("rec_gym")
    importlib.reload(rec_gym)
    importlib.reload(importlib.import_module("rec_gym.registration"))
    rec_gym.register_envs()
    assert gym.make("RecEnv-v0").spec is not None


def test_simulator_modules_do_not_import_gymnasium() -> None:
    # The package __init__ imports the env (and so gymnasium); load the simulator modules
    # under a bare stand-in package so that only their own imports run.
    result = _run_python(
        f"""
        import importlib, sys, types
        for blocked in ("gymnasium", "gym", "stable_baselines3", "torch"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        pkg = types.ModuleType("rec_gym")
        pkg.__path__ = [{str(REPO_ROOT / "rec_gym")!r}]
        sys.modules["rec_gym"] = pkg
        for name in {SIMULATOR_MODULES!r}:
            importlib.import_module("rec_gym." + name)
        from rec_gym.simulator import RecSimulator
        from rec_gym.config import RecEnvConfig
        import numpy as np
        sim = RecSimulator(RecEnvConfig(n_items=20))
        rng = np.random.default_rng(0)
        users = sim.new_users(3, rng)
        out = sim.step(users, np.zeros((3, 1), dtype=np.int64), rng)
        print(out.reward.shape)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(3,)"


@pytest.mark.parametrize("name", SIMULATOR_MODULES)
def test_simulator_module_source_has_no_gymnasium_import(name: str) -> None:
    source = (REPO_ROOT / "rec_gym" / f"{name}.py").read_text()
    assert "import gymnasium" not in source
    assert "from gymnasium" not in source
