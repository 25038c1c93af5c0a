"""The training runner behind ``train.py``: validate, build, train, checkpoint, compare.

Order of work (nothing is created before every input is validated):

1. parse and validate the arguments, the env id and keywords, algorithm/policy/env
   compatibility, the hyperparameter file and the log folder;
2. create ``logs/<algo>/<env_id>_<N>/`` with the resolved ``config.yml``;
3. train with TensorBoard logging, periodic checkpoints and clean stops on SIGINT/SIGTERM
   (a final checkpoint is written, then the process exits with status 130/143);
4. save the final model and compare it with random, popularity and the myopic oracle on
   the same seeded users.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

import rec_gym
from agents.callbacks import CheckpointCallback, HParamsCallback, RecMetricsCallback, StopOnSignal
from agents.checkpoints import (
    CheckpointError,
    atomic_write_text,
    latest_valid_checkpoint,
    save_checkpoint,
)
from agents.registry import (
    ConfigError,
    Hyperparameters,
    algorithm_class,
    check_compatible,
    check_policy,
    load_hyperparameters,
    policy_spec,
)
from rec_gym.config import RecEnvConfig

#: Default budget of ``python train.py`` (fits the 10-minute promise on 2 CPU cores).
DEFAULT_TIMESTEPS = 200_000
CONFIG_FILE = "config.yml"
EXIT_CONFIG = 2
#: Largest seed SB3 and numpy accept (sub-env seeds are ``seed + i``).
MAX_SEED = 2**32 - 1 - 4096
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (validated by :func:`validate`).

    Attributes:
        algo: ``ppo``, ``dqn`` or ``maskable-ppo``.
        policy: ``transformer`` or ``mlp``.
        env_id: A registered Gymnasium id.
        env_kwargs: Keyword overrides for ``gym.make``.
        total_timesteps: Environment steps to train for.
        seed: Seed of the run; sub-env i is seeded ``seed + i``.
        n_envs: Parallel envs (None: from the hyperparameters).
        hyperparams: A hyperparameter YAML (None: the packaged one).
        log_dir: Root of the run folders.
        checkpoint_interval: Steps between checkpoints (None: a fifth of the budget).
        metrics_interval: Steps between ``rec/`` logs (None: a fiftieth of the budget).
        eval_episodes: Episodes of the final comparison (0 skips it).
        progress_bar: Show a progress bar.
        save_replay_buffer: Also checkpoint DQN's replay buffer.
        device: Torch device.
        init_from: A pretrained backbone (``agents.pretrain``) to start the transformer
            policy from (None: random initialisation).
        init_head: Also load the backbone's pretrained scoring head into the action head.
    """

    algo: str = "ppo"
    policy: str = "transformer"
    env_id: str = "RecEnv-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    total_timesteps: int = DEFAULT_TIMESTEPS
    seed: int = 0
    n_envs: int | None = None
    hyperparams: str | None = None
    log_dir: str = "logs"
    checkpoint_interval: int | None = None
    metrics_interval: int | None = None
    eval_episodes: int = 200
    progress_bar: bool = True
    save_replay_buffer: bool = False
    device: str = "cpu"
    init_from: str | None = None
    init_head: bool = True


@dataclass(frozen=True)
class Plan:
    """A validated run: the config, its hyperparameters and facts about the env."""

    config: TrainConfig
    hyperparameters: Hyperparameters
    n_envs: int
    env_config: dict[str, Any]
    item_features: np.ndarray
    n_items: int


# -- validation ---------------------------------------------------------------------------


def check_env_id(env_id: str) -> None:
    """Fails with a close-match suggestion when ``env_id`` is not registered."""
    if env_id in gym.registry:
        return
    ids = sorted(gym.registry)
    match = difflib.get_close_matches(env_id, ids, n=1, cutoff=0.5)
    hint = (
        f"; did you mean {match[0]!r}?" if match else f"; rec-gym ids: {rec_gym.registered_ids()}"
    )
    raise ConfigError(f"unknown env id {env_id!r}{hint}")


def check_device(device: str) -> None:
    """Fails unless ``device`` names a torch device that exists on this machine."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"--device {device!r} is not a torch device; use cpu or cuda") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA GPU is available here; use --device cpu")
    if parsed.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {device!r} is not supported; use cpu or cuda")


def _positive_int(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def check_log_dir(log_dir: Path) -> None:
    """Fails unless ``log_dir`` can be created and written to."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        probe = log_dir / f".write-test-{os.getpid()}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"log directory {log_dir} is not writable ({error.strerror or error}); "
            "pass a writable folder with --log-dir"
        ) from None


def validate(config: TrainConfig) -> Plan:
    """Checks every input before anything is created.

    Raises:
        ConfigError: With one line naming the problem and the fix.
    """
    algo = config.algo.lower()
    algorithm_class(algo)
    check_policy(config.policy)
    check_env_id(config.env_id)
    _positive_int("--timesteps", config.total_timesteps)
    _positive_int("--n-envs", config.n_envs, allow_none=True)
    _positive_int("--checkpoint-interval", config.checkpoint_interval, allow_none=True)
    _positive_int("--metrics-interval", config.metrics_interval, allow_none=True)
    if (
        isinstance(config.seed, bool)
        or not isinstance(config.seed, int)
        or not 0 <= config.seed <= MAX_SEED
    ):
        raise ConfigError(f"--seed must be an integer in [0, {MAX_SEED}], got {config.seed!r}")
    check_device(config.device)
    if config.eval_episodes < 0:
        raise ConfigError(f"--eval-episodes must be >= 0, got {config.eval_episodes}")
    if "render_mode" in config.env_kwargs:
        raise ConfigError("--env-kwargs render_mode is not used in training; remove it")
    try:
        env = gym.make(config.env_id, **config.env_kwargs)
    except (TypeError, ValueError) as error:
        message = str(error)
        prefix = "" if config.env_id in message else f"{config.env_id}: "
        raise ConfigError(f"{prefix}{message}") from None
    try:
        check_compatible(algo, config.env_id, env.action_space)
        unwrapped = env.unwrapped
        env_config = unwrapped.config.to_dict() if hasattr(unwrapped, "config") else {}
        simulator = getattr(unwrapped, "simulator", None)
        if simulator is None:
            raise ConfigError(f"{config.env_id} is not a rec-gym env; pass a RecEnv id")
        item_features = simulator.catalog.public_features()
        n_items = simulator.catalog.n_items
        observation_space = env.observation_space
    finally:
        env.close()
    hyperparameters = load_hyperparameters(algo, config.env_id, config.hyperparams)
    policy_spec(
        algo,
        config.policy,
        hyperparameters.policy_options(config.policy),
        None,
    )
    if config.init_from is not None:
        _check_init_from(config, algo, hyperparameters, observation_space, item_features)
    check_log_dir(Path(config.log_dir))
    n_envs = config.n_envs if config.n_envs is not None else hyperparameters.n_envs
    if algo == "dqn" and n_envs > 1 and "train_freq" not in hyperparameters.algorithm:
        pass  # SB3 DQN supports several envs; train_freq counts vectorised steps.
    return Plan(
        dataclasses.replace(config, algo=algo, policy=config.policy.lower()),
        hyperparameters,
        n_envs,
        env_config,
        item_features,
        n_items,
    )


def _check_init_from(
    config: TrainConfig,
    algo: str,
    hyperparameters: Hyperparameters,
    observation_space: Any,
    item_features: np.ndarray,
) -> None:
    """Fails unless ``--init-from`` names a backbone that fits the run's policy."""
    from agents.pretrain import architecture_of, check_backbone, extractor_kwargs_for

    if config.policy.lower() != "transformer":
        raise ConfigError("--init-from needs --policy transformer (it loads its backbone)")
    assert config.init_from is not None
    options = hyperparameters.policy_options("transformer")
    check_backbone(
        Path(config.init_from),
        observation_space,
        extractor_kwargs_for(algo, options, item_features),
        architecture_of(options),
        config.env_id,
    )


# -- building -----------------------------------------------------------------------------


def next_run_dir(log_dir: Path, algo: str, env_id: str) -> Path:
    """``log_dir/<algo>/<env_id>_<N>`` with N one above the largest existing."""
    parent = log_dir / algo
    numbers = [0]
    if parent.exists():
        for child in parent.iterdir():
            prefix, _, suffix = child.name.rpartition("_")
            if prefix == env_id and suffix.isdigit():
                numbers.append(int(suffix))
    return parent / f"{env_id}_{max(numbers) + 1}"


def make_training_env(plan: Plan, seed: int) -> VecEnv:
    """The vectorised training env; sub-env i is seeded ``seed + i``.

    With several envs and an id that registers a natively batched env
    (``vector_entry_point``), all users are stepped at once in numpy through
    :class:`agents.vec_env.VectorEnvAdapter`; otherwise SB3's ``DummyVecEnv`` of single envs.
    Both give the same trajectories for the same seeds.
    """
    config = plan.config
    spec = gym.spec(config.env_id)
    venv: VecEnv
    changing_world = bool(plan.env_config) and RecEnvConfig(**plan.env_config).changing_world
    if plan.n_envs > 1 and spec.vector_entry_point is not None and not changing_world:
        from agents.vec_env import VectorEnvAdapter

        batched = gym.make_vec(
            config.env_id,
            num_envs=plan.n_envs,
            vectorization_mode="vector_entry_point",
            **config.env_kwargs,
        )
        venv = VecMonitor(VectorEnvAdapter(batched))
    else:  # single envs (also for changing-world options, which the batched env lacks)

        def make_one() -> gym.Env[Any, Any]:
            return Monitor(gym.make(config.env_id, **config.env_kwargs))

        venv = DummyVecEnv([make_one] * plan.n_envs)
    venv.seed(seed)  # sub-env i is reset with seed + i
    if plan.hyperparameters.normalize:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=False, norm_obs_keys=["context"])
    return venv


def build_model(plan: Plan, venv: VecEnv) -> BaseAlgorithm:
    """A fresh SB3 model for the plan."""
    config = plan.config
    policy, policy_kwargs = policy_spec(
        config.algo,
        config.policy,
        plan.hyperparameters.policy_options(config.policy),
        plan.item_features,
    )
    cls = algorithm_class(config.algo)
    return cls(
        policy,
        venv,
        policy_kwargs=policy_kwargs,
        seed=config.seed,
        device=config.device,
        verbose=0,
        **plan.hyperparameters.algorithm,
    )


def resolved_config(plan: Plan) -> dict[str, Any]:
    """The fully resolved run configuration saved as ``config.yml``."""
    import sb3_contrib
    import stable_baselines3
    import torch

    return {
        "train": dataclasses.asdict(plan.config) | {"n_envs": plan.n_envs},
        "env": {
            "id": plan.config.env_id,
            "kwargs": dict(plan.config.env_kwargs),
            "config": plan.env_config,
        },
        "algorithm": {"name": plan.config.algo, **plan.hyperparameters.algorithm},
        "policy": {
            "name": plan.config.policy,
            "options": plan.hyperparameters.policy_options(plan.config.policy),
        },
        "normalize": plan.hyperparameters.normalize,
        "hyperparameters_source": plan.hyperparameters.source,
        "seed": plan.config.seed,
        "versions": {
            "rec_gym": rec_gym.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "gymnasium": gym.__version__,
            "stable_baselines3": stable_baselines3.__version__,
            "sb3_contrib": sb3_contrib.__version__,
            "torch": str(torch.__version__),
        },
    }


def load_run_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """Reads a run folder's ``config.yml`` back into a :class:`TrainConfig`."""
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist; pass a folder under logs/")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        train = dict(data["train"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path} is missing or unreadable ({type(error).__name__}); "
            "pass a run folder written by train.py"
        ) from None
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in train.items() if k in names}), data


# -- training -----------------------------------------------------------------------------


class Trainer:
    """Runs (or resumes) one training run in its folder."""

    def __init__(self, plan: Plan, run_dir: Path, model: BaseAlgorithm, venv: VecEnv) -> None:
        self.plan = plan
        self.run_dir = run_dir
        self.model = model
        self.venv = venv

    def save(self, reason: str, final: bool = False) -> None:
        """Writes a checkpoint (model, optimizer, step counter, [normalisation, buffer])."""
        writers: dict[str, Any] = {"model.zip": lambda path: self.model.save(path)}
        if isinstance(self.venv, VecNormalize):
            writers["vecnormalize.pkl"] = lambda path: self.venv.save(path)
        if (
            self.plan.config.save_replay_buffer
            and isinstance(self.model, OffPolicyAlgorithm)
            and not final
        ):
            writers["replay_buffer.pkl"] = lambda path: self.model.save_replay_buffer(path)
        checkpoint = save_checkpoint(
            self.run_dir,
            int(self.model.num_timesteps),
            reason,
            writers,
            folder="." if final else None,
        )
        if not final:
            print(f"checkpoint: step {checkpoint.step} ({reason}) in {self.run_dir}", flush=True)

    def learn(self, remaining: int, first_part: bool) -> int | None:
        """Trains for ``remaining`` steps; returns the signal number if stopped by one."""
        config = self.plan.config
        # PPO collects whole rollouts, so a budget below one rollout is rounded up to it;
        # default intervals follow the steps that will really be taken.
        rollout = int(getattr(self.model, "n_steps", 1)) * self.plan.n_envs
        if not isinstance(self.model, OffPolicyAlgorithm) and rollout > 1:
            effective = rollout * math.ceil(config.total_timesteps / rollout)
        else:
            effective = config.total_timesteps
        metrics_interval = config.metrics_interval or max(self.plan.n_envs, effective // 50)
        checkpoint_interval = config.checkpoint_interval or max(rollout, effective // 5)
        stopper = StopOnSignal()
        callbacks = [
            RecMetricsCallback(metrics_interval, self.plan.n_items, self.plan.item_features),
            CheckpointCallback(checkpoint_interval, self.save),
            stopper,
        ]
        if first_part:
            callbacks.insert(0, HParamsCallback(_flat_hparams(self.plan)))
        stopper.install()
        try:
            self.model.learn(
                total_timesteps=remaining,
                callback=CallbackList(callbacks),
                progress_bar=config.progress_bar,
                reset_num_timesteps=first_part,
                tb_log_name="",
            )
        except KeyboardInterrupt:
            stopper.received = signal.SIGINT
        except Exception:
            self._save_quietly("crash")
            raise
        finally:
            stopper.uninstall()
            self.model.logger.close()
        if stopper.received is not None:
            self.save("interrupt")
            return stopper.received
        return None

    def _save_quietly(self, reason: str) -> None:
        try:
            self.save(reason)
        except Exception as error:  # the original error matters more
            print(f"warning: could not save a {reason} checkpoint: {error}", file=sys.stderr)


def _flat_hparams(plan: Plan) -> dict[str, Any]:
    flat: dict[str, Any] = {
        "algo": plan.config.algo,
        "policy": plan.config.policy,
        "env_id": plan.config.env_id,
        "seed": plan.config.seed,
        "n_envs": plan.n_envs,
        "total_timesteps": plan.config.total_timesteps,
    }
    flat.update({f"algo/{k}": v for k, v in plan.hyperparameters.algorithm.items()})
    flat.update(
        {
            f"policy/{k}": v
            for k, v in plan.hyperparameters.policy_options(plan.config.policy).items()
        }
    )
    flat.update({f"env/{k}": v for k, v in plan.config.env_kwargs.items()})
    return flat


def _attach_logger(model: BaseAlgorithm, run_dir: Path) -> None:
    model.set_logger(configure(str(run_dir), ["tensorboard"]))


def train(config: TrainConfig) -> Path:
    """Validates, then trains a new run; returns its folder.

    Raises:
        ConfigError: Invalid input (nothing has been created).
        TrainingInterrupted: Stopped by a signal after writing a final checkpoint.
    """
    plan = validate(config)
    resolved = yaml.safe_dump(resolved_config(plan), sort_keys=False)
    run_dir = next_run_dir(Path(plan.config.log_dir), plan.config.algo, plan.config.env_id)
    run_dir.mkdir(parents=True, exist_ok=False)
    atomic_write_text(run_dir / CONFIG_FILE, resolved)
    print(f"run folder: {run_dir}")
    config = plan.config
    print(
        f"training {config.algo} ({config.policy} policy) on {config.env_id} for "
        f"{config.total_timesteps} steps with {plan.n_envs} env(s), seed {config.seed}"
    )
    venv = make_training_env(plan, plan.config.seed)
    model = build_model(plan, venv)
    if config.init_from is not None:
        from agents.pretrain import init_from_backbone, read_backbone

        loaded = init_from_backbone(model, read_backbone(config.init_from), config.init_head)
        print(f"initialised {', '.join(loaded)} from {config.init_from}")
    _attach_logger(model, run_dir)
    return _run(plan, run_dir, model, venv, plan.config.total_timesteps, first_part=True)


def resume(run_dir: Path) -> Path:
    """Continues a run from its latest valid checkpoint up to its total budget."""
    config, _ = load_run_config(run_dir)
    # The checkpoint holds the weights; the backbone file was only the starting point.
    plan = validate(dataclasses.replace(config, init_from=None))
    checkpoint = latest_valid_checkpoint(run_dir, warn=lambda m: print(m, file=sys.stderr))
    model_path = checkpoint.path(run_dir, "model.zip")
    if model_path is None:
        raise CheckpointError(f"checkpoint at step {checkpoint.step} in {run_dir} has no model.zip")
    remaining = plan.config.total_timesteps - checkpoint.step
    if remaining <= 0:
        print(f"{run_dir} already reached {checkpoint.step} steps; nothing to resume")
        return run_dir
    # A resumed run starts new sessions; offset the seeds so it does not replay the first users.
    venv = make_training_env(plan, plan.config.seed + checkpoint.step)
    normalize_path = checkpoint.path(run_dir, "vecnormalize.pkl")
    if isinstance(venv, VecNormalize) and normalize_path is not None:
        venv = VecNormalize.load(str(normalize_path), venv.venv)
    cls = algorithm_class(plan.config.algo)
    model = cls.load(str(model_path), env=venv, device=plan.config.device)
    buffer_path = checkpoint.path(run_dir, "replay_buffer.pkl")
    if buffer_path is not None and isinstance(model, OffPolicyAlgorithm):
        model.load_replay_buffer(str(buffer_path))
    _attach_logger(model, run_dir)
    print(f"resuming {run_dir} from step {checkpoint.step} ({checkpoint.reason} checkpoint)")
    return _run(plan, run_dir, model, venv, remaining, first_part=False)


class TrainingInterrupted(Exception):  # noqa: N818 (a stop signal, not an error)
    """Training stopped on a signal; a checkpoint was saved."""

    def __init__(self, signum: int, run_dir: Path, step: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.run_dir = run_dir
        self.step = step


def _run(
    plan: Plan,
    run_dir: Path,
    model: BaseAlgorithm,
    venv: VecEnv,
    remaining: int,
    first_part: bool,
) -> Path:
    trainer = Trainer(plan, run_dir, model, venv)
    started = time.perf_counter()
    signum = trainer.learn(remaining, first_part)
    if signum is not None:
        raise TrainingInterrupted(signum, run_dir, int(model.num_timesteps))
    trainer.save("final", final=True)
    elapsed = time.perf_counter() - started
    print(f"trained {model.num_timesteps} steps in {elapsed:.0f} s; model: {run_dir / 'model.zip'}")
    if plan.config.eval_episodes > 0:
        compare_with_baselines(plan, model, run_dir)
    venv.close()
    print(f"TensorBoard: tensorboard --logdir {plan.config.log_dir}")
    return run_dir


def compare_with_baselines(plan: Plan, model: BaseAlgorithm, run_dir: Path) -> dict[str, Any]:
    """Evaluates the agent next to random, popularity and the myopic oracle.

    All policies meet the same seeded users (episode i starts with seed ``10**6 + i``,
    users never seen in training). Prints a table and writes ``final_eval.json``.
    """
    from agents.baselines import make_baseline
    from agents.evaluation import SB3Recommender, evaluate

    config = plan.config
    episodes = config.eval_episodes
    seed = 1_000_000

    def env_factory() -> gym.Env[Any, Any]:
        return gym.make(config.env_id, **config.env_kwargs)

    policies = [
        SB3Recommender(model, deterministic=True, name=f"{config.algo}-{config.policy}"),
        make_baseline("random", seed=seed),
        make_baseline("popularity", seed=seed),
        make_baseline("myopic", seed=seed),
    ]
    print(f"\nmean return over {episodes} seeded users (95% CI):")
    results = {}
    for policy in policies:
        result = evaluate(env_factory, policy, episodes, seed)
        results[policy.name] = result.to_dict(include_episodes=False)
        interval = result.metrics["return"]
        print(
            f"  {policy.name:<24} {interval.mean:8.2f}  [{interval.low:7.2f}, {interval.high:7.2f}]"
            f"   CTR {result.metrics['ctr'].mean:.3f}"
        )
    atomic_write_text(run_dir / "final_eval.json", json.dumps(results, indent=2) + "\n")
    return results


# -- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line."""

    def error(self, message: str) -> Any:
        raise ConfigError(f"{message} (see --help)")


def parse_env_kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    """Parses ``key=value`` pairs; values are read as YAML scalars (never evaluated)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env-kwargs expects key=value pairs, got {pair!r}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"--env-kwargs {key} must be a number, got NaN")
        result[key] = value
    return result


def build_parser() -> argparse.ArgumentParser:
    """The ``train.py`` argument parser."""
    parser = _Parser(
        prog="train.py",
        description="Train an SB3 agent on a rec-gym environment with TensorBoard logging.",
    )
    add = parser.add_argument
    add("--algo", default="ppo", help="ppo, dqn or maskable-ppo (default: ppo)")
    add("--policy", default="transformer", help="transformer or mlp (default: transformer)")
    add("--env", dest="env_id", default="RecEnv-v0", help="registered env id")
    add("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env overrides")
    add("--timesteps", type=int, default=DEFAULT_TIMESTEPS, help="total env steps")
    add("--seed", type=int, default=0, help="run seed; sub-env i gets seed + i")
    add("--n-envs", type=int, default=None, help="parallel envs (default: hyperparameters)")
    add("--hyperparams", default=None, help="hyperparameter YAML (default: packaged)")
    add("--log-dir", default="logs", help="root folder of runs (default: logs)")
    add("--checkpoint-interval", type=int, default=None, help="steps between checkpoints")
    add("--metrics-interval", type=int, default=None, help="steps between rec/ metric logs")
    add("--eval-episodes", type=int, default=200, help="episodes of the final comparison")
    add("--no-progress-bar", action="store_true", help="hide the progress bar")
    add("--save-replay-buffer", action="store_true", help="checkpoint DQN's replay buffer")
    add("--device", default="cpu", help="torch device (default: cpu)")
    add(
        "--torch-threads",
        type=int,
        default=1,
        help="torch CPU threads (default: 1; small networks run fastest single-threaded, "
        "and more threads than free cores slow training down badly)",
    )
    add("--resume", default=None, metavar="RUN_DIR", help="continue a run from its checkpoint")
    add("--init-from", default=None, metavar="PATH", help="start from a pretrained backbone .pt")
    add("--no-init-head", action="store_true", help="with --init-from: load the backbone only")
    add("--pretrain", default=None, metavar="DATA", help="pretrain the backbone on a real log")
    add("--pretrain-epochs", type=int, default=5, help="with --pretrain: epochs (default 5)")
    add("--output", default=None, help="with --pretrain: weights file (default: logs/pretrain/)")
    add("--debug", action="store_true", help="show full tracebacks")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A :class:`TrainConfig` from parsed arguments."""
    return TrainConfig(
        algo=args.algo,
        policy=args.policy,
        env_id=args.env_id,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        total_timesteps=args.timesteps,
        seed=args.seed,
        n_envs=args.n_envs,
        hyperparams=args.hyperparams,
        log_dir=args.log_dir,
        checkpoint_interval=args.checkpoint_interval,
        metrics_interval=args.metrics_interval,
        eval_episodes=args.eval_episodes,
        progress_bar=not args.no_progress_bar,
        save_replay_buffer=args.save_replay_buffer,
        device=args.device,
        init_from=args.init_from,
        init_head=not args.no_init_head,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``train.py``; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        _positive_int("--torch-threads", args.torch_threads)
        import torch

        torch.set_num_threads(args.torch_threads)
        if args.pretrain is not None:
            from agents.pretrain import pretrain, pretrain_config_from_train_args

            pretrain(pretrain_config_from_train_args(args))
        elif args.resume is not None:
            resume(Path(args.resume))
        else:
            train(config_from_args(args))
        return 0
    except TrainingInterrupted as stop:
        name = signal.Signals(stop.signum).name
        print(
            f"\n{name}: stopped at step {stop.step}; checkpoint saved in {stop.run_dir}. "
            f"Resume with: python train.py --resume {stop.run_dir}",
            file=sys.stderr,
        )
        return 128 + stop.signum
    except KeyboardInterrupt:
        if debug:
            raise
        print("\ninterrupted (files written so far are complete)", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ConfigError, CheckpointError) as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as error:
        if debug:
            raise
        print(
            f"error: {type(error).__name__}: {error} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
