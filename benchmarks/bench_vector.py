"""Batched throughput: user-steps per second of ``RecEnv-v0``'s natively batched env.

``gym.make_vec("RecEnv-v0", num_envs=n, vectorization_mode="vector_entry_point")`` is stepped
with uniformly random actions (autoreset included) for at least ``--min-seconds`` per repeat;
user-steps/s = steps/s x num_envs, median over ``--repeats``. Measured with
``compute_oracle_info`` off and on (on costs one pass over the catalog per user and step).
For comparison, Gymnasium's ``SyncVectorEnv`` of single envs is measured for small n.

Usage:
    python benchmarks/bench_vector.py              # n = 1, 64, 1024, 4096; 1k items
    python benchmarks/bench_vector.py --tiny       # smoke test
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from bench_common import add_common_arguments, fmt, rate, report, summarize, write_json

import rec_gym  # noqa: F401  (registers the ids)

#: Target of the issue: batched env at 4,096 users.
TARGET_USER_STEPS_PER_SECOND = 1_000_000
TARGET_NUM_ENVS = 4096


def measure(
    mode: str, num_envs: int, n_items: int, oracle: bool, repeats: int, min_seconds: float
) -> dict[str, float]:
    """User-steps per second of one configuration (median of ``repeats``)."""
    envs = gym.make_vec(
        "RecEnv-v0",
        num_envs=num_envs,
        vectorization_mode=mode,
        n_items=n_items,
        compute_oracle_info=oracle,
    )
    envs.reset(seed=0)
    pool = np.random.default_rng(0).integers(0, n_items, size=(16, num_envs))

    def run(steps: int) -> None:
        for step in range(steps):
            envs.step(pool[step % len(pool)])

    run(5)  # warm-up
    chunk = max(1, 4096 // num_envs)
    samples = [rate(run, chunk, min_seconds) * num_envs for _ in range(repeats)]
    envs.close()
    return summarize(samples)


def main() -> None:
    """Runs the benchmark and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--n-items", type=int, default=1_000, help="catalog size")
    parser.add_argument(
        "--sync-up-to", type=int, default=64, help="also time SyncVectorEnv for n up to this"
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.tiny:
        args.num_envs, args.n_items, args.repeats, args.min_seconds = [1, 4], 50, 1, 0.01
        args.sync_up_to = 4
    rows, results = [], []
    configurations = [("vector_entry_point", oracle) for oracle in (False, True)]
    configurations.append(("sync", False))
    for mode, oracle in configurations:
        for num_envs in args.num_envs:
            if mode == "sync" and num_envs > args.sync_up_to:
                continue
            stats = measure(mode, num_envs, args.n_items, oracle, args.repeats, args.min_seconds)
            results.append(
                {"mode": mode, "num_envs": num_envs, "compute_oracle_info": oracle, **stats}
            )
            rows.append(
                [
                    "batched" if mode == "vector_entry_point" else "SyncVectorEnv",
                    f"{num_envs:,}",
                    "on" if oracle else "off",
                    fmt(stats["median"]),
                    f"{fmt(stats['min'])} - {fmt(stats['max'])}",
                ]
            )
    payload: dict = {
        "benchmark": "batched user-steps/s",
        "n_items": args.n_items,
        "results": results,
    }
    report(
        f"Batched env: user-steps/s, {args.n_items:,} items",
        ["env", "num_envs", "oracle info", "median user-steps/s", f"range ({args.repeats})"],
        rows,
        payload,
    )
    for result in results:
        if result["mode"] == "vector_entry_point" and result["num_envs"] == TARGET_NUM_ENVS:
            ratio = result["median"] / TARGET_USER_STEPS_PER_SECOND
            state = "on" if result["compute_oracle_info"] else "off"
            status = "met" if ratio >= 1 else "MISSED"
            print(
                f"target {TARGET_USER_STEPS_PER_SECOND:,} user-steps/s at {TARGET_NUM_ENVS:,} "
                f"users, oracle info {state}: {status} ({ratio:.2f}x)"
            )
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
