"""SB3 training throughput: env-steps per second of ``learn()`` on RecEnv-v0 vs CartPole-v1.

For PPO and DQN, with the mlp and transformer policies, ``model.learn(steps)`` is timed on
``RecEnv-v0`` (through the natively batched env and :class:`agents.vec_env.VectorEnvAdapter`
when ``n_envs > 1``) and, in the same run with identical algorithm settings, on
``CartPole-v1`` with SB3's ``MlpPolicy``. The ratio RecEnv / CartPole shows the env's and the
policy's own overhead. Medians of ``--repeats``.

Usage:
    python benchmarks/bench_sb3.py            # PPO x {mlp, transformer}, DQN x {mlp, transformer}
    python benchmarks/bench_sb3.py --tiny     # smoke test
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import torch
from bench_common import add_common_arguments, fmt, report, summarize, write_json
from sb3_contrib import MaskablePPO  # noqa: F401  (import cost paid before timing)
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

import rec_gym  # noqa: F401
from agents.registry import policy_spec
from agents.vec_env import VectorEnvAdapter

#: Targets of the issue, as fractions of CartPole's env-steps/s with the same algorithm.
TARGETS = {("ppo", "mlp"): 0.8, ("ppo", "transformer"): 0.3}
SETTINGS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 128, "batch_size": 256, "n_epochs": 4},
    "dqn": {"learning_starts": 200, "buffer_size": 20_000, "train_freq": 4, "batch_size": 64},
}
TRANSFORMER = {"hidden_dim": 64, "n_layers": 2, "n_heads": 2, "use_item_features": True}


def make_venv(env_id: str, n_envs: int) -> VecEnv:
    """A monitored vectorised env: the batched RecEnv, or DummyVecEnv for CartPole."""
    if env_id.startswith("RecEnv") and n_envs > 1:
        batched = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point")
        return VecMonitor(VectorEnvAdapter(batched))
    return VecMonitor(DummyVecEnv([lambda: gym.make(env_id)] * n_envs))


def steps_per_second(algo: str, policy: str, env_id: str, n_envs: int, steps: int) -> float:
    """Env-steps per second of one ``learn(steps)`` call (after a short warm-up)."""
    venv = make_venv(env_id, n_envs)
    cls = {"ppo": PPO, "dqn": DQN}[algo]
    if env_id == "CartPole-v1":
        policy_arg: Any = "MlpPolicy"
        kwargs: dict[str, Any] = {}
    else:
        simulator = gym.make(env_id).unwrapped.simulator  # type: ignore[attr-defined]
        features = simulator.catalog.public_features()
        options = TRANSFORMER if policy == "transformer" else {}
        policy_arg, kwargs = policy_spec(algo, policy, options, features)
    model = cls(policy_arg, venv, policy_kwargs=kwargs, seed=0, device="cpu", **SETTINGS[algo])
    model.learn(min(steps, 512))  # warm-up: first rollout, allocations
    before = model.num_timesteps
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    venv.close()
    return (model.num_timesteps - before) / elapsed  # PPO rounds up to whole rollouts


def main() -> None:
    """Runs the benchmark and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192, help="timed env steps per run")
    parser.add_argument("--ppo-envs", type=int, default=8, help="parallel envs for PPO")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch CPU threads")
    add_common_arguments(parser)
    args = parser.parse_args()
    steps, repeats = (256, 1) if args.tiny else (args.steps, args.repeats)
    combos = [("ppo", "mlp"), ("ppo", "transformer"), ("dqn", "mlp"), ("dqn", "transformer")]
    if args.tiny:
        combos = [("ppo", "transformer"), ("dqn", "mlp")]
    torch.set_num_threads(args.torch_threads)
    rows, results = [], []
    for algo, policy in combos:
        n_envs = args.ppo_envs if algo == "ppo" else 1
        # Interleave the two envs' repeats so a change in machine load hits both alike.
        cartpole_samples, rec_samples = [], []
        for _ in range(repeats):
            cartpole_samples.append(steps_per_second(algo, "mlp", "CartPole-v1", n_envs, steps))
            rec_samples.append(steps_per_second(algo, policy, "RecEnv-v0", n_envs, steps))
        cartpole, rec = summarize(cartpole_samples), summarize(rec_samples)
        ratio = rec["median"] / cartpole["median"]
        target = TARGETS.get((algo, policy))
        verdict = "-" if target is None else ("met" if ratio >= target else f"MISSED (< {target})")
        rows.append(
            [
                algo,
                policy,
                n_envs,
                fmt(rec["median"]),
                fmt(cartpole["median"]),
                f"{ratio:.2f}",
                verdict,
            ]  # fmt: skip
        )
        results.append({"algo": algo, "policy": policy, "n_envs": n_envs, "recenv": rec,
                        "cartpole": cartpole, "ratio": ratio, "target": target})  # fmt: skip
    extra: dict[str, Any] = {"results": results, "steps": steps}
    report(
        "SB3 training throughput (env-steps/s of learn())",
        ["algo", "policy", "envs", "RecEnv-v0", "CartPole-v1 (MlpPolicy)", "ratio", "target"],
        rows,
        extra,
    )
    write_json(args.json, extra)


if __name__ == "__main__":
    main()
