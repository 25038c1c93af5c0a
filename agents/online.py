"""Online updates in a changing world: a deployed agent that keeps learning, vs frozen.

``python -m agents.online`` trains a PPO agent briefly on the *pre-shift* world (or loads
one from a ``train.py`` run folder), then deploys copies of it on the same live stream of
users (common random numbers: every arm's envs get the same seeds) in a world whose
population interest shifts at ``--shift-at`` live steps and whose reserved new items
enter the catalog at the same moment:

- ``ppo-frozen``: the deployed policy, never updated;
- ``ppo-online``: continued ``learn()`` in chunks on the live stream, with the original
  hyperparameters (no safeguard);
- ``ppo-online-safe``: the same with a bounded step, the safeguard: learning rate times
  ``--safe-lr-scale``, PPO clip range ``--safe-clip-range`` and early stop of the epochs at
  approximate KL ``--safe-target-kl``;
- ``linucb-frozen`` / ``linucb-online``: the LinUCB bandit baseline, warmed up on the
  pre-shift world, then frozen or still updating.

Measured per arm (TensorBoard scalars ``online/...`` in ``<out>/tb/<arm>``, a JSON and a
Markdown summary in ``<out>``): episode return and regret vs the myopic oracle over time;
the pre-shift return level; recovery time (live steps after the shift until the windowed
return is back within 5% of the pre-shift level); the final return level; forgetting (the
return on the pre-shift population after adapting, minus before); and the cold-start
exposure of the new items (share of recommendations and clicks after they enter).
Actions are sampled from the policy (``deterministic=False``) everywhere, as the online
learner collects its data that way.

Example:
    python -m agents.online --tiny --out logs/online_tiny      # smoke run, seconds
    python -m agents.online --out logs/online                  # the documented budget
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

import rec_gym  # noqa: F401 (registers the envs)
from agents.baselines import LinUCBRecommender, Observation, Recommender, unwrap_rec_env
from agents.checkpoints import atomic_write_text
from agents.evaluation import SB3Recommender, evaluate
from agents.registry import ConfigError, load_hyperparameters, policy_spec
from agents.runner import parse_env_kwargs

#: Recovery threshold: the windowed return must be back within this fraction of the
#: pre-shift level.
RECOVERY_TOLERANCE = 0.05
#: Seed of the first forgetting-evaluation episode (users never met in deployment).
EVAL_SEED = 2_000_000
ARMS = ("ppo-frozen", "ppo-online", "ppo-online-safe", "linucb-frozen", "linucb-online")


@dataclass(frozen=True)
class OnlineConfig:
    """Everything an online-update experiment needs.

    Attributes:
        out_dir: Output folder (TensorBoard logs, ``summary.json``, ``summary.md``).
        load: A ``train.py`` run folder to deploy its ``model.zip`` (None: pretrain here).
        pretrain_steps: Steps of PPO pretraining on the pre-shift world.
        deploy_steps: Live env steps per arm (all sub-envs together).
        shift_at: Live steps before the population shift (and the new items' entry).
        shift_duration: Live steps the shift takes (0: abrupt).
        shift_magnitude: Distance the population-mean interest moves.
        n_new_items: Reserved new items entering at the shift.
        purchase_delay: Steps from a purchase to its reward.
        n_envs: Sub-envs of the live stream (each a single env, one world clock each).
        chunk_steps: Live steps per ``learn()`` call of the online arms.
        window: Live steps per point of the over-time curves.
        safe_lr_scale: Learning-rate factor of the safeguarded arm.
        safe_clip_range: PPO clip range of the safeguarded arm.
        safe_target_kl: Approximate-KL early stop of the safeguarded arm.
        linucb_warmup: LinUCB steps on the pre-shift world before deployment.
        eval_episodes: Episodes of the forgetting evaluation (pre-shift population).
        policy: ``transformer`` or ``mlp`` (when pretraining here).
        env_kwargs: Extra world overrides (``RecEnvConfig`` fields).
        arms: Arms to run (a subset of :data:`ARMS`).
        seed: Seed of everything.
    """

    out_dir: str = "logs/online"
    load: str | None = None
    pretrain_steps: int = 40_000
    deploy_steps: int = 60_000
    shift_at: int = 12_000
    shift_duration: int = 0
    shift_magnitude: float = 3.0
    n_new_items: int = 10
    purchase_delay: int = 0
    n_envs: int = 8
    chunk_steps: int = 2048
    window: int = 4096
    safe_lr_scale: float = 0.3
    safe_clip_range: float = 0.1
    safe_target_kl: float = 0.02
    linucb_warmup: int = 5_000
    eval_episodes: int = 200
    policy: str = "mlp"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    arms: tuple[str, ...] = ARMS
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("pretrain_steps", "deploy_steps", "n_envs", "chunk_steps", "window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("linucb_warmup", "eval_episodes", "shift_duration", "n_new_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if not 0 < self.shift_at < self.deploy_steps:
            raise ConfigError(
                f"shift_at must be in (0, deploy_steps={self.deploy_steps}), got {self.shift_at}"
            )
        if not 0.0 < self.safe_lr_scale <= 1.0:
            raise ConfigError(f"safe_lr_scale must be in (0, 1], got {self.safe_lr_scale}")
        if not 0.0 < self.safe_clip_range <= 1.0:
            raise ConfigError(f"safe_clip_range must be in (0, 1], got {self.safe_clip_range}")
        if not self.safe_target_kl > 0.0:
            raise ConfigError(f"safe_target_kl must be > 0, got {self.safe_target_kl}")
        unknown = [arm for arm in self.arms if arm not in ARMS]
        if unknown or not self.arms:
            raise ConfigError(
                f"arms must be a non-empty subset of {', '.join(ARMS)}, got {unknown}"
            )
        if self.policy not in ("mlp", "transformer"):
            raise ConfigError(f"policy must be 'mlp' or 'transformer', got {self.policy!r}")

    @classmethod
    def tiny(cls, out_dir: str, **changes: Any) -> OnlineConfig:
        """A smoke-test budget (seconds on 2 CPU cores)."""
        values: dict[str, Any] = {
            "out_dir": out_dir,
            "pretrain_steps": 512,
            "deploy_steps": 1536,
            "shift_at": 512,
            "n_envs": 2,
            "chunk_steps": 256,
            "window": 256,
            "linucb_warmup": 100,
            "eval_episodes": 3,
            "env_kwargs": {"n_items": 30},
        }
        return cls(**(values | changes))

    # -- the worlds -------------------------------------------------------------------

    def world_kwargs(self, shifted: bool, new_items: bool) -> dict[str, Any]:
        """Env keywords of one world: live (shift + new items at the shift) or pre-shift."""
        per_env = max(1, self.shift_at // self.n_envs)  # each sub-env has its own clock
        kwargs: dict[str, Any] = {
            "max_episode_steps": 50,
            "session_limit": 50,
            "n_new_items": self.n_new_items,
            "new_items_step": (per_env if shifted else -1) if not new_items else 0,
            "purchase_delay": self.purchase_delay,
        }
        if shifted:
            kwargs |= {
                "shift_step": per_env,
                "shift_duration": self.shift_duration // self.n_envs,
                "shift_magnitude": self.shift_magnitude,
                "shift_current_user": True,
            }
        return kwargs | self.env_kwargs


def make_stream(config: OnlineConfig, world: dict[str, Any], seed: int) -> VecEnv:
    """A ``DummyVecEnv`` of single envs (each with its own world clock), seeded."""

    def make_one() -> gym.Env[Any, Any]:
        return Monitor(gym.make("RecEnv-v0", **world))

    venv = DummyVecEnv([make_one] * config.n_envs)
    venv.seed(seed)
    return venv


# -- measuring the stream ----------------------------------------------------------------


@dataclass
class StreamLog:
    """What one arm met on the live stream.

    Attributes:
        episodes: ``(live step at the episode's end, return)`` of every finished episode.
        points: One dict per window: ``step``, ``return`` (mean over episodes ending in
            it), ``regret`` (mean per step), ``new_item_share`` and ``new_item_ctr``.
    """

    episodes: list[tuple[int, float]] = field(default_factory=list)
    points: list[dict[str, float]] = field(default_factory=list)


class StreamRecorder:
    """Accumulates a live stream step by step and logs windows to TensorBoard.

    Args:
        n_envs: Sub-envs per step.
        window: Live steps per logged point.
        new_items: 0-based indices of the reserved new items.
        logger: SB3 logger (``online/...`` scalars), or None.
    """

    def __init__(
        self, n_envs: int, window: int, new_items: np.ndarray, logger: Logger | None
    ) -> None:
        self.n_envs = n_envs
        self.window = window
        self.new_items = set(new_items.tolist())
        self.logger = logger
        self.log = StreamLog()
        self.steps = 0
        self._reset_window()

    def _reset_window(self) -> None:
        self._returns: list[float] = []
        self._regret = 0.0
        self._count = 0
        self._new_shown = 0
        self._new_clicks = 0
        self._active_steps = 0

    def add(self, actions: np.ndarray, infos: Sequence[dict[str, Any]]) -> None:
        """Records one vectorised step (actions and the infos it returned)."""
        self.steps += self.n_envs
        for action, info in zip(np.asarray(actions).reshape(-1).tolist(), infos, strict=True):
            self._regret += float(info.get("regret", math.nan))
            self._count += 1
            if info.get("new_items_active", False):
                self._active_steps += 1
                if action in self.new_items:
                    self._new_shown += 1
                    self._new_clicks += int(info["click"])
            if "episode" in info:
                value = float(info["episode"]["r"])
                self._returns.append(value)
                self.log.episodes.append((self.steps, value))
        if self.steps % self.window < self.n_envs:
            self.flush()

    def flush(self) -> None:
        """Closes the current window (a point of the curves)."""
        if not self._count:
            return
        point = {
            "step": float(self.steps),
            "return": float(np.mean(self._returns)) if self._returns else math.nan,
            "regret": self._regret / self._count,
            "new_item_share": self._new_shown / max(self._active_steps, 1),
            "new_item_ctr": self._new_clicks / max(self._new_shown, 1),
        }
        self.log.points.append(point)
        if self.logger is not None:
            for key, value in point.items():
                if key != "step" and not math.isnan(value):
                    self.logger.record(f"online/{key}", value)
            self.logger.dump(self.steps)
        self._reset_window()


class _RecordCallback(BaseCallback):
    def __init__(self, recorder: StreamRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def _on_step(self) -> bool:
        self.recorder.add(self.locals["actions"], self.locals["infos"])
        return True


class _NewItemInfo(gym.Wrapper[Any, Any, Any, Any]):
    """Adds ``new_items_active`` (were the new items in the catalog at this step) to info."""

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        active = bool(unwrap_rec_env(self.env).new_items_active)
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["new_items_active"] = active and unwrap_rec_env(self.env).new_items.size > 0
        return obs, reward, terminated, truncated, info


def _stream(config: OnlineConfig, seed: int) -> VecEnv:
    world = config.world_kwargs(shifted=True, new_items=False)

    def make_one() -> gym.Env[Any, Any]:
        return Monitor(_NewItemInfo(gym.make("RecEnv-v0", **world)))

    venv = DummyVecEnv([make_one] * config.n_envs)
    venv.seed(seed)
    return venv


# -- measures ------------------------------------------------------------------------------


def level(episodes: list[tuple[int, float]], start: float, end: float) -> float:
    """Mean return of the episodes that ended in ``(start, end]`` (NaN if none)."""
    values = [value for step, value in episodes if start < step <= end]
    return float(np.mean(values)) if values else math.nan


def recovery_time(
    points: list[dict[str, float]],
    shift_at: int,
    pre_level: float,
    tolerance: float = RECOVERY_TOLERANCE,
) -> tuple[bool, float | None]:
    """Whether the return dipped after the shift, and the live steps until it recovered.

    A window is *within* when its mean return is at least ``(1 - tolerance) * pre_level``.
    Recovery is the end of the first post-shift window from which on the return stays
    within on average (that window and all later ones together), after the dip: the
    first window that is not within. Without a dip the recovery time is 0.

    Returns:
        ``(dipped, steps after the shift or None if it never recovered)``.
    """
    threshold = (1.0 - tolerance) * pre_level
    after = [p for p in points if p["step"] > shift_at and not math.isnan(p["return"])]
    dip = next((i for i, p in enumerate(after) if p["return"] < threshold), None)
    if dip is None:
        return False, 0.0
    for i in range(dip + 1, len(after)):
        tail = [p["return"] for p in after[i:]]
        if after[i]["return"] >= threshold and float(np.mean(tail)) >= threshold:
            return True, after[i]["step"] - shift_at
    return True, None


# -- the arms ---------------------------------------------------------------------------


class _Frozen(Recommender):
    """A recommender that acts but never learns (``observe`` is a no-op)."""

    def __init__(self, inner: Recommender, name: str) -> None:
        self.inner = inner
        self.name = name

    def begin_episode(self, env: Any) -> None:
        self.inner.begin_episode(env)

    def act(self, observation: Observation, env: Any) -> Any:
        return self.inner.act(observation, env)


def _run_recommender(
    recommender: Recommender, venv: VecEnv, steps: int, recorder: StreamRecorder
) -> None:
    """Plays a :class:`Recommender` on every sub-env of the stream (it learns if it does)."""
    envs = [unwrap_rec_env(env) for env in venv.envs]  # type: ignore[attr-defined]
    obs = venv.reset()
    for env in envs:
        recommender.begin_episode(env)
    while recorder.steps < steps:
        rows = [{key: value[i] for key, value in obs.items()} for i in range(venv.num_envs)]  # type: ignore[union-attr]
        actions = np.array([recommender.act(row, env) for row, env in zip(rows, envs, strict=True)])
        obs, rewards, dones, infos = venv.step(actions)
        for i, env in enumerate(envs):
            next_row = (
                infos[i]["terminal_observation"]
                if dones[i]
                else {
                    key: value[i]
                    for key, value in obs.items()  # type: ignore[union-attr]
                }
            )
            recommender.observe(rows[i], int(actions[i]), float(rewards[i]), infos[i], next_row)
            if dones[i]:
                recommender.begin_episode(env)
        recorder.add(actions, infos)
    recorder.flush()


def _run_frozen_ppo(model: PPO, venv: VecEnv, steps: int, recorder: StreamRecorder) -> None:
    obs = venv.reset()
    while recorder.steps < steps:
        actions, _ = model.predict(obs, deterministic=False)  # type: ignore[arg-type]
        obs, _, _, infos = venv.step(actions)
        recorder.add(actions, infos)
    recorder.flush()


def _run_online_ppo(model: PPO, steps: int, chunk: int, recorder: StreamRecorder) -> None:
    """Continues ``learn()`` on the model's (live) env in chunks, recording the stream."""
    callback = _RecordCallback(recorder)
    while recorder.steps < steps:
        model.learn(
            min(chunk, steps - recorder.steps), callback=callback, reset_num_timesteps=False
        )
    recorder.flush()


def _pretrain(config: OnlineConfig, out: Path) -> Path:
    """Trains PPO on the pre-shift world (new items reserved, inactive); returns model.zip."""
    path = out / "pretrained.zip"
    if config.load is not None:
        source = Path(config.load)
        source = source / "model.zip" if source.is_dir() else source
        if not source.is_file():
            raise ConfigError(f"--load {config.load}: no model.zip there; pass a train.py run")
        model = PPO.load(str(source), device="cpu")
        model.save(str(path))
        return path
    world = config.world_kwargs(shifted=False, new_items=False)
    venv = make_stream(config, world, config.seed + 10_000)
    hyper = load_hyperparameters("ppo", "RecEnv-v0")
    options = hyper.policy_options(config.policy)
    item_features = unwrap_rec_env(venv.envs[0]).simulator.catalog.public_features()  # type: ignore[attr-defined]
    policy, policy_kwargs = policy_spec("ppo", config.policy, options, item_features)
    algorithm = dict(hyper.algorithm)
    algorithm["batch_size"] = min(
        algorithm.get("batch_size", 64), algorithm.get("n_steps", 64) * config.n_envs
    )
    model = PPO(
        policy,
        venv,
        policy_kwargs=policy_kwargs,
        seed=config.seed,
        device="cpu",
        verbose=0,
        **algorithm,
    )
    model.set_logger(configure(str(out / "tb" / "pretrain"), ["tensorboard"]))
    model.learn(config.pretrain_steps)
    model.save(str(path))
    venv.close()
    return path


def _evaluate_pre_shift(config: OnlineConfig, recommender: Recommender) -> float:
    """Mean return on the pre-shift population (new items in the catalog).

    Every evaluation meets the same users and, for SB3 models, draws its actions with the
    same torch seed, so a frozen policy scores exactly the same before and after.
    """
    model = getattr(recommender, "model", None)
    if model is not None:
        model.set_random_seed(EVAL_SEED)
    world = config.world_kwargs(shifted=False, new_items=True)
    result = evaluate(
        lambda: gym.make("RecEnv-v0", **world),
        recommender,
        max(config.eval_episodes, 1),
        EVAL_SEED,
    )
    return float(result.metrics["return"].mean)


def _arm_summary(
    config: OnlineConfig, log: StreamLog, before: float, after: float
) -> dict[str, Any]:
    shift = config.shift_at
    pre_level = level(log.episodes, max(0.0, shift - 0.75 * shift), shift)  # last 3/4
    final_start = shift + 0.75 * (config.deploy_steps - shift)
    final = level(log.episodes, final_start, config.deploy_steps)
    dipped, recovery = recovery_time(log.points, shift, pre_level)
    post = [p for p in log.points if p["step"] > shift]
    pre = [p for p in log.points if p["step"] <= shift]
    return {
        "pre_shift_return": pre_level,
        "final_return": final,
        "final_vs_pre": final / pre_level if pre_level else math.nan,
        "dipped": dipped,
        "recovery_steps": recovery,
        "recovered": recovery is not None,
        "regret_pre": float(np.mean([p["regret"] for p in pre])) if pre else math.nan,
        "regret_final": float(np.mean([p["regret"] for p in post[-max(1, len(post) // 4) :]]))
        if post
        else math.nan,
        "pre_shift_eval_before": before,
        "pre_shift_eval_after": after,
        "forgetting": before - after,
        "new_item_share": float(np.mean([p["new_item_share"] for p in post])) if post else 0.0,
        "new_item_ctr": float(np.mean([p["new_item_ctr"] for p in post])) if post else 0.0,
        "curve": log.points,
    }


def run(config: OnlineConfig, say: Callable[[str], Any] = print) -> dict[str, Any]:
    """Runs the experiment; writes ``summary.json`` and ``summary.md`` in ``out_dir``.

    Returns:
        The summary (per arm: the measures of :func:`_arm_summary`).
    """
    import torch

    torch.set_num_threads(1)  # small networks: threads only contend on a busy machine
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    say(f"pretraining PPO ({config.policy}) for {config.pretrain_steps} steps (pre-shift world)")
    pretrained = _pretrain(config, out)
    base = PPO.load(str(pretrained), device="cpu")
    before_ppo = _evaluate_pre_shift(config, SB3Recommender(base, deterministic=False))
    hyper = base.learning_rate if isinstance(base.learning_rate, float) else 7e-4
    arms: dict[str, dict[str, Any]] = {}
    linucb: LinUCBRecommender | None = None
    before_linucb = math.nan
    if any(arm.startswith("linucb") for arm in config.arms):
        linucb = LinUCBRecommender(np.random.default_rng(config.seed))
        warm = make_stream(config, config.world_kwargs(False, False), config.seed + 20_000)
        if config.linucb_warmup:
            _run_recommender(
                linucb,
                warm,
                config.linucb_warmup,
                StreamRecorder(config.n_envs, 10**9, np.zeros(0, dtype=np.int64), None),
            )
        warm.close()
        before_linucb = _evaluate_pre_shift(config, _Frozen(copy.deepcopy(linucb), "linucb"))
    for arm in config.arms:
        arm_start = time.perf_counter()
        venv = _stream(config, config.seed)
        new_items = unwrap_rec_env(venv.envs[0]).new_items  # type: ignore[attr-defined]
        logger = configure(str(out / "tb" / arm), ["tensorboard"])
        recorder = StreamRecorder(config.n_envs, config.window, new_items, logger)
        if arm.startswith("ppo"):
            safe: dict[str, Any] = {}
            if arm == "ppo-online-safe":
                safe = {
                    "learning_rate": hyper * config.safe_lr_scale,
                    "clip_range": config.safe_clip_range,
                    "target_kl": config.safe_target_kl,
                }
            model = PPO.load(str(pretrained), env=venv, device="cpu", **safe)
            model.set_logger(configure(str(out / "tb" / arm / "ppo"), ["tensorboard"]))
            model.set_random_seed(config.seed)  # the same action draws in every arm
            if arm == "ppo-frozen":
                _run_frozen_ppo(model, venv, config.deploy_steps, recorder)
            else:
                _run_online_ppo(model, config.deploy_steps, config.chunk_steps, recorder)
            after = _evaluate_pre_shift(config, SB3Recommender(model, deterministic=False))
            before = before_ppo
        else:
            assert linucb is not None
            learner = copy.deepcopy(linucb)
            player = learner if arm == "linucb-online" else _Frozen(learner, arm)
            _run_recommender(player, venv, config.deploy_steps, recorder)
            after = _evaluate_pre_shift(config, _Frozen(copy.deepcopy(learner), arm))
            before = before_linucb
        venv.close()
        logger.close()
        arms[arm] = _arm_summary(config, recorder.log, before, after)
        arms[arm]["wall_time_s"] = time.perf_counter() - arm_start
        row = arms[arm]
        say(
            f"{arm:<16} pre {row['pre_shift_return']:6.2f}  final {row['final_return']:6.2f}  "
            f"recovery {row['recovery_steps']}  forgetting {row['forgetting']:+.2f}  "
            f"new-item share {row['new_item_share']:.3f}"
        )
    summary = {
        "config": dataclasses.asdict(config),
        "arms": arms,
        "wall_time_s": time.perf_counter() - started,
    }
    atomic_write_text(out / "summary.json", json.dumps(_plain(summary), indent=2) + "\n")
    atomic_write_text(out / "summary.md", markdown_summary(summary))
    say(f"summary: {out / 'summary.md'}; TensorBoard: tensorboard --logdir {out / 'tb'}")
    return summary


def markdown_summary(summary: dict[str, Any]) -> str:
    """The summary as a Markdown report."""
    config = summary["config"]
    lines = [
        "# Online updates after an interest shift",
        "",
        f"Live stream: {config['deploy_steps']} steps ({config['n_envs']} envs), shift of "
        f"magnitude {config['shift_magnitude']} after {config['shift_at']} steps "
        f"(duration {config['shift_duration']}), {config['n_new_items']} new items entering "
        f"then, purchase delay {config['purchase_delay']}. Pretraining: "
        f"{config['pretrain_steps']} steps. Wall time {summary['wall_time_s']:.0f} s.",
        "",
        "Recovery: live steps after the shift until the windowed return is back within "
        f"{RECOVERY_TOLERANCE:.0%} of the pre-shift level and stays there on average "
        "('never': not within the run; 0: no dip). Forgetting: pre-shift-population "
        "return before deployment minus after (positive = forgot).",
        "",
        "| arm | pre-shift return | final return | final / pre | recovery (steps) | "
        "regret pre | regret final | forgetting | new-item share | new-item CTR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, row in summary["arms"].items():
        recovery = row["recovery_steps"]
        recovery_text = "never" if recovery is None else f"{recovery:.0f}"
        lines.append(
            f"| {arm} | {row['pre_shift_return']:.2f} | {row['final_return']:.2f} | "
            f"{row['final_vs_pre']:.2f} | {recovery_text} | {row['regret_pre']:.3f} | "
            f"{row['regret_final']:.3f} | {row['forgetting']:+.2f} | "
            f"{row['new_item_share']:.3f} | {row['new_item_ctr']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


# -- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m agents.online`` argument parser."""
    defaults = OnlineConfig()
    parser = argparse.ArgumentParser(
        prog="python -m agents.online",
        description="Deploy a PPO agent (and LinUCB) in a world whose interests shift; "
        "compare frozen vs online-updated copies, with and without a safeguard.",
    )
    add = parser.add_argument
    add("--out", default=defaults.out_dir, help="output folder (default: %(default)s)")
    add("--load", default=None, metavar="RUN_DIR", help="deploy a train.py run's model.zip")
    add("--tiny", action="store_true", help="smoke-test budget (seconds)")
    for name in (
        "pretrain_steps",
        "deploy_steps",
        "shift_at",
        "shift_duration",
        "n_new_items",
        "purchase_delay",
        "n_envs",
        "chunk_steps",
        "window",
        "linucb_warmup",
        "eval_episodes",
        "seed",
    ):
        add(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            help=f"default: {getattr(defaults, name)}",
        )
    for name in ("shift_magnitude", "safe_lr_scale", "safe_clip_range", "safe_target_kl"):
        add(
            f"--{name.replace('_', '-')}",
            type=float,
            default=None,
            help=f"default: {getattr(defaults, name)}",
        )
    add("--policy", default=None, help=f"mlp or transformer (default: {defaults.policy})")
    add("--arms", nargs="+", default=None, help=f"subset of: {' '.join(ARMS)}")
    add("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="world overrides")
    return parser


def config_from_args(args: argparse.Namespace) -> OnlineConfig:
    """An :class:`OnlineConfig` from parsed arguments (``--tiny`` sets the small budget)."""
    changes: dict[str, Any] = {}
    for field_ in dataclasses.fields(OnlineConfig):
        value = getattr(args, field_.name, None)
        if value is not None and field_.name not in ("out_dir", "load", "env_kwargs", "arms"):
            changes[field_.name] = value
    if args.arms is not None:
        changes["arms"] = tuple(args.arms)
    if args.load is not None:
        changes["load"] = args.load
    env_kwargs = parse_env_kwargs(args.env_kwargs)
    if args.tiny:
        tiny = OnlineConfig.tiny(args.out)
        changes["env_kwargs"] = tiny.env_kwargs | env_kwargs
        return dataclasses.replace(tiny, **changes)
    changes["env_kwargs"] = env_kwargs
    return OnlineConfig(out_dir=args.out, **changes)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        config = config_from_args(build_parser().parse_args(argv))
        run(config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
