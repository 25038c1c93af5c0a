"""SB3 algorithms x policies learn, save, and load in a fresh process (issue 3, acceptance 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from sb3_contrib import MaskablePPO
from stable_baselines3 import DQN, PPO

import rec_gym  # noqa: F401
from agents.registry import policy_spec

CASES = [
    ("ppo", "mlp", "RecEnv-v0"),
    ("ppo", "transformer", "RecEnv-v0"),
    ("dqn", "mlp", "RecEnv-v0"),
    ("dqn", "transformer", "RecEnv-v0"),
    ("ppo", "transformer", "RecEnv-Slate-v0"),
    ("maskable-ppo", "transformer", "RecEnv-v0"),
]
CLASSES = {"ppo": PPO, "dqn": DQN, "maskable-ppo": MaskablePPO}
ENV_KWARGS = {"n_items": 60}
OPTIONS = {"transformer": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2}, "mlp": {}}


def _observations(env_id: str, count: int = 12) -> list[dict[str, np.ndarray]]:
    env = gym.make(env_id, **ENV_KWARGS)
    obs, _ = env.reset(seed=123)
    out = [obs]
    rng = np.random.default_rng(0)
    while len(out) < count:
        action = env.action_space.sample() if rng.random() < 2 else None
        obs, _, terminated, truncated, _ = env.step(action)
        out.append(obs)
        if terminated or truncated:
            obs, _ = env.reset(seed=int(rng.integers(1000)))
            out.append(obs)
    return out[:count]


def _train(algo: str, policy: str, env_id: str) -> PPO | DQN | MaskablePPO:
    env = gym.make(env_id, **ENV_KWARGS)
    env.action_space.seed(0)
    features = env.unwrapped.simulator.catalog.public_features()  # type: ignore[attr-defined]
    policy_arg, policy_kwargs = policy_spec(algo, policy, OPTIONS[policy], features)
    extra = (
        {"learning_starts": 50, "buffer_size": 1000, "train_freq": 4}
        if algo == "dqn"
        else {"n_steps": 64, "batch_size": 32, "n_epochs": 2}
    )
    model = CLASSES[algo](
        policy_arg, env, policy_kwargs=policy_kwargs, seed=0, device="cpu", **extra
    )
    model.learn(256)
    assert model.num_timesteps >= 256
    return model


LOADER = """
import json, sys
import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3 import DQN, PPO
import agents, rec_gym  # only the packages
classes = {"ppo": PPO, "dqn": DQN, "maskable-ppo": MaskablePPO}
jobs = json.loads(sys.stdin.read())
out = []
for job in jobs:
    model = classes[job["algo"]].load(job["path"], device="cpu")
    obs = [{k: np.asarray(v) for k, v in o.items()} for o in job["obs"]]
    out.append([np.asarray(model.predict(o, deterministic=True)[0]).tolist() for o in obs])
print(json.dumps(out))
"""


def test_learn_save_and_load_in_fresh_process(tmp_path: Path) -> None:
    jobs, expected = [], []
    for algo, policy, env_id in CASES:
        model = _train(algo, policy, env_id)
        obs = _observations(env_id)
        expected.append([np.asarray(model.predict(o, deterministic=True)[0]).tolist() for o in obs])
        path = tmp_path / f"{algo}-{policy}-{env_id}.zip"
        model.save(path)
        jobs.append(
            {
                "algo": algo,
                "path": str(path),
                "obs": [{k: v.tolist() for k, v in o.items()} for o in obs],
            }
        )
    result = subprocess.run(
        [sys.executable, "-c", LOADER],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout)
    for case, want, got in zip(CASES, expected, loaded, strict=True):
        assert got == want, f"{case}: predictions differ after loading"


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_transformer_policy_gets_trained(algo: str) -> None:
    env = gym.make("RecEnv-v0", **ENV_KWARGS)
    features = env.unwrapped.simulator.catalog.public_features()  # type: ignore[attr-defined]
    policy_arg, policy_kwargs = policy_spec(algo, "transformer", OPTIONS["transformer"], features)
    extra = (
        {"learning_starts": 32, "buffer_size": 1000, "train_freq": 1}
        if algo == "dqn"
        else {"n_steps": 64, "batch_size": 32, "n_epochs": 2}
    )
    model = CLASSES[algo](
        policy_arg, env, policy_kwargs=policy_kwargs, seed=0, device="cpu", **extra
    )
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(192)
    after = model.policy.state_dict()
    changed = [k for k in before if not np.array_equal(before[k].numpy(), after[k].numpy())]
    assert any("item_embedding" in k for k in changed), "item embeddings were not trained"
    assert any("encoder" in k for k in changed), "the transformer encoder was not trained"
