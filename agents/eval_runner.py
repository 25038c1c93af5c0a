"""The evaluation runner behind ``evaluate.py``: validate, load, evaluate, report.

Online (in the simulator, the default)::

    python evaluate.py logs/ppo/RecEnv-v0_1                 # a run folder of train.py
    python evaluate.py logs/ppo/RecEnv-v0_1/model.zip       # a model inside a run folder
    python evaluate.py model.zip --env RecEnv-v0            # a bare model: --env is required

The env is rebuilt from the run's ``config.yml`` (an ``--env``/``--env-kwargs`` that
conflicts with it is an error naming the parameter). The agent and the baselines play the
same seeded users (episode ``i`` resets with ``seed + i``); every metric gets a 95%
interval. Offline (on a real log)::

    python evaluate.py --offline ../shared/data/ml-100k                # popularity, MF
    python evaluate.py logs/ppo/RecEnv-MovieLens-v0_1 --offline DATA   # + the agent

Order of work: every input is validated first (arguments, baseline names, the run folder
or model and its manifest checksums, the env, the data, the output folder); only then are
models loaded and policies evaluated. Bad input gives one ``error: ...`` line and exit
status 2 (``--debug`` shows the traceback).

Outputs in the output folder: ``results.json``, ``results.md``, ``metrics.png`` (online) or
``offline_metrics.png`` (offline), and ``learning_curves.png`` when the run folder has
TensorBoard events.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import math
import os
import platform
import signal
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

import rec_gym
from agents.baselines import (
    AntiOracle,
    MyopicOracle,
    PlanningOracle,
    Recommender,
    action_items,
    baseline_names,
    make_baseline,
)
from agents.checkpoints import (
    MANIFEST,
    Checkpoint,
    CheckpointError,
    atomic_write_text,
    read_manifest,
    verify,
)
from agents.evaluation import (
    EpisodeRecord,
    EvaluationResult,
    Interval,
    SB3Recommender,
    evaluate,
)
from agents.registry import ConfigError, algorithm_class
from agents.runner import CONFIG_FILE, check_env_id, load_run_config, parse_env_kwargs
from rec_gym.data.errors import DataError
from rec_gym.metrics import gini, intra_list_diversity, novelty

DEFAULT_EPISODES = 200
#: Seed of the first evaluated user: the same as ``train.py``'s final comparison, far from
#: the seeds used in training.
DEFAULT_SEED = 1_000_000
DEFAULT_BOOTSTRAP = 1000
#: Normal quantile of the 95% bootstrap intervals.
BOOTSTRAP_Z = 1.959964
EXIT_CONFIG = 2

#: Online baselines evaluated by default (every registered one).
ONLINE_BASELINES = tuple(baseline_names())
#: Offline scorers: their names and the default set.
OFFLINE_SCORERS = ("random", "popularity", "mf")
DEFAULT_OFFLINE_SCORERS = ("popularity", "mf")

#: Online metrics in table order: (key, label).
METRICS: tuple[tuple[str, str], ...] = (
    ("return", "mean return"),
    ("ctr", "CTR"),
    ("purchase_rate", "purchase rate"),
    ("session_length", "session length"),
    ("leave_rate", "leave rate"),
    ("regret", "regret vs myopic oracle"),
    ("catalog_coverage", "catalog coverage"),
    ("intra_list_diversity", "intra-list diversity"),
    ("novelty", "novelty (bits)"),
    ("exposure_gini", "Gini of exposure"),
)
_SHORT = {
    "return": "return",
    "ctr": "CTR",
    "purchase_rate": "purchase",
    "session_length": "length",
    "leave_rate": "leave",
    "regret": "regret",
    "catalog_coverage": "coverage",
    "intra_list_diversity": "ILD",
    "novelty": "novelty",
    "exposure_gini": "Gini",
}
SECURITY_NOTE = (
    "Security: SB3 model zips and vecnormalize.pkl files contain pickled Python objects; "
    "loading one can run arbitrary code. Checksums only detect corruption. Never evaluate "
    "models from untrusted sources."
)


_NOT_FINITE = {"nan", "+nan", "-nan", ".nan", "inf", "+inf", "-inf", "infinity", "-infinity"}


@dataclass(frozen=True)
class EvalOptions:
    """Validated command-line options of ``evaluate.py`` (see ``--help``)."""

    target: str | None = None
    episodes: int = DEFAULT_EPISODES
    seed: int = DEFAULT_SEED
    deterministic: bool = True
    baselines: tuple[str, ...] | None = None
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str | None = None
    n_envs: int = 1
    output: str | None = None
    offline: str | None = None
    protocol: str = "full"
    negatives: int | None = None
    k_values: tuple[int, ...] = (10, 20)
    train_fraction: float | None = None
    bootstrap: int = DEFAULT_BOOTSTRAP
    device: str = "cpu"


@dataclass(frozen=True)
class AgentSource:
    """Where the agent comes from, verified.

    Attributes:
        model_path: The model zip to load.
        algo: Algorithm name (``ppo``, ``dqn``, ``maskable-ppo``).
        policy: Policy name from the run's config (None for a bare model).
        env_id: The env it is evaluated on.
        env_kwargs: Keyword arguments of ``gym.make``.
        saved_env_config: The run's resolved ``RecEnvConfig`` (None for a bare model).
        run_dir: The run folder (None for a bare model).
        normalize_path: The checkpoint's ``vecnormalize.pkl`` (None without normalisation).
        checkpoint: Facts for the report (file, step, reason, whether checksums verified).
    """

    model_path: Path
    algo: str
    policy: str | None
    env_id: str
    env_kwargs: dict[str, Any]
    saved_env_config: dict[str, Any] | None
    run_dir: Path | None
    normalize_path: Path | None
    checkpoint: dict[str, Any]

    @property
    def name(self) -> str:
        """The agent's name in tables (``<algo>-<policy>``, as in ``train.py``)."""
        return f"{self.algo}-{self.policy}" if self.policy else self.algo


# -- validation -----------------------------------------------------------------------------


def _positive_int(flag: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} must be a positive integer, got {value!r}")
    return value


def check_names(names: Sequence[str], valid: Sequence[str], what: str) -> tuple[str, ...]:
    """Validates baseline/scorer names, suggesting the closest valid one on a typo."""
    checked = []
    for name in names:
        if name not in valid:
            match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
            hint = f"; did you mean {match[0]!r}?" if match else ""
            raise ConfigError(f"unknown {what} {name!r}{hint} (valid: {', '.join(valid)})")
        if name not in checked:
            checked.append(name)
    return tuple(checked)


def check_output_dir(path: Path) -> None:
    """Fails unless ``path`` can be created and written to."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"output folder {path} is not writable ({error.strerror or error}); "
            "pass a writable folder with --output"
        ) from None


def validate_options(options: EvalOptions) -> EvalOptions:
    """Checks the plain option values (no files are read).

    Raises:
        ConfigError: One line naming the problem and the fix.
    """
    _positive_int("--episodes", options.episodes)
    _positive_int("--n-envs", options.n_envs)
    if isinstance(options.seed, bool) or not isinstance(options.seed, int) or options.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {options.seed!r}")
    if options.bootstrap < 0:
        raise ConfigError(f"--bootstrap must be >= 0 (0 skips it), got {options.bootstrap}")
    for k in options.k_values:
        _positive_int("--k", k)
    fraction = options.train_fraction
    if fraction is not None and not (math.isfinite(fraction) and 0.0 < fraction < 1.0):
        raise ConfigError(f"--train-fraction must be a number in (0, 1), e.g. 0.8, got {fraction}")
    if options.target is None and (options.env_id or options.env_kwargs or options.algo):
        raise ConfigError(
            "--env, --env-kwargs and --algo describe the model to evaluate; pass its run "
            "folder or .zip, or drop them"
        )
    if options.protocol not in ("full", "sampled"):
        raise ConfigError(f"--protocol must be 'full' or 'sampled', got {options.protocol!r}")
    if options.offline is None:
        if options.protocol != "full" or options.negatives is not None or fraction is not None:
            raise ConfigError(
                "--protocol, --negatives and --train-fraction apply to --offline evaluation only"
            )
        if options.target is None:
            raise ConfigError(
                "pass a run folder or model to evaluate (python evaluate.py logs/<algo>/"
                "<env_id>_<N>), or --offline DATA to score baselines on a real log"
            )
        baselines = check_names(
            options.baselines if options.baselines is not None else ONLINE_BASELINES,
            ONLINE_BASELINES,
            "baseline",
        )
    else:
        if options.protocol == "full" and options.negatives is not None:
            raise ConfigError("--negatives needs --protocol sampled (full ranking uses every item)")
        negatives = options.negatives
        if options.protocol == "sampled":
            negatives = 100 if negatives is None else _positive_int("--negatives", negatives)
        if options.n_envs != 1:
            raise ConfigError("--n-envs applies to online evaluation only; drop it with --offline")
        baselines = check_names(
            options.baselines if options.baselines is not None else DEFAULT_OFFLINE_SCORERS,
            OFFLINE_SCORERS,
            "offline scorer",
        )
        options = dataclasses.replace(options, negatives=negatives)
    for key, value in options.env_kwargs.items():
        not_finite = isinstance(value, float) and not math.isfinite(value)
        if not_finite or (isinstance(value, str) and value.strip().lower() in _NOT_FINITE):
            raise ConfigError(f"--env-kwargs {key} must be a finite number, got {value}")
    if options.algo is not None:
        algorithm_class(options.algo)
    if options.env_id is not None:
        check_env_id(options.env_id)
    return dataclasses.replace(options, baselines=baselines)


# -- the agent: run folder or model, verified -----------------------------------------------


def find_run_dir(model_path: Path) -> Path | None:
    """The run folder holding a model (itself or up to two folders up), or None."""
    for parent in list(model_path.resolve().parents)[:3]:
        if (parent / CONFIG_FILE).is_file():
            return parent
    return None


def choose_checkpoint(run_dir: Path, warn: Callable[[str], Any]) -> Checkpoint:
    """The newest checkpoint with a model whose files verify (``final`` wins a tie).

    A corrupted or truncated checkpoint is skipped with a warning naming the file, falling
    back to the previous good one.

    Raises:
        CheckpointError: No checkpoint has a model whose files verify.
    """
    entries = [c for c in read_manifest(run_dir) if c.path(run_dir, "model.zip") is not None]
    if not entries:
        raise CheckpointError(
            f"{run_dir} has no saved model ({MANIFEST} missing or empty); wait for train.py "
            "to write a checkpoint, or pass a model .zip"
        )
    problems = []
    ordered = sorted(entries, key=lambda c: (c.step, c.reason == "final"), reverse=True)
    for index, checkpoint in enumerate(ordered):
        try:
            verify(run_dir, checkpoint)
        except CheckpointError as error:
            problems.append(str(error))
            if index + 1 < len(ordered):
                previous = ordered[index + 1]
                warn(
                    f"warning: {error}; falling back to the previous checkpoint "
                    f"(step {previous.step}, {previous.reason})"
                )
            continue
        return checkpoint
    raise CheckpointError(f"no valid checkpoint in {run_dir}: {problems[0]}")


def _checkpoint_of_file(run_dir: Path, model_path: Path) -> Checkpoint:
    relative = str(model_path.resolve().relative_to(run_dir.resolve()))
    for checkpoint in read_manifest(run_dir):
        if relative in checkpoint.files:
            return checkpoint
    raise CheckpointError(
        f"{model_path} is not recorded in {run_dir / MANIFEST}, so its checksum cannot be "
        "verified; pass the run folder, or a model.zip listed in its manifest"
    )


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointError(
            f"{path} is not a readable model zip ({error}); it is truncated or corrupted, or "
            "not an SB3 model"
        ) from None
    if bad is not None or "data" not in names:
        raise CheckpointError(f"{path} is corrupted or not an SB3 model (bad entry {bad!r})")


def infer_algo(model_path: Path) -> str:
    """Guesses the algorithm of a bare SB3 zip from its policy class (without unpickling)."""
    import base64

    with zipfile.ZipFile(model_path) as archive:
        data = json.loads(archive.read("data"))
    policy = data.get("policy_class", {})
    text = str(policy.get("__module__", ""))
    with contextlib.suppress(ValueError):
        text += base64.b64decode(policy.get(":serialized:", "")).decode("latin-1")
    if "DQN" in text or ".dqn." in text:
        return "dqn"
    if "Maskable" in text:
        return "maskable-ppo"
    return "ppo"


def resolve_source(options: EvalOptions, warn: Callable[[str], Any]) -> AgentSource:
    """Finds, checks and verifies the run folder or model named on the command line.

    Raises:
        ConfigError: Missing path, missing ``--env`` for a bare model, or a conflict with
            the run's saved config.
        CheckpointError: A model or checkpoint that is missing, truncated or corrupted.
    """
    assert options.target is not None
    path = Path(options.target).expanduser()
    checkpoint: Checkpoint | None
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist; pass a run folder written by train.py "
            "(logs/<algo>/<env_id>_<N>) or a model .zip"
        )
    run_dir: Path | None
    if path.is_dir():
        run_dir = path
        if not (run_dir / CONFIG_FILE).is_file():
            raise ConfigError(
                f"{run_dir} is not a run folder (no {CONFIG_FILE}); pass a folder written by "
                "train.py (logs/<algo>/<env_id>_<N>) or a model .zip"
            )
        load_run_config(run_dir)  # a missing or unreadable config.yml fails first
        checkpoint = choose_checkpoint(run_dir, warn)
        model_path = checkpoint.path(run_dir, "model.zip")
        assert model_path is not None
    else:
        if path.suffix != ".zip":
            raise ConfigError(f"{path} is not a model .zip; pass a run folder or a model .zip")
        model_path = path
        run_dir = find_run_dir(path)
        checkpoint = None
        if run_dir is not None:
            checkpoint = _checkpoint_of_file(run_dir, path)
            verify(run_dir, checkpoint)
    _check_zip(model_path)
    if run_dir is None:
        if options.env_id is None:
            raise ConfigError(
                f"{path} has no run folder ({CONFIG_FILE}) next to it; pass --env ENV_ID "
                "(and --env-kwargs) of the env it was trained on"
            )
        algo = options.algo or infer_algo(model_path)
        return AgentSource(
            model_path=model_path,
            algo=algo,
            policy=None,
            env_id=options.env_id,
            env_kwargs=dict(options.env_kwargs),
            saved_env_config=None,
            run_dir=None,
            normalize_path=None,
            checkpoint={"file": str(model_path), "verified": False, "reason": "bare model"},
        )
    assert checkpoint is not None
    config, data = load_run_config(run_dir)
    saved_env = data.get("env") or {}
    env_id = str(saved_env.get("id", config.env_id))
    saved_kwargs = dict(saved_env.get("kwargs", config.env_kwargs) or {})
    saved_config = saved_env.get("config")
    if options.env_id is not None and options.env_id != env_id:
        raise ConfigError(
            f"--env {options.env_id} conflicts with the run's env {env_id} ({CONFIG_FILE}); "
            "drop --env to evaluate the env the run trained on"
        )
    if options.algo is not None and options.algo.lower() != config.algo:
        raise ConfigError(
            f"--algo {options.algo} conflicts with the run's algorithm {config.algo} "
            f"({CONFIG_FILE}); drop --algo"
        )
    check_overrides(options.env_kwargs, env_id, saved_kwargs, saved_config)
    normalize_path = checkpoint.path(run_dir, "vecnormalize.pkl")
    if bool(data.get("normalize")) and normalize_path is None:
        raise CheckpointError(
            f"the run normalised observations but checkpoint step {checkpoint.step} in "
            f"{run_dir} has no vecnormalize.pkl; pass another checkpoint's model.zip"
        )
    return AgentSource(
        model_path=model_path,
        algo=config.algo,
        policy=config.policy,
        env_id=env_id,
        env_kwargs=saved_kwargs,
        saved_env_config=saved_config if isinstance(saved_config, dict) else None,
        run_dir=run_dir,
        normalize_path=normalize_path,
        checkpoint={
            "file": str(model_path),
            "step": checkpoint.step,
            "reason": checkpoint.reason,
            "verified": True,
        },
    )


def check_overrides(
    overrides: dict[str, Any],
    env_id: str,
    saved_kwargs: dict[str, Any],
    saved_config: dict[str, Any] | None,
) -> None:
    """Fails on an ``--env-kwargs`` value that differs from what the run trained with."""
    for key, value in overrides.items():
        if key in saved_kwargs:
            saved = saved_kwargs[key]
        elif saved_config is not None and key in saved_config:
            saved = saved_config[key]
        elif key == "max_episode_steps":
            saved = gym.spec(env_id).max_episode_steps
        else:
            raise ConfigError(
                f"--env-kwargs {key}={value!r} is not a setting of the run's env ({CONFIG_FILE}); "
                "remove it: evaluate.py rebuilds the env the run trained on"
            )
        if value != saved:
            raise ConfigError(
                f"--env-kwargs {key}={value!r} conflicts with the run's {key}={saved!r} "
                f"({CONFIG_FILE}); remove it to evaluate the env the run trained on"
            )


def env_factory_for(
    env_id: str, kwargs: dict[str, Any], saved_config: dict[str, Any] | None
) -> tuple[Callable[[], gym.Env[Any, Any]], dict[str, Any]]:
    """A factory of exactly the run's env, and the kwargs it uses.

    Builds the env once; if a field of its config differs from the run's saved config
    (e.g. a default changed since training), the saved value is passed explicitly.

    Raises:
        ConfigError: The env cannot be built, or cannot match the saved config.
    """
    final = dict(kwargs)
    for attempt in range(2):
        try:
            env = gym.make(env_id, **final)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"cannot build {env_id} with {final}: {error}") from None
        try:
            current = env.unwrapped.config.to_dict() if hasattr(env.unwrapped, "config") else {}
        finally:
            env.close()
        if saved_config is None:
            break
        differ = {k: v for k, v in saved_config.items() if k in current and _differs(current[k], v)}
        if not differ:
            break
        if attempt == 1:
            key = sorted(differ)[0]
            raise ConfigError(
                f"cannot rebuild the run's env: {key} is {current[key]!r} but the run trained "
                f"with {differ[key]!r} ({CONFIG_FILE}); restore the data or code it was "
                "trained with"
            )
        final.update(differ)

    def make() -> gym.Env[Any, Any]:
        return gym.make(env_id, **final)

    return make, final


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, tuple | list) or isinstance(b, tuple | list):
        return list(a) != list(b)
    return bool(a != b)


# -- loading the agent ------------------------------------------------------------------------


class NormalizedSB3Recommender(SB3Recommender):
    """An SB3 agent whose observations go through the run's frozen ``VecNormalize`` first.

    The statistics are not updated (``training=False``) and rewards are never normalised
    (``norm_reward=False``): the evaluation loop sums the raw env rewards.

    Args:
        model: The trained model.
        normalizer: The loaded ``VecNormalize``.
        deterministic: Passed to every ``model.predict``.
        name: Name in tables.
    """

    def __init__(
        self, model: Any, normalizer: Any, deterministic: bool = True, name: str = "sb3"
    ) -> None:
        super().__init__(model, deterministic=deterministic, name=name)
        normalizer.training = False
        normalizer.norm_reward = False
        self.normalizer = normalizer

    def normalize(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The normalised observation (single or batched)."""
        normalized: dict[str, np.ndarray] = self.normalizer.normalize_obs(observation)
        return normalized

    def act(self, observation: dict[str, np.ndarray], env: Any) -> Any:
        """The model's action for the normalised observation."""
        return super().act(self.normalize(observation), env)


def load_agent(
    source: AgentSource,
    env_factory: Callable[[], gym.Env[Any, Any]],
    *,
    deterministic: bool,
    device: str = "cpu",
) -> SB3Recommender:
    """Loads the (verified) model and, if the run used it, its frozen normalisation.

    Raises:
        CheckpointError: The model or statistics cannot be loaded.
        ConfigError: The model's spaces do not match the env.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    cls = algorithm_class(source.algo)
    constant = 0.0
    custom = {
        "learning_rate": constant,
        "lr_schedule": lambda _: constant,
        "clip_range": lambda _: constant,
        "exploration_schedule": lambda _: constant,
    }
    try:
        model = cls.load(str(source.model_path), device=device, custom_objects=custom)
    except Exception as error:  # SB3 raises many kinds for a bad file
        raise CheckpointError(
            f"cannot load {source.model_path} as a {source.algo} model "
            f"({type(error).__name__}: {error}); pass the model's --algo or a valid model"
        ) from None
    env = env_factory()
    try:
        if model.action_space != env.action_space:
            raise ConfigError(
                f"the model acts in {model.action_space} but {source.env_id} has "
                f"{env.action_space}; pass the --env/--env-kwargs the model was trained on"
            )
        model_spaces: Any = model.observation_space
        env_spaces: Any = env.observation_space
        for key, space in env_spaces.spaces.items():
            if model_spaces[key].shape != space.shape:
                raise ConfigError(
                    f"the model expects observation {key!r} of shape "
                    f"{model_spaces[key].shape} but {source.env_id} gives "
                    f"{space.shape}; pass the --env/--env-kwargs the model was trained on"
                )
    finally:
        env.close()
    if source.normalize_path is None:
        return SB3Recommender(model, deterministic=deterministic, name=source.name)
    venv = DummyVecEnv([env_factory])
    try:
        normalizer = VecNormalize.load(str(source.normalize_path), venv)
    except Exception as error:
        raise CheckpointError(
            f"cannot load {source.normalize_path} ({type(error).__name__}: {error}); "
            "the checkpoint is corrupted"
        ) from None
    return NormalizedSB3Recommender(
        model, normalizer, deterministic=deterministic, name=source.name
    )


# -- vector-env evaluation --------------------------------------------------------------------


@dataclass
class VectorEvaluation:
    """:func:`evaluate_vectorized`'s result and its step accounting.

    Attributes:
        result: The same :class:`~agents.evaluation.EvaluationResult` as a single-env run.
        counted_steps: Transitions recorded (= the sum of episode lengths).
        autoreset_steps: Sub-env steps that were ``NEXT_STEP`` autoresets (not counted).
        ignored_steps: Transitions of sub-envs with no episode left to play (not counted).
    """

    result: EvaluationResult
    counted_steps: int
    autoreset_steps: int
    ignored_steps: int


def make_vector_env(
    env_id: str, kwargs: dict[str, Any], n_envs: int, batched: bool = True
) -> gym.vector.VectorEnv[Any, Any, Any]:
    """A Gymnasium vector env: the batched ``vector_entry_point`` when the id has one and
    ``batched``, else a ``SyncVectorEnv`` of single envs."""
    spec = gym.spec(env_id)
    mode = "vector_entry_point" if batched and spec.vector_entry_point else "sync"
    return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode=mode, **kwargs)


def evaluate_vectorized(
    envs: gym.vector.VectorEnv[Any, Any, Any],
    recommender: Recommender,
    n_episodes: int,
    seed: int,
    *,
    deterministic: bool | None = None,
) -> VectorEvaluation:
    """Plays ``n_episodes`` sessions on a Gymnasium vector env with common random numbers.

    Seeding: episode ``i`` is always reset with ``seed + i`` (as in
    :func:`agents.evaluation.evaluate`), whichever sub-env plays it. Sub-env ``j`` starts
    episode ``j``; when a sub-env's episode ends, it is reset at once through
    ``reset(seed=[...], options={"reset_mask": ...})`` with the seed of the next unplayed
    episode, so the same users (and the same env draws) as a single-env evaluation are
    met. A sub-env with no episode left is left to the vector env's autoreset: under
    ``NEXT_STEP`` its next step is a reset, not a transition, and nothing it does is counted.

    Actions: an :class:`~agents.evaluation.SB3Recommender` predicts for all sub-envs in
    one batch; other recommenders act per sub-env on a ``SyncVectorEnv`` (they read the
    unwrapped env), and the oracles also run on the batched env through its
    ``oracle_actions``.

    Args:
        envs: The vector env (``SyncVectorEnv`` or the batched ``RecVectorEnv``).
        recommender: The policy.
        n_episodes: Sessions to play (>= 1).
        seed: Seed of episode 0 (>= 0).
        deterministic: Overrides an SB3 recommender's ``deterministic`` when not None.

    Returns:
        The result and step counts.
    """
    if n_episodes < 1 or seed < 0:
        raise ValueError(f"need n_episodes >= 1 and seed >= 0, got {n_episodes}, {seed}")
    n = envs.num_envs
    sub_envs = getattr(envs, "envs", None)
    batched = envs.unwrapped
    base: Any = sub_envs[0].unwrapped if sub_envs is not None else batched
    catalog = base.simulator.catalog
    features = catalog.public_features().astype(np.float64)
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if deterministic is not None and isinstance(recommender, SB3Recommender):
        recommender = _with_deterministic(recommender, deterministic)
    act = _vector_actor(envs, recommender)

    def begin(j: int) -> None:
        if sub_envs is not None:
            recommender.begin_episode(sub_envs[j].unwrapped)

    start = time.perf_counter()
    episode_of = np.array([j if j < n_episodes else -1 for j in range(n)])
    reset: Any = envs.reset  # Gymnasium's vector envs take one seed per sub-env
    observations, _ = reset(seed=[seed + j for j in range(n)])
    for j in range(min(n, n_episodes)):
        begin(j)
    next_episode = min(n, n_episodes)
    acc = [_Accumulator() for _ in range(n)]
    records: dict[int, EpisodeRecord] = {}
    autoreset_pending = np.zeros(n, dtype=bool)
    counted = autoresets = ignored = 0
    while (episode_of >= 0).any():
        actions = act(observations)
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        reset_mask = np.zeros(n, dtype=bool)
        reset_seeds: list[int | None] = [None] * n
        for j in range(n):
            if autoreset_pending[j]:
                autoreset_pending[j] = False
                autoresets += 1
                continue
            done = bool(terminated[j] or truncated[j])
            if episode_of[j] < 0:
                ignored += 1
                autoreset_pending[j] = done and mode == AutoresetMode.NEXT_STEP
                continue
            info = {
                k: v[j]
                for k, v in infos.items()
                if not k.startswith("_") and infos.get(f"_{k}", np.ones(n, bool))[j]
            }
            action = actions[j]
            obs_j = {k: v[j] for k, v in observations.items()}
            next_j = {k: v[j] for k, v in next_obs.items()}
            recommender.observe(obs_j, action, float(rewards[j]), info, next_j)
            acc[j].add(action, float(rewards[j]), info)
            counted += 1
            if not done:
                continue
            index = int(episode_of[j])
            records[index] = acc[j].record(
                seed + index, bool(terminated[j]), bool(truncated[j]), features, catalog
            )
            acc[j] = _Accumulator()
            if next_episode < n_episodes:
                episode_of[j] = next_episode
                reset_mask[j] = True
                reset_seeds[j] = seed + next_episode
                next_episode += 1
            else:
                episode_of[j] = -1
                autoreset_pending[j] = mode == AutoresetMode.NEXT_STEP
        if reset_mask.any():
            fresh, _ = reset(seed=reset_seeds, options={"reset_mask": reset_mask})
            for key in next_obs:
                next_obs[key][reset_mask] = fresh[key][reset_mask]
            for row in np.flatnonzero(reset_mask):
                begin(int(row))
        observations = next_obs
    ordered = [records[i] for i in range(n_episodes)]
    spec = getattr(envs, "spec", None)
    result = EvaluationResult.from_records(
        recommender.name,
        spec.id if spec is not None else None,
        seed,
        catalog.n_items,
        ordered,
        time.perf_counter() - start,
    )
    return VectorEvaluation(result, counted, autoresets, ignored)


class _Accumulator:
    """Running totals of one sub-env's current episode."""

    def __init__(self) -> None:
        self.total = 0.0
        self.clicks = self.purchases = self.length = 0
        self.regret = 0.0
        self.exposed: list[int] = []

    def add(self, action: Any, reward: float, info: dict[str, Any]) -> None:
        self.total += reward
        self.clicks += int(info["click"])
        self.purchases += int(info["purchase"])
        self.regret += float(info.get("regret", math.nan))
        self.length += 1
        self.exposed.extend(dict.fromkeys(action_items(action).tolist()))

    def record(
        self, seed: int, terminated: bool, truncated: bool, features: np.ndarray, catalog: Any
    ) -> EpisodeRecord:
        items = np.asarray(self.exposed, dtype=np.int64)
        return EpisodeRecord(
            seed=seed,
            episode_return=self.total,
            clicks=self.clicks,
            purchases=self.purchases,
            length=self.length,
            terminated=terminated,
            truncated=truncated and not terminated,
            regret=self.regret,
            item_indices=list(self.exposed),
            intra_list_diversity=intra_list_diversity(features[items]),
            novelty=novelty(items, catalog.popularity),
        )


def _with_deterministic(recommender: SB3Recommender, deterministic: bool) -> SB3Recommender:
    clone = object.__new__(type(recommender))
    clone.__dict__.update(recommender.__dict__)
    clone.deterministic = bool(deterministic)
    return clone


def _vector_actor(
    envs: gym.vector.VectorEnv[Any, Any, Any], recommender: Recommender
) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    sub_envs = getattr(envs, "envs", None)
    batched = envs.unwrapped
    if isinstance(recommender, SB3Recommender):

        def predict(observations: dict[str, np.ndarray]) -> np.ndarray:
            obs = observations
            if isinstance(recommender, NormalizedSB3Recommender):
                obs = recommender.normalize(observations)
            kwargs: dict[str, Any] = {"deterministic": recommender.deterministic}
            if recommender.maskable:
                if sub_envs is not None:
                    kwargs["action_masks"] = np.stack(cast(Any, envs).call("action_masks"))
                else:
                    kwargs["action_masks"] = cast(Any, batched).action_masks()
            actions, _ = recommender.model.predict(obs, **kwargs)
            return np.asarray(actions, dtype=np.int64)

        return predict
    if sub_envs is not None:

        def per_env(observations: dict[str, np.ndarray]) -> np.ndarray:
            actions = [
                recommender.act({k: v[j] for k, v in observations.items()}, env.unwrapped)
                for j, env in enumerate(sub_envs)
            ]
            return np.asarray(actions, dtype=np.int64)

        return per_env
    oracle = {MyopicOracle: "myopic", AntiOracle: "anti", PlanningOracle: "planning"}.get(
        type(recommender)
    )
    if oracle is not None and hasattr(batched, "oracle_actions"):
        kwargs: dict[str, Any] = {}
        if isinstance(recommender, PlanningOracle):
            kwargs = {"horizon": recommender.horizon, "n_candidates": recommender.n_candidates}

        def oracle_actions(observations: dict[str, np.ndarray]) -> np.ndarray:
            actions = cast(Any, batched).oracle_actions(oracle, **kwargs)
            return np.asarray(actions, dtype=np.int64)

        return oracle_actions
    raise TypeError(
        f"{recommender.name} acts on one unwrapped env at a time; evaluate it on a "
        "SyncVectorEnv (gym.make_vec(..., vectorization_mode='sync'))"
    )


# -- metrics with intervals ---------------------------------------------------------------------


def exposure_intervals(
    result: EvaluationResult, n_resamples: int, seed: int
) -> dict[str, Interval]:
    """Catalog coverage and exposure Gini with 95% bootstrap intervals.

    Both are properties of all episodes together, so their spread comes from resampling
    episodes with replacement (``n_resamples`` times, generator seeded with ``seed``). The
    interval is the value on the actual episodes +- 1.96 bootstrap standard errors, clipped
    to ``[0, 1]`` (a percentile interval would be biased: a resample repeats episodes, so
    it always covers fewer items). ``n_resamples=0`` gives NaN bounds.
    """
    n_items = result.n_items
    counts = np.zeros((result.n_episodes, n_items))
    for row, record in enumerate(result.episodes):
        np.add.at(counts[row], np.asarray(record.item_indices, dtype=np.int64), 1.0)
    point = {"catalog_coverage": result.catalog_coverage, "exposure_gini": result.exposure_gini}
    if n_resamples == 0 or result.n_episodes < 2:
        return {k: Interval(v, math.nan, math.nan) for k, v in point.items()}
    rng = np.random.default_rng(seed)
    picks = rng.integers(result.n_episodes, size=(n_resamples, result.n_episodes))
    weights = np.zeros((n_resamples, result.n_episodes))
    np.add.at(weights, (np.arange(n_resamples)[:, None], picks), 1.0)
    totals = weights @ counts  # [R, N]
    coverage = (totals > 0).mean(axis=1)
    ginis = np.array([gini(row) for row in totals])
    out = {}
    for key, values in (("catalog_coverage", coverage), ("exposure_gini", ginis)):
        half = BOOTSTRAP_Z * float(values.std(ddof=1))
        low, high = max(point[key] - half, 0.0), min(point[key] + half, 1.0)
        out[key] = Interval(point[key], low, high)
    return out


def policy_metrics(result: EvaluationResult, n_resamples: int, seed: int) -> dict[str, Interval]:
    """All ten online metrics of a result, each with its 95% interval, in table order."""
    merged = {**result.metrics, **exposure_intervals(result, n_resamples, seed)}
    return {key: merged[key] for key, _ in METRICS}


# -- reports ------------------------------------------------------------------------------------


def _fmt(value: float, half: float) -> str:
    if math.isnan(value):
        return "n/a"
    digits = 2 if abs(value) >= 10 else 3
    if math.isnan(half):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f}±{half:.{digits}f}"


def table_rows(policies: dict[str, dict[str, Interval]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (policy, then each metric as ``mean±half-width``)."""
    header = ["policy"] + [_SHORT[key] for key, _ in METRICS]
    rows = [
        [name] + [_fmt(m[key].mean, m[key].half_width) for key, _ in METRICS]
        for name, m in policies.items()
    ]
    return header, rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _interval_dict(value: Interval) -> dict[str, float | None]:
    return {k: (None if math.isnan(v) else float(v)) for k, v in dataclasses.asdict(value).items()}


def _versions() -> dict[str, str]:
    import stable_baselines3
    import torch

    return {
        "rec_gym": rec_gym.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "torch": str(torch.__version__),
    }


# -- the two modes --------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything validated before work starts."""

    options: EvalOptions
    source: AgentSource | None
    env_id: str | None
    env_kwargs: dict[str, Any]
    env_factory: Callable[[], gym.Env[Any, Any]] | None
    output: Path
    world: Any = None


def prepare(options: EvalOptions, warn: Callable[[str], Any]) -> Prepared:
    """Validates every input but the output folder (checked by :func:`run` last).

    Raises:
        ConfigError, CheckpointError, DataError: One line naming the problem and the fix.
    """
    options = validate_options(options)
    if options.offline is not None:
        from rec_gym.data import detect_format

        detect_format(options.offline)  # DataError for a missing or unknown dataset
    source = resolve_source(options, warn) if options.target is not None else None
    env_id = env_factory = None
    env_kwargs: dict[str, Any] = {}
    if source is not None:
        env_factory, env_kwargs = env_factory_for(
            source.env_id, source.env_kwargs, source.saved_env_config
        )
        env_id = source.env_id
    world = None
    if options.offline is not None and env_factory is not None:
        world = calibrated_world(env_factory, str(env_id))
        _check_same_data(world, options.offline)
        saved = world.settings.train_fraction
        if options.train_fraction is not None and options.train_fraction != saved:
            raise ConfigError(
                f"--train-fraction {options.train_fraction} conflicts with the run's calibration "
                f"(train_fraction={saved}, cut at {world.cut_time}); drop it: the agent is "
                "scored on the data its env never saw"
            )
    if options.output is not None:
        output = Path(options.output).expanduser()
    else:
        folder = "eval_offline" if options.offline is not None else "eval"
        output = (source.run_dir / folder) if source and source.run_dir else Path(folder)
    return Prepared(options, source, env_id, env_kwargs, env_factory, output, world)


def calibrated_world(env_factory: Callable[[], gym.Env[Any, Any]], env_id: str) -> Any:
    """The calibrated world of a run's env (its item ids map to the log's items).

    Raises:
        ConfigError: The env is not calibrated from a log.
    """
    env = env_factory()
    try:
        world = getattr(env.unwrapped, "world", None)
    finally:
        env.close()
    if world is None:
        raise ConfigError(
            f"the run's env {env_id} is not calibrated from a log, so its item ids mean "
            "nothing on real data; drop the run folder to score only the baselines"
        )
    return world


def run_online(prepared: Prepared, agent: SB3Recommender) -> dict[str, Any]:
    """Evaluates the agent and the baselines on the same users; writes every output."""
    options, source = prepared.options, prepared.source
    assert source is not None and prepared.env_factory is not None and prepared.env_id
    factory = prepared.env_factory
    episodes, seed, n_envs = options.episodes, options.seed, options.n_envs
    print(
        f"evaluating {agent.name} and {len(options.baselines or ())} baselines on "
        f"{prepared.env_id}: {episodes} episodes from seed {seed} (episode i resets with "
        f"seed + i), deterministic={options.deterministic}"
        + (f", {n_envs} vector envs" if n_envs > 1 else "")
    )
    policies: list[Recommender] = [agent] + [
        make_baseline(name, seed=seed) for name in options.baselines or ()
    ]
    results: dict[str, EvaluationResult] = {}
    steps: dict[str, dict[str, int]] = {}
    for policy in policies:
        if n_envs > 1:
            is_agent = policy is agent
            envs = make_vector_env(prepared.env_id, prepared.env_kwargs, n_envs, batched=is_agent)
            try:
                vector = evaluate_vectorized(
                    envs, policy, episodes, seed, deterministic=options.deterministic
                )
            finally:
                envs.close()
            result = vector.result
            steps[policy.name] = {
                "counted": vector.counted_steps,
                "autoreset": vector.autoreset_steps,
                "ignored": vector.ignored_steps,
            }
        else:
            result = evaluate(factory, policy, episodes, seed, deterministic=options.deterministic)
        results[policy.name] = result
        print(f"  {policy.name:<16} done in {result.wall_time_s:.1f} s")
    metrics = {
        name: policy_metrics(result, options.bootstrap, seed) for name, result in results.items()
    }
    header, rows = table_rows(metrics)
    print("\nmeans ± 95% CI half-widths over episodes:")
    print(text_table(header, rows))
    output = prepared.output
    plots = draw_plots(
        output,
        "metrics.png",
        {n: {k: (v.mean, v.low, v.high) for k, v in m.items()} for n, m in metrics.items()},
        METRICS,
        agent_name=agent.name,
        title=f"{prepared.env_id}: {episodes} episodes, seed {seed}, 95% CI",
        run_dir=source.run_dir,
    )
    normalization = None
    if isinstance(agent, NormalizedSB3Recommender):
        normalization = {
            "statistics": str(source.normalize_path),
            "keys": list(agent.normalizer.norm_obs_keys or []),
            "frozen": True,
            "rewards": "raw env rewards (norm_reward=False)",
        }
    report = {
        "rec_gym_evaluation": 1,
        "mode": "online",
        "command": " ".join(["evaluate.py", *sys.argv[1:]]),
        "source": {
            "run_dir": str(source.run_dir) if source.run_dir else None,
            "algo": source.algo,
            "policy": source.policy,
            **source.checkpoint,
        },
        "env": {
            "id": prepared.env_id,
            "kwargs": prepared.env_kwargs,
            "config": source.saved_env_config,
        },
        "episodes": episodes,
        "seed": seed,
        "deterministic": options.deterministic,
        "seeding": "common random numbers: episode i of every policy resets with seed + i",
        "vector_envs": n_envs,
        "normalization": normalization,
        "intervals": (
            "95% t-intervals over episodes; catalog_coverage and exposure_gini: value +- 1.96 "
            f"bootstrap standard errors over episodes ({options.bootstrap} resamples, seed "
            f"{seed})"
        ),
        "agent": agent.name,
        "policies": {
            name: {
                "kind": "agent" if name == agent.name else "baseline",
                "metrics": {k: _interval_dict(v) for k, v in metrics[name].items()},
                "episodes": results[name].n_episodes,
                "steps": int(sum(r.length for r in results[name].episodes)),
                **({"vector_steps": steps[name]} if name in steps else {}),
                "wall_time_s": results[name].wall_time_s,
            }
            for name in results
        },
        "plots": plots,
        "versions": _versions(),
    }
    markdown = [
        f"# Evaluation of {agent.name} on {prepared.env_id}",
        "",
        f"- source: `{source.model_path}` ({source.checkpoint.get('reason')}, "
        f"step {source.checkpoint.get('step', 'n/a')}, checksums verified: "
        f"{source.checkpoint.get('verified')})",
        f"- {episodes} episodes, seed {seed} (episode i resets with seed + i for every "
        f"policy), deterministic={options.deterministic}, vector envs: {n_envs}",
        f"- observation normalisation: {'frozen run statistics' if normalization else 'none'}; "
        "returns in raw reward units",
        f"- intervals: {report['intervals']}",
        "",
        markdown_table(header, rows),
        "",
        "![metrics](metrics.png)",
    ]
    if plots["learning_curves"]["file"]:
        markdown += ["", "![learning curves](learning_curves.png)"]
    _write_reports(output, report, "\n".join(markdown) + "\n")
    return report


def run_offline(prepared: Prepared, agent: SB3Recommender | None) -> dict[str, Any]:
    """Scores next-item prediction on the held-out part of the log; writes every output."""
    from agents.offline import (
        ItemScorer,
        PolicyScorer,
        load_offline_task,
    )

    options, source = prepared.options, prepared.source
    assert options.offline is not None
    world = prepared.world
    if world is not None:
        settings = world.settings
        task = load_offline_task(
            options.offline,
            cut_time=world.cut_time,
            catalog_item_ids=world.item_ids,
            click_threshold=settings.click_threshold,
            purchase_threshold=settings.purchase_threshold,
        )
    else:
        fraction = 0.8 if options.train_fraction is None else options.train_fraction
        task = load_offline_task(options.offline, train_fraction=fraction)
    data = task.data
    summary = data.summary()
    print(
        f"offline next-item evaluation on {options.offline}: {data.n_users} eligible users, "
        f"all evaluated ({data.n_heldout_users} with held-out interactions; not eligible: "
        f"{data.not_eligible}), {data.n_items} items, protocol {options.protocol}"
    )
    scorers: list[ItemScorer] = []
    if agent is not None:
        normalize = agent.normalize if isinstance(agent, NormalizedSB3Recommender) else None
        policy_scorer = PolicyScorer(agent.model, normalize, name=agent.name)
        if policy_scorer.n_items != data.n_items:
            raise ConfigError(
                f"the agent scores {policy_scorer.n_items} items but the log's catalog has "
                f"{data.n_items}; pass the data its env was calibrated from"
            )
        scorers.append(policy_scorer)
    scorers.extend(task.baseline(name, options.seed) for name in options.baselines or ())
    results = task.evaluate(
        scorers,
        protocol=options.protocol,
        k_values=options.k_values,
        negatives=options.negatives,
        seed=options.seed,
    )
    first = next(iter(results.values()))
    label = first.protocol_label()
    names = list(first.metrics)
    header = ["scorer", *names]
    rows = [
        [name]
        + [_fmt(r.metrics[m].mean, (r.metrics[m].high - r.metrics[m].low) / 2) for m in names]
        for name, r in results.items()
    ]
    protocol_text = (
        f"protocol {label['protocol']}, negatives {label['negatives']} "
        f"({label['negative_kind']}), seed {label['seed']}, ties {label['ties']}"
    )
    print(f"\n{protocol_text}; means ± 95% CI half-widths over users:")
    print(text_table(header, rows))
    output = prepared.output
    plots = draw_plots(
        output,
        "offline_metrics.png",
        {n: {m: (v.mean, v.low, v.high) for m, v in r.metrics.items()} for n, r in results.items()},
        [(m, m) for m in names],
        agent_name=agent.name if agent is not None else None,
        title=f"next-item on {Path(options.offline).name}: {protocol_text}",
        run_dir=source.run_dir if source is not None else None,
    )
    report = {
        "rec_gym_evaluation": 1,
        "mode": "offline",
        "command": " ".join(["evaluate.py", *sys.argv[1:]]),
        **label,
        "k_values": list(options.k_values),
        "data": {**task.source, **summary},
        "task": (
            "next item: each eligible user's first held-out interaction with a catalog item "
            "new to them; input = all their earlier interactions (strictly before it)"
        ),
        "source": (
            {"run_dir": str(source.run_dir), **source.checkpoint} if source is not None else None
        ),
        "scorers": {name: r.to_dict() for name, r in results.items()},
        "plots": plots,
        "versions": _versions(),
    }
    markdown = [
        f"# Offline next-item evaluation on {options.offline}",
        "",
        f"- {protocol_text}",
        f"- time split at {task.source['cut_time']} ({task.source['cut_rule']}); "
        f"{data.n_users} eligible users, all evaluated ({data.n_heldout_users} with held-out "
        f"interactions; not eligible: {data.not_eligible}); cold-start users (empty input): "
        f"{data.n_cold_start}",
        "",
        markdown_table(header, rows),
        "",
        "![metrics](offline_metrics.png)",
    ]
    _write_reports(output, report, "\n".join(markdown) + "\n")
    return report


def draw_plots(
    output: Path,
    filename: str,
    values: dict[str, dict[str, tuple[float, float, float]]],
    metrics: Sequence[tuple[str, str]],
    *,
    agent_name: str | None,
    title: str,
    run_dir: Path | None,
) -> dict[str, Any]:
    """Writes the metrics chart and, from the run's TensorBoard events, the learning curves.

    Returns:
        For each plot: its file (None when not drawn), the plotted series and a note.
    """
    from agents.plots import LEARNING_CURVE_TAGS, plot_learning_curves, plot_metrics, read_scalars

    series = plot_metrics(output / filename, values, metrics, highlight=agent_name, title=title)
    curves: dict[str, Any] = {"file": None, "series": {}, "tags": list(LEARNING_CURVE_TAGS)}
    if run_dir is None:
        curves["source"] = "none: no run folder"
    else:
        scalars = read_scalars(run_dir)
        curves["source"] = f"TensorBoard events in {run_dir}"
        if scalars:
            curves["series"] = plot_learning_curves(
                output / "learning_curves.png", scalars, title=f"training of {agent_name}"
            )
            curves["file"] = "learning_curves.png"
        else:
            curves["source"] = f"none: no TensorBoard scalars in {run_dir}"
    return {"metrics": {"file": filename, "series": series}, "learning_curves": curves}


def _check_same_data(world: Any, data_path: str) -> None:
    from rec_gym.data.loaders import data_checksum, data_files

    expected = world.meta.get("data_checksum")
    if expected is None:
        return
    actual = data_checksum(data_files(data_path))
    if actual != expected:
        raise ConfigError(
            f"{data_path} is not the log the run's env was calibrated from (checksums differ); "
            f"pass {world.meta.get('data_path', 'the original data')}"
        )


def _write_reports(output: Path, report: dict[str, Any], markdown: str) -> None:
    atomic_write_text(output / "results.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(output / "results.md", markdown)
    print(f"\nwrote {output / 'results.json'}, results.md and plots in {output}")


# -- command line ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line."""

    def error(self, message: str) -> Any:
        raise ConfigError(f"{message} (see --help)")


def _csv(value: str) -> tuple[str, ...]:
    if value.strip().lower() == "none":
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The ``evaluate.py`` argument parser."""
    parser = _Parser(
        prog="evaluate.py",
        description=(
            "Evaluate a trained agent next to baselines on the same seeded users (online), "
            "or score next-item prediction on a real log (--offline)."
        ),
        epilog=SECURITY_NOTE,
    )
    add = parser.add_argument
    add(
        "target",
        nargs="?",
        default=None,
        help="run folder (logs/<algo>/<env_id>_<N>) or model .zip; optional with --offline",
    )
    add("--episodes", type=int, default=DEFAULT_EPISODES, help="episodes per policy (default 200)")
    add(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="episode i resets with seed + i (default 1000000)",
    )
    add(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="take the agent's most likely action (default) or sample (--no-deterministic); "
        "passed to every prediction and recorded in results.json",
    )
    add(
        "--baselines",
        type=_csv,
        default=None,
        metavar="NAMES",
        help=f"comma-separated, or 'none'. Online: {', '.join(ONLINE_BASELINES)} (default: "
        f"all); offline: {', '.join(OFFLINE_SCORERS)} (default: popularity,mf)",
    )
    add("--env", dest="env_id", default=None, help="env id (required for a bare model .zip)")
    add("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env keywords")
    add("--algo", default=None, help="algorithm of a bare model (default: from the zip)")
    add(
        "--n-envs",
        type=int,
        default=1,
        help="evaluate in Gymnasium vector envs of N sub-envs (the agent in the batched env "
        "when the id has one; same users and numbers as --n-envs 1)",
    )
    add("--output", default=None, help="output folder (default: <run>/eval or ./eval)")
    add("--offline", default=None, metavar="DATA", help="real log: dataset folder or .csv")
    add("--protocol", default="full", help="offline ranking: full (default) or sampled")
    add("--negatives", type=int, default=None, help="sampled negatives per user (default 100)")
    add("--k", type=int, nargs="+", default=[10, 20], help="K of HR@K and NDCG@K (default 10 20)")
    add(
        "--train-fraction",
        type=_float,
        default=None,
        help="offline time split without a run (default 0.8; a run uses its calibration's cut)",
    )
    add(
        "--bootstrap",
        type=int,
        default=DEFAULT_BOOTSTRAP,
        help="bootstrap resamples for the coverage and Gini intervals (default 1000)",
    )
    add("--device", default="cpu", help="torch device (default: cpu)")
    add("--torch-threads", type=int, default=1, help="torch CPU threads (default: 1)")
    add("--debug", action="store_true", help="show full tracebacks")
    return parser


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    """:class:`EvalOptions` from parsed arguments."""
    return EvalOptions(
        target=args.target,
        episodes=args.episodes,
        seed=args.seed,
        deterministic=args.deterministic,
        baselines=args.baselines,
        env_id=args.env_id,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        algo=args.algo,
        n_envs=args.n_envs,
        output=args.output,
        offline=args.offline,
        protocol=args.protocol,
        negatives=args.negatives,
        k_values=tuple(args.k),
        train_fraction=args.train_fraction,
        bootstrap=args.bootstrap,
        device=args.device,
    )


def run(options: EvalOptions) -> dict[str, Any]:
    """Validates everything, then evaluates; returns the report written to results.json."""
    prepared = prepare(options, warn=lambda message: print(message, file=sys.stderr))
    options = prepared.options
    agent = None
    if prepared.source is not None:
        assert prepared.env_factory is not None
        agent = load_agent(
            prepared.source,
            prepared.env_factory,
            deterministic=options.deterministic,
            device=options.device,
        )
        check = prepared.source.checkpoint
        print(
            f"agent: {agent.name} from {prepared.source.model_path} "
            f"(step {check.get('step', 'n/a')}, checksums verified: {check['verified']})"
        )
    check_output_dir(prepared.output)  # the last check: nothing is created on bad input
    if options.offline is not None:
        return run_offline(prepared, agent)
    assert agent is not None
    return run_online(prepared, agent)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``evaluate.py``; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    threads = torch.get_num_threads()
    try:
        args = build_parser().parse_args(argv)
        _positive_int("--torch-threads", args.torch_threads)
        # One observation at a time: extra intra-op threads only add synchronisation (and
        # on a busy machine they slow inference down by an order of magnitude).
        torch.set_num_threads(args.torch_threads)
        run(options_from_args(args))
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print("\ninterrupted (files written so far are complete)", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ConfigError, CheckpointError, DataError) as error:
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
    finally:
        torch.set_num_threads(threads)
