"""Soak test: a million env steps with flat memory (issue 7).

Steps ``gym.make("RecEnv-v0")`` (default config, oracle info on, resets included) with random
actions for ``--steps`` steps and samples the process's resident memory (RSS, from
``/proc/self/statm``) along the way. A leak shows as RSS growing with steps; the report gives
RSS at the start (after a warm-up), at the end, and its maximum.

Usage:
    python benchmarks/bench_soak.py                 # 1,000,000 steps
    python benchmarks/bench_soak.py --tiny          # smoke test
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from bench_common import fmt, report, write_json

import rec_gym  # noqa: F401

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mib() -> float:
    """Resident set size of this process in MiB."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * PAGE / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Runs the soak and prints a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=10, help="RSS samples along the run")
    parser.add_argument("--tiny", action="store_true", help="a few thousand steps (smoke test)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    steps = 5_000 if args.tiny else args.steps
    env = gym.make("RecEnv-v0")
    rng = np.random.default_rng(0)
    actions = rng.integers(0, env.action_space.n, size=100_000)  # type: ignore[attr-defined]
    env.reset(seed=0)
    for i in range(min(steps // 10, 20_000)):  # warm-up: allocator and caches settle
        _, _, terminated, truncated, _ = env.step(int(actions[i % len(actions)]))
        if terminated or truncated:
            env.reset()
    start_rss = rss_mib()
    samples: list[tuple[int, float]] = [(0, start_rss)]
    every = max(1, steps // args.samples)
    episodes = 0
    started = time.perf_counter()
    for step in range(1, steps + 1):
        _, _, terminated, truncated, _ = env.step(int(actions[step % len(actions)]))
        if terminated or truncated:
            env.reset()
            episodes += 1
        if step % every == 0:
            samples.append((step, rss_mib()))
    elapsed = time.perf_counter() - started
    end_rss = rss_mib()
    peak = max(value for _, value in samples)
    extra: dict[str, Any] = {
        "steps": steps,
        "episodes": episodes,
        "seconds": elapsed,
        "rss_mib": {"start": start_rss, "end": end_rss, "max": peak},
        "samples": samples,
    }
    report(
        f"Soak: {fmt(steps)} steps of RecEnv-v0",
        ["steps", "episodes", "seconds", "RSS start (MiB)", "RSS end (MiB)", "RSS max (MiB)"],
        [
            [
                fmt(steps),
                fmt(episodes),
                f"{elapsed:.0f}",
                f"{start_rss:.1f}",
                f"{end_rss:.1f}",
                f"{peak:.1f}",
            ]
        ],  # fmt: skip
        extra,
    )
    print("RSS along the run (step: MiB): " + ", ".join(f"{s}: {v:.1f}" for s, v in samples))
    write_json(args.json, extra)


if __name__ == "__main__":
    main()
