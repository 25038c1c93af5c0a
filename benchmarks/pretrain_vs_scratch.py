"""Does a pretrained backbone make PPO learn faster on ``RecEnv-MovieLens-v0``?

1. Pretrains the transformer backbone on the log's training window
   (:func:`agents.pretrain.pretrain`, the code behind ``train.py --pretrain``), unless
   ``--backbone`` names one already written.
2. Trains PPO with the transformer policy for the same budget and seeds under three starts:
   ``scratch`` (random initialisation), ``backbone`` (``--init-from`` with
   ``--no-init-head``: the features extractor only) and ``backbone+head`` (``--init-from``:
   extractor and scoring head), through :func:`agents.runner.train` (what ``train.py``
   runs), one torch thread per run.
3. Reads ``rollout/ep_rew_mean`` (mean return of the last 100 training episodes) over env
   steps from each run's TensorBoard events; reports the env steps each run needs to first
   reach ``--threshold`` (a fixed return level; "not reached" is reported as such), the
   final level, and the random and popularity baselines' mean returns for reference.
4. Writes ``pretrain_vs_scratch.png`` (mean over seeds, min-max band) and
   ``pretrain_vs_scratch.json`` into ``--output``.

Usage (about 10 minutes on 2 otherwise idle cores)::

    python benchmarks/pretrain_vs_scratch.py --output results/pretrain_vs_scratch
    python benchmarks/pretrain_vs_scratch.py --tiny --data DIR --output OUT   # smoke test

``--data`` defaults to ``$REC_GYM_MOVIELENS`` or ``<repo>/../shared/data/ml-100k``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from bench_common import machine_info
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import rec_gym  # noqa: F401  (registers the ids)
from agents.plots import read_scalars
from agents.pretrain import PretrainConfig, pretrain
from agents.runner import TrainConfig, parse_env_kwargs, train

ROOT = Path(__file__).resolve().parent.parent
ENV_ID = "RecEnv-MovieLens-v0"
TAG = "rollout/ep_rew_mean"
#: The three starts: name -> (load the backbone, load the head too).
CONDITIONS = {
    "scratch": (False, False),
    "backbone": (True, False),
    "backbone+head": (True, True),
}
#: Tiny budgets of the smoke test (``--tiny``).
TINY_HYPERPARAMS = {
    "default": {
        "n_envs": 2,
        "n_steps": 64,
        "batch_size": 64,
        "n_epochs": 1,
        "transformer_policy": {"hidden_dim": 16, "n_layers": 1, "n_heads": 2},
    }
}


def default_data() -> Path:
    """``$REC_GYM_MOVIELENS`` or the shared ML-100K folder beside the repository."""
    return Path(os.environ.get("REC_GYM_MOVIELENS", ROOT.parent / "shared" / "data" / "ml-100k"))


def steps_to_threshold(steps: list[int], values: list[float], threshold: float) -> int | None:
    """First logged step whose value is at least ``threshold`` (None when never).

    Example:
        >>> steps_to_threshold([100, 200, 300], [1.0, 5.0, 9.0], 5.0)
        200
    """
    for step, value in zip(steps, values, strict=True):
        if value >= threshold:
            return int(step)
    return None


def baseline_returns(env_kwargs: dict[str, Any], episodes: int) -> dict[str, float]:
    """Mean return of random and popularity over ``episodes`` seeded users."""
    import gymnasium as gym

    from agents.baselines import make_baseline
    from agents.evaluation import evaluate

    def factory() -> gym.Env[Any, Any]:
        return gym.make(ENV_ID, **env_kwargs)

    out = {}
    for name in ("random", "popularity"):
        result = evaluate(factory, make_baseline(name, seed=1_000_000), episodes, 1_000_000)
        out[name] = float(result.metrics["return"].mean)
    return out


def plot(
    path: Path,
    curves: dict[str, dict[int, tuple[list[int], list[float]]]],
    threshold: float,
    baselines: dict[str, float],
    title: str,
) -> dict[str, dict[str, list[float]]]:
    """Mean over seeds with a min-max band per condition; returns the drawn series."""
    fig = Figure(figsize=(7.5, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    drawn: dict[str, dict[str, list[float]]] = {}
    for name, runs in curves.items():
        length = min(len(steps) for steps, _ in runs.values())
        if length == 0:
            continue
        steps = np.asarray(next(iter(runs.values()))[0][:length])
        values = np.asarray([v[:length] for _, v in runs.values()])  # [seeds, T]
        mean = values.mean(axis=0)
        ax.plot(steps, mean, label=f"{name} (mean of {values.shape[0]} seeds)")
        ax.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.2)
        drawn[name] = {"steps": steps.tolist(), "mean": mean.tolist()}
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1, label="threshold")
    for (name, value), style in zip(baselines.items(), (":", "-."), strict=False):
        ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=f"{name} policy")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("ep_rew_mean (last 100 training episodes)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return drawn


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="MovieLens folder")
    parser.add_argument("--output", type=Path, required=True, help="folder for PNG and JSON")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="run seeds")
    parser.add_argument("--timesteps", type=int, default=32_768, help="env steps per run")
    parser.add_argument("--threshold", type=float, default=20.0, help="return level to reach")
    parser.add_argument("--pretrain-epochs", type=int, default=5, help="pretraining epochs")
    parser.add_argument("--backbone", type=Path, default=None, help="reuse this backbone .pt")
    parser.add_argument(
        "--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env keywords"
    )
    parser.add_argument("--baseline-episodes", type=int, default=100, help="0 skips baselines")
    parser.add_argument("--tiny", action="store_true", help="tiny budgets (smoke test)")
    args = parser.parse_args(argv)
    if len(args.seeds) < 3 and not args.tiny:
        parser.error("use at least 3 seeds")
    data = args.data or default_data()
    if not data.is_dir():
        parser.error(f"{data} is not a folder; pass the MovieLens folder with --data")
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # one thread per run: no oversubscription on shared cores
    hyperparams = None
    timesteps, epochs, episodes = args.timesteps, args.pretrain_epochs, args.baseline_episodes
    if args.tiny:
        hyperparams = output / "tiny_ppo.yml"
        hyperparams.write_text(yaml.safe_dump(TINY_HYPERPARAMS), encoding="utf-8")
        timesteps, epochs, episodes = 256, 1, min(episodes, 3)
    env_kwargs = {**parse_env_kwargs(args.env_kwargs), "data_dir": str(data)}
    started = time.perf_counter()

    backbone = args.backbone
    pretrain_meta: dict[str, Any] | None = None
    if backbone is None:
        backbone = output / "backbone.pt"
        pretrain_meta = pretrain(
            PretrainConfig(
                data=str(data),
                env_id=ENV_ID,
                env_kwargs={k: v for k, v in env_kwargs.items() if k != "data_dir"},
                hyperparams=str(hyperparams) if hyperparams else None,
                epochs=epochs,
                output=str(backbone),
                baselines=("popularity",),
            )
        )
    else:
        sidecar = backbone.with_name(backbone.name + ".json")
        pretrain_meta = json.loads(sidecar.read_text(encoding="utf-8"))
    pretrain_seconds = time.perf_counter() - started

    curves: dict[str, dict[int, tuple[list[int], list[float]]]] = {}
    runs: list[dict[str, Any]] = []
    for name, (init, head) in CONDITIONS.items():
        curves[name] = {}
        for seed in args.seeds:
            run_started = time.perf_counter()
            run_dir = train(
                TrainConfig(
                    env_id=ENV_ID,
                    env_kwargs=env_kwargs,
                    total_timesteps=timesteps,
                    seed=seed,
                    hyperparams=str(hyperparams) if hyperparams else None,
                    log_dir=str(output / "logs" / name.replace("+", "_")),
                    eval_episodes=0,
                    progress_bar=False,
                    init_from=str(backbone) if init else None,
                    init_head=head,
                )
            )
            steps, values = read_scalars(run_dir, (TAG,)).get(TAG, ([], []))
            curves[name][seed] = (steps, values)
            runs.append(
                {
                    "condition": name,
                    "seed": seed,
                    "run_dir": str(run_dir),
                    "seconds": time.perf_counter() - run_started,
                    "steps_to_threshold": steps_to_threshold(steps, values, args.threshold),
                    "first": values[0] if values else None,
                    "final": values[-1] if values else None,
                    "steps": steps,
                    "ep_rew_mean": values,
                }
            )

    baselines = baseline_returns(env_kwargs, episodes) if episodes > 0 else {}
    summary: dict[str, dict[str, Any]] = {}
    for name in CONDITIONS:
        mine = [r for r in runs if r["condition"] == name]
        reached = [r["steps_to_threshold"] for r in mine if r["steps_to_threshold"] is not None]
        firsts = [r["first"] for r in mine if r["first"] is not None]
        finals = [r["final"] for r in mine if r["final"] is not None]
        summary[name] = {
            "seeds": len(mine),
            "reached": len(reached),
            "mean_steps_to_threshold": float(np.mean(reached)) if reached else None,
            "steps_to_threshold": [r["steps_to_threshold"] for r in mine],
            "mean_first": float(np.mean(firsts)) if firsts else None,
            "mean_final": float(np.mean(finals)) if finals else None,
        }
    offline = (pretrain_meta or {}).get("offline", {}).get("scorers", {})
    title = (
        f"PPO transformer on {ENV_ID} ({data.name}), {len(args.seeds)} seeds, "
        f"{timesteps} steps; threshold {args.threshold}"
    )
    drawn = plot(output / "pretrain_vs_scratch.png", curves, args.threshold, baselines, title)
    payload = {
        "benchmark": "pretrain_vs_scratch",
        "command": " ".join(["pretrain_vs_scratch.py", *(sys.argv[1:] if argv is None else argv)]),
        "env_id": ENV_ID,
        "data": str(data),
        "tiny": args.tiny,
        "seeds": args.seeds,
        "timesteps": timesteps,
        "threshold": args.threshold,
        "metric": f"{TAG} (mean return of the last 100 training episodes)",
        "backbone": str(backbone),
        "pretrain_seconds": pretrain_seconds,
        "pretrain_offline": {
            name: {k: v["mean"] for k, v in result["metrics"].items()}
            for name, result in offline.items()
        },
        "baseline_returns": baselines,
        "summary": summary,
        "runs": runs,
        "plot": {"file": "pretrain_vs_scratch.png", "series": drawn},
        "total_seconds": time.perf_counter() - started,
        "machine": machine_info(),
    }
    (output / "pretrain_vs_scratch.json").write_text(json.dumps(payload, indent=2) + "\n")

    print(f"\n## PPO from scratch vs from the pretrained backbone ({ENV_ID}, {data.name})\n")
    print(f"threshold {args.threshold}; {timesteps} env steps per run; seeds {args.seeds}")
    if baselines:
        print("baselines: " + ", ".join(f"{k} {v:.2f}" for k, v in baselines.items()))
    print("\n| start | steps to threshold (per seed) | mean | first ep_rew_mean | final |")
    print("|---|---|---|---|---|")
    for name, row in summary.items():
        per_seed = ", ".join(
            "not reached" if s is None else str(s) for s in row["steps_to_threshold"]
        )
        mean = row["mean_steps_to_threshold"]
        mean_text = "n/a" if mean is None else f"{mean:.0f} ({row['reached']}/{row['seeds']})"
        first = row["mean_first"]
        final = row["mean_final"]
        print(f"| {name} | {per_seed} | {mean_text} | {_num(first)} | {_num(final)} |")
    print(
        f"\nwrote {output / 'pretrain_vs_scratch.png'} and pretrain_vs_scratch.json "
        f"({payload['total_seconds']:.0f} s)"
    )
    return 0


def _num(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
