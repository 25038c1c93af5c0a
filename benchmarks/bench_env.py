"""Single-env throughput: steps per second through ``gym.make`` (wrappers included).

Each configuration steps ``RecEnv-v0`` with uniformly random actions (numpy integers, as
SB3 passes them), resetting when an episode ends, for at least ``--min-seconds`` per repeat;
the median over ``--repeats`` is reported. ``compute_oracle_info`` (the myopic oracle's
``best_expected_reward`` in ``info``, one pass over the catalog per step) is measured on (the
default) and off.

Usage:
    python benchmarks/bench_env.py                 # N = 1k, 10k, 100k items
    python benchmarks/bench_env.py --tiny          # smoke test
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from bench_common import add_common_arguments, fmt, rate, report, summarize, write_json

import rec_gym  # noqa: F401  (registers the ids)

#: Target of the issue: single env at 1k items, with the default config.
TARGET_STEPS_PER_SECOND = 30_000


def measure(n_items: int, oracle: bool, repeats: int, min_seconds: float) -> dict[str, float]:
    """Steps per second of one configuration (median of ``repeats``)."""
    env = gym.make("RecEnv-v0", n_items=n_items, compute_oracle_info=oracle)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, n_items, size=4096)

    def run(steps: int) -> None:
        for action in actions[:steps]:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    run(200)  # warm-up
    chunk = 4096 if n_items <= 10_000 else 256
    samples = [rate(run, chunk, min_seconds) for _ in range(repeats)]
    env.close()
    return summarize(samples)


def main() -> None:
    """Runs the benchmark and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="catalog sizes"
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.tiny:
        args.items, args.repeats, args.min_seconds = [50], 1, 0.01
    rows, results = [], []
    for n_items in args.items:
        for oracle in (True, False):
            stats = measure(n_items, oracle, args.repeats, args.min_seconds)
            results.append({"n_items": n_items, "compute_oracle_info": oracle, **stats})
            rows.append(
                [
                    f"{n_items:,}",
                    "on (default)" if oracle else "off",
                    fmt(stats["median"]),
                    f"{fmt(stats['min'])} - {fmt(stats['max'])}",
                ]
            )
    payload: dict = {"benchmark": "single env steps/s", "results": results}
    report(
        "Single env: steps/s through gym.make('RecEnv-v0')",
        ["items N", "oracle info", "median steps/s", f"range ({args.repeats} repeats)"],
        rows,
        payload,
    )
    for result in results:
        if result["n_items"] == 1_000:
            ratio = result["median"] / TARGET_STEPS_PER_SECOND
            state = "on" if result["compute_oracle_info"] else "off"
            status = "met" if ratio >= 1 else "MISSED"
            print(
                f"target {TARGET_STEPS_PER_SECOND:,} steps/s at 1k items, oracle info {state}: "
                f"{status} ({ratio:.2f}x)"
            )
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
