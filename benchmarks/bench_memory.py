"""Peak memory (resident set size) of rec-gym envs with a large catalog.

Each case runs in a fresh Python process, which imports the libraries, records its peak RSS
(``resource.getrusage``: the baseline), builds the env, resets it and takes ``--steps``
random steps, then records its peak RSS again. The env's own cost is the difference.

Usage:
    python benchmarks/bench_memory.py              # 100k items
    python benchmarks/bench_memory.py --tiny       # smoke test
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench_common import report, write_json

#: (num_envs, or None for a single env from gym.make; whether oracle info is on)
CASES: list[tuple[int | None, bool]] = [(None, True), (None, False), (64, False), (64, True)]
#: An extra case: the single env plus SB3 PPO with the transformer policy, training.
POLICY_CASE = "single env + PPO transformer policy (training)"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child(n_items: int, num_envs: int | None, kwargs: dict[str, Any], steps: int) -> None:
    """Measures one case in this process and prints a JSON line."""
    import gymnasium as gym
    import numpy as np

    import rec_gym  # noqa: F401

    baseline = _peak_mib()
    rng = np.random.default_rng(0)
    if kwargs.pop("policy", None) == "transformer":
        from stable_baselines3 import PPO

        from agents.registry import policy_spec

        baseline = _peak_mib()  # after importing torch and SB3 too
        env = gym.make("RecEnv-v0", n_items=n_items, **kwargs)
        catalog = env.unwrapped.simulator.catalog  # type: ignore[attr-defined]
        options = {"hidden_dim": 64, "n_layers": 1, "n_heads": 2, "use_item_features": True}
        policy, policy_kwargs = policy_spec(
            "ppo", "transformer", options, catalog.public_features()
        )
        model = PPO(policy, env, policy_kwargs=policy_kwargs, n_steps=64, batch_size=64,
                    n_epochs=1, seed=0, device="cpu")  # fmt: skip
        model.learn(steps)
    elif num_envs is None:
        env = gym.make("RecEnv-v0", n_items=n_items, **kwargs)
        env.reset(seed=0)
        for action in rng.integers(0, n_items, size=steps):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        catalog = env.unwrapped.simulator.catalog  # type: ignore[attr-defined]
    else:
        envs = gym.make_vec(
            "RecEnv-v0",
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            n_items=n_items,
            **kwargs,
        )
        envs.reset(seed=0)
        for _ in range(steps):
            envs.step(rng.integers(0, n_items, size=num_envs))
        catalog = envs.unwrapped.simulator.catalog  # type: ignore[attr-defined]
    catalog_mib = (
        sum(value.nbytes for value in vars(catalog).values() if isinstance(value, np.ndarray))
        / 2**20
    )
    print(json.dumps({"baseline": baseline, "peak": _peak_mib(), "catalog": catalog_mib}))


def main() -> None:
    """Runs every case in a subprocess and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000, help="catalog size")
    parser.add_argument("--steps", type=int, default=1_000, help="steps per case")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", default=None, help="also write results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        num_envs, kwargs = json.loads(args.child)
        child(args.n_items, num_envs, kwargs, args.steps)
        return
    if args.tiny:
        args.n_items, args.steps = 1_000, 20
    rows, results = [], []
    cases: list[tuple[int | None, bool, str | None]] = [(n, o, None) for n, o in CASES]
    cases.append((None, True, "transformer"))
    for num_envs, oracle, policy in cases:
        if args.tiny and num_envs is not None:
            num_envs = 4
        kind = "single env" if num_envs is None else f"batched env, {num_envs} users"
        label = f"{kind}, oracle info {'on (default)' if oracle else 'off'}"
        kwargs: dict[str, Any] = {"compute_oracle_info": oracle}
        if policy is not None:
            label = POLICY_CASE
            kwargs["policy"] = policy
        command = [
            sys.executable,
            __file__,
            "--n-items",
            str(args.n_items),
            "--steps",
            str(args.steps),
            "--child",
            json.dumps([num_envs, kwargs]),
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        measured = json.loads(output.strip().splitlines()[-1])
        own = measured["peak"] - measured["baseline"]
        results.append({"case": label, "num_envs": num_envs, **measured, "env_own": own})
        rows.append(
            [
                label,
                f"{measured['catalog']:.1f}",
                f"{measured['baseline']:.0f}",
                f"{measured['peak']:.0f}",
                f"{own:.0f}",
            ]
        )
    payload: dict = {"benchmark": "peak RSS", "n_items": args.n_items, "results": results}
    report(
        f"Peak memory, {args.n_items:,} items, {args.steps:,} steps (MiB)",
        ["case", "catalog arrays", "after imports", "peak RSS", "peak - imports"],
        rows,
        payload,
    )
    write_json(Path(args.json) if args.json else None, payload)


if __name__ == "__main__":
    main()
