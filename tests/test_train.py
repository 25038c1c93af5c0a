"""``train.py`` end to end, as a subprocess with tiny budgets (issue 3, acceptance 2-5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rec_gym  # noqa: F401
from agents.runner import TrainConfig, make_training_env, train, validate

ROOT = Path(__file__).resolve().parents[1]
TINY_HYPERPARAMS = {
    "ppo": {
        "default": {
            "n_envs": 2,
            "n_steps": 64,
            "batch_size": 64,
            "n_epochs": 2,
            "transformer_policy": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2},
        }
    },
    "dqn": {
        "default": {
            "n_envs": 1,
            "learning_starts": 100,
            "buffer_size": 2000,
            "train_freq": 4,
            "transformer_policy": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2},
        }
    },
}


def _hyperparams(tmp_path: Path, algo: str) -> Path:
    path = tmp_path / f"{algo}.yml"
    path.write_text(yaml.safe_dump(TINY_HYPERPARAMS[algo]), encoding="utf-8")
    return path


def run_train(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Runs ``train.py`` in a subprocess."""
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) pairs of a scalar over every event file of a run folder."""
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    if tag not in accumulator.Tags()["scalars"]:
        return []
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


@pytest.mark.parametrize(
    ("algo", "timesteps", "env_kwargs"),
    [
        ("ppo", "512", []),
        # Long sessions: nobody leaves, so every episode runs to the 50-step cap.
        ("dqn", "600", ["leave_base_prob=0", "leave_sensitivity=0"]),
    ],
)
def test_train_subprocess_writes_run_folder_and_tensorboard(
    tmp_path: Path, algo: str, timesteps: str, env_kwargs: list[str]
) -> None:
    logs = tmp_path / "logs"
    args = [
        "--algo", algo, "--timesteps", timesteps, "--log-dir", str(logs),
        "--hyperparams", str(_hyperparams(tmp_path, algo)), "--metrics-interval", "64",
        "--eval-episodes", "3", "--seed", "3",
    ]  # fmt: skip
    if env_kwargs:
        args += ["--env-kwargs", *env_kwargs]
    result = run_train(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = logs / algo / "RecEnv-v0_1"
    assert (run_dir / "model.zip").is_file()
    config = yaml.safe_load((run_dir / "config.yml").read_text())
    assert config["env"]["id"] == "RecEnv-v0"
    assert config["seed"] == 3 and config["algorithm"]["name"] == algo
    assert config["env"]["config"]["n_items"] == 200  # the full env config, not only overrides
    assert "torch" in config["versions"]
    assert scalars(run_dir, "rollout/ep_rew_mean"), "rollout/ep_rew_mean missing"
    ctr = scalars(run_dir, "rec/ctr")
    steps = [step for step, _ in ctr]
    assert len(ctr) >= 4 and steps == sorted(set(steps)), ctr
    assert all(0.0 <= value <= 1.0 for _, value in ctr)
    final = json.loads((run_dir / "final_eval.json").read_text())
    assert {"random", "popularity", "myopic"} <= set(final)
    assert "mean return" in result.stdout


def test_ep_rew_mean_is_the_raw_episode_return(tmp_path: Path) -> None:
    """With context normalisation on, rollout/ep_rew_mean still reports raw rewards."""
    hyper = TINY_HYPERPARAMS["ppo"]["default"] | {"normalize": True}
    path = tmp_path / "ppo.yml"
    path.write_text(yaml.safe_dump({"default": hyper}), encoding="utf-8")
    config = TrainConfig(
        total_timesteps=256, log_dir=str(tmp_path / "logs"), hyperparams=str(path),
        eval_episodes=0, progress_bar=False, env_kwargs={"click_reward": 100.0},
    )  # fmt: skip
    run_dir = train(config)
    values = [value for _, value in scalars(run_dir, "rollout/ep_rew_mean")]
    # Rewards come in multiples of 100 (clicks) plus 2 (purchases): a normalised reward
    # would be of order 1.
    assert values and max(values) > 50.0
    assert (run_dir / "vecnormalize.pkl").is_file()


def test_dqn_on_slate_env_fails_before_creating_anything(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = run_train("--algo", "dqn", "--env", "RecEnv-Slate-v0", "--log-dir", str(logs))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "DQN" in lines[0] and "--algo ppo" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (logs / "dqn").exists()


def test_same_seed_gives_identical_parameters(tmp_path: Path) -> None:
    path = _hyperparams(tmp_path, "ppo")
    params = []
    for name in ("a", "b"):
        config = TrainConfig(
            total_timesteps=256, seed=11, log_dir=str(tmp_path / name), hyperparams=str(path),
            eval_episodes=0, progress_bar=False,
        )  # fmt: skip
        run_dir = train(config)
        params.append(PPO.load(run_dir / "model.zip", device="cpu").policy.state_dict())
    assert params[0].keys() == params[1].keys()
    for key in params[0]:
        assert torch.equal(params[0][key], params[1][key]), key


def test_sub_env_i_is_seeded_seed_plus_i(tmp_path: Path) -> None:
    plan = validate(
        TrainConfig(n_envs=3, log_dir=str(tmp_path), hyperparams=str(_hyperparams(tmp_path, "ppo")))
    )
    venv = make_training_env(plan, seed=40)
    observations = venv.reset()
    for i in range(3):
        expected, _ = gym.make("RecEnv-v0").reset(seed=40 + i)
        for key in expected:
            np.testing.assert_array_equal(observations[key][i], expected[key])


def test_train_on_movielens_calibrated_env(tmp_path: Path, shared_data_dir: Path) -> None:
    """The real-input main job: train.py on RecEnv-MovieLens-v0 trains and logs (issue 4)."""
    logs = tmp_path / "logs"
    env = {
        **os.environ,
        "REC_GYM_MOVIELENS": str(shared_data_dir / "ml-100k"),
        "REC_GYM_CACHE": str(tmp_path / "cache"),
        "PYTHONUNBUFFERED": "1",
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--env",
            "RecEnv-MovieLens-v0",
            "--timesteps",
            "256",
            "--log-dir",
            str(logs),
            "--hyperparams",
            str(_hyperparams(tmp_path, "ppo")),
            "--metrics-interval",
            "32",
            "--eval-episodes",
            "2",
            "--no-progress-bar",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = logs / "ppo" / "RecEnv-MovieLens-v0_1"
    config = yaml.safe_load((run_dir / "config.yml").read_text())
    assert config["env"]["config"]["n_items"] > 1000  # the calibrated catalog, not the default
    assert len(scalars(run_dir, "rec/ctr")) >= 4
    assert scalars(run_dir, "rollout/ep_rew_mean")
