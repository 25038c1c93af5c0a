"""Shared helpers of the benchmark scripts: machine description, timing and reporting.

Benchmarks are scripts, not tests: run them by hand (see ``BENCHMARKS.md``); the test suite
only runs each with ``--tiny`` so they keep working.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine_info() -> dict[str, Any]:
    """Where and with what a benchmark ran: CPU, core count, date, versions, git commit."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("rec-gym", "numpy", "gymnasium", "stable-baselines3", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": _git_commit(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+local changes" if dirty else "")


def rate(run: Callable[[int], None], chunk: int, min_seconds: float) -> float:
    """Events per second of ``run(chunk)`` (which does ``chunk`` events), timed over at least
    ``min_seconds`` (whole chunks)."""
    done = 0
    start = time.perf_counter()
    while True:
        run(chunk)
        done += chunk
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of repeated measurements."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "repeats": len(samples),
    }


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tiny``, ``--repeats``, ``--min-seconds`` and ``--json``."""
    parser.add_argument(
        "--tiny", action="store_true", help="tiny sizes, one short repeat (smoke test)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument(
        "--min-seconds", type=float, default=1.0, help="minimum duration of each repeat"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")


def report(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], extra: dict) -> None:
    """Prints the machine, then a Markdown table."""
    info = machine_info()
    print(f"## {title}\n")
    print(f"- date: {info['date']}; commit {info['commit']}")
    print(f"- machine: {info['cpu']}, {info['cores']} cores; {info['platform']}")
    print(f"- load average (1 min) when the table was printed: {info['load_average_1min']}")
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    print(f"- python {info['python']}; {versions}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print()
    extra["machine"] = info


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    """Writes the results as JSON when a path was given."""
    if path is not None:
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def fmt(value: float) -> str:
    """A rate with thousands separators."""
    return f"{value:,.0f}"
