"""``train.py`` reliability: bad input, Ctrl-C, resume, corrupted checkpoints (issue 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

import rec_gym  # noqa: F401
from tests.test_train import ROOT, run_train

TINY = {
    "default": {
        "n_envs": 2,
        "n_steps": 32,  # a rollout is 64 env steps
        "batch_size": 64,
        "n_epochs": 1,
        "transformer_policy": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2},
    }
}
ROLLOUT = 64


@pytest.fixture
def tiny_hyperparams(tmp_path: Path) -> Path:
    path = tmp_path / "ppo.yml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


# Each row: arguments -> a fragment the one-line message must contain. Mirrors the
# troubleshooting table in README.md.
BAD_INPUTS = [
    (["--env", "RecEnv-v1"], "did you mean 'RecEnv-v0'"),
    (["--algo", "ppp"], "unknown algorithm 'ppp'; did you mean 'ppo'"),
    (["--policy", "transfomer"], "did you mean 'transformer'"),
    (["--algo", "dqn", "--env", "RecEnv-Slate-v0"], "use --algo ppo"),
    (["--timesteps", "0"], "--timesteps must be a positive integer"),
    (["--timesteps", "ten"], "invalid int value"),
    (["--n-envs", "-2"], "--n-envs must be a positive integer"),
    (["--env-kwargs", "drift_rate=nan"], "drift_rate must be a number"),
    (["--env-kwargs", "n_itemz=5"], "did you mean 'n_items'"),
    (["--env-kwargs", "n_items=0"], "n_items must be an integer in [1,"),
    (["--env-kwargs", "leave_base_prob=1.5"], "leave_base_prob must be in [0, 1]"),
    (["--env-kwargs", "oops"], "--env-kwargs expects key=value"),
    (["--hyperparams", "missing.yml"], "cannot read hyperparameter file"),
    (["--hyperparams", "{bad_key}"], "unknown hyperparameter 'n_step' for ppo"),
    (["--log-dir", "{file}/logs"], "is not writable"),
    (["--resume", "no/such/run"], "run folder no/such/run does not exist"),
    (["--seed", "99999999999999999999"], "--seed must be an integer in [0,"),
    (["--device", "gpu"], "--device 'gpu' is not a torch device"),
    (["--env-kwargs", "render_mode=ansi"], "render_mode is not used in training"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_and_no_traceback(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    bad_key = tmp_path / "bad.yml"
    bad_key.write_text("default:\n  n_step: 5\n", encoding="utf-8")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = [a.format(bad_key=bad_key, file=blocker) for a in args]
    logs = tmp_path / "logs"
    if "--log-dir" not in args:
        args += ["--log-dir", str(logs)]
    result = run_train(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert not logs.exists() or not any(logs.rglob("config.yml"))


def _event_steps(run_dir: Path, tag: str) -> list[int]:
    """Steps of a scalar tag over the run's event files, in file (creation) order."""
    steps: list[int] = []
    for path in sorted(run_dir.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == tag:
                    steps.append(event.step)
    return steps


def _start_and_interrupt(args: list[str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """Starts train.py, sends SIGINT once training has written its first checkpoint."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # blocks until train.py prints; no sleeping
        seen.append(line)
        if line.startswith("checkpoint: step"):
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=600)
    stdout = "".join(seen) + out
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, err), err


def test_sigint_then_resume_reaches_the_budget_with_continuous_curves(
    tmp_path: Path, tiny_hyperparams: Path
) -> None:
    total = 40 * ROLLOUT
    logs = tmp_path / "logs"
    args = [
        "--timesteps", str(total), "--log-dir", str(logs), "--hyperparams",
        str(tiny_hyperparams), "--checkpoint-interval", str(4 * ROLLOUT),
        "--metrics-interval", "32", "--eval-episodes", "0", "--no-progress-bar",
    ]  # fmt: skip
    first, err = _start_and_interrupt(args)
    assert first.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err and "Resume with: python train.py --resume" in err
    run_dir = logs / "ppo" / "RecEnv-v0_1"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    interrupt = [entry for entry in manifest if entry["reason"] == "interrupt"]
    assert len(interrupt) == 1
    stopped_at = interrupt[0]["step"]
    assert 0 < stopped_at < total and stopped_at % ROLLOUT == 0
    assert not (run_dir / "model.zip").exists()  # not finished yet

    resumed = run_train("--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    model = PPO.load(run_dir / "model.zip", device="cpu")
    assert model.num_timesteps == total
    obs, _ = gym.make("RecEnv-v0").reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert gym.make("RecEnv-v0").action_space.contains(int(action))
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2  # same run, two parts
    for tag in ("rec/ctr", "rollout/ep_rew_mean"):
        steps = _event_steps(run_dir, tag)
        assert steps and all(b > a for a, b in zip(steps, steps[1:], strict=False)), (tag, steps)
        assert steps[-1] > stopped_at


def test_truncated_latest_checkpoint_falls_back_and_says_so(
    tmp_path: Path, tiny_hyperparams: Path
) -> None:
    total = 12 * ROLLOUT
    logs = tmp_path / "logs"
    args = [
        "--timesteps", str(total), "--log-dir", str(logs), "--hyperparams",
        str(tiny_hyperparams), "--checkpoint-interval", str(2 * ROLLOUT),
        "--eval-episodes", "0", "--no-progress-bar",
    ]  # fmt: skip
    result = run_train(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = logs / "ppo" / "RecEnv-v0_1"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    periodic = sorted(e["step"] for e in manifest if e["reason"] == "periodic")
    assert len(periodic) >= 2
    # Pretend the run died during its last part: drop the final model, truncate the newest.
    (run_dir / "model.zip").unlink()
    newest = run_dir / "checkpoints" / f"step_{periodic[-1]:09d}" / "model.zip"
    newest.write_bytes(newest.read_bytes()[:100])
    resumed = run_train("--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert str(newest) in resumed.stderr and "falling back" in resumed.stderr
    assert f"from step {periodic[-2]}" in resumed.stdout
    assert PPO.load(run_dir / "model.zip", device="cpu").num_timesteps >= total


def test_every_checkpoint_corrupt_fails_with_one_line(
    tmp_path: Path, tiny_hyperparams: Path
) -> None:
    logs = tmp_path / "logs"
    args = [
        "--timesteps", str(4 * ROLLOUT), "--log-dir", str(logs), "--hyperparams",
        str(tiny_hyperparams), "--checkpoint-interval", str(2 * ROLLOUT),
        "--eval-episodes", "0", "--no-progress-bar",
    ]  # fmt: skip
    assert run_train(*args).returncode == 0
    run_dir = logs / "ppo" / "RecEnv-v0_1"
    for path in run_dir.rglob("model.zip"):
        path.write_bytes(b"PK\x03\x04 truncated")
    result = run_train("--resume", str(run_dir))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no valid checkpoint") and "model.zip" in last
