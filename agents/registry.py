"""Names -> SB3 algorithm classes and policies, and hyperparameters as data.

One registry maps the names users type (``--algo``, ``--policy``) to classes; an unknown
name is a :class:`ConfigError` that suggests the closest valid one.
"""

from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.policies import (
    MaskableTransformerActorCriticPolicy,
    TransformerActorCriticPolicy,
    TransformerDQNPolicy,
    transformer_policy_kwargs,
)

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "ppo": PPO,
    "dqn": DQN,
    "maskable-ppo": MaskablePPO,
}
POLICIES = ("mlp", "transformer")

#: Hyperparameter keys handled by the runner rather than passed to the algorithm.
RUNNER_KEYS = {"n_envs", "transformer_policy", "mlp_policy", "normalize"}
#: Keys of ``policy_kwargs`` for the transformer policy.
TRANSFORMER_KEYS = {"hidden_dim", "n_layers", "n_heads", "use_item_features"}

HYPERPARAMS_DIR = Path(__file__).parent / "hyperparams"


class ConfigError(ValueError):
    """A user-facing configuration problem; its message names the problem and the fix."""


def closest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """A ``"; did you mean 'x'?"`` hint for a mistyped name (or the list of valid ones)."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    if match:
        return f"; did you mean {match[0]!r}?"
    return f"; valid: {', '.join(valid)}"


def algorithm_class(name: str) -> type[BaseAlgorithm]:
    """The SB3 class for an algorithm name (``ppo``, ``dqn``, ``maskable-ppo``)."""
    key = name.lower()
    if key not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r}{closest(key, tuple(ALGORITHMS))}")
    return ALGORITHMS[key]


def check_policy(name: str) -> str:
    """Validates a policy name (``mlp`` or ``transformer``)."""
    key = name.lower()
    if key not in POLICIES:
        raise ConfigError(f"unknown policy {name!r}{closest(key, POLICIES)}")
    return key


def check_compatible(algo: str, env_id: str, action_space: spaces.Space[Any]) -> None:
    """Fails early on an algorithm that cannot act in an env's action space."""
    if algo == "dqn" and not isinstance(action_space, spaces.Discrete):
        raise ConfigError(
            f"DQN needs a Discrete action space but {env_id} has {action_space}; "
            "use --algo ppo (or maskable-ppo) for slate envs"
        )


def policy_spec(
    algo: str, policy: str, policy_options: dict[str, Any], item_features: Any = None
) -> tuple[Any, dict[str, Any]]:
    """The policy argument and ``policy_kwargs`` for an algorithm/policy pair.

    Args:
        algo: Algorithm name.
        policy: ``mlp`` or ``transformer``.
        policy_options: The policy's block of the hyperparameters.
        item_features: Public item features, used when ``use_item_features`` is true.

    Returns:
        ``(policy, policy_kwargs)`` for the SB3 constructor.
    """
    options = dict(policy_options)
    if policy == "mlp":
        return "MultiInputPolicy", options
    unknown = set(options) - TRANSFORMER_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"unknown transformer policy_kwargs key {key!r}"
            f"{closest(key, tuple(sorted(TRANSFORMER_KEYS)))}"
        )
    use_features = bool(options.pop("use_item_features", True))
    kwargs = transformer_policy_kwargs(
        algorithm=algo, item_features=item_features if use_features else None, **options
    )
    classes = {
        "ppo": TransformerActorCriticPolicy,
        "maskable-ppo": MaskableTransformerActorCriticPolicy,
        "dqn": TransformerDQNPolicy,
    }
    return classes[algo], kwargs


@dataclass(frozen=True)
class Hyperparameters:
    """Resolved hyperparameters of one run.

    Attributes:
        algorithm: Keyword arguments for the SB3 constructor.
        n_envs: Number of parallel envs.
        transformer_policy: Options of the transformer policy (see :func:`policy_spec`).
        mlp_policy: ``policy_kwargs`` of the mlp policy.
        normalize: Whether to normalise the ``context`` observation (VecNormalize).
        source: Where they came from (file and blocks), for the record.
    """

    algorithm: dict[str, Any]
    n_envs: int
    transformer_policy: dict[str, Any]
    mlp_policy: dict[str, Any]
    normalize: bool

    def policy_options(self, policy: str) -> dict[str, Any]:
        """The options block of a policy name."""
        return dict(self.transformer_policy if policy == "transformer" else self.mlp_policy)

    source: str


def load_hyperparameters(algo: str, env_id: str, path: str | Path | None = None) -> Hyperparameters:
    """Loads hyperparameters: the ``default:`` block, then the env id's block.

    Args:
        algo: Algorithm name (selects ``hyperparams/<algo>.yml`` when ``path`` is None).
        env_id: Env id whose block overrides ``default:``.
        path: A user YAML file (same format), or None for the packaged one.

    Returns:
        Validated hyperparameters.

    Raises:
        ConfigError: Unreadable or malformed file, unknown keys, bad values.
    """
    file = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read hyperparameter file {file}: {error.strerror or error}; "
            "pass an existing YAML file to --hyperparams"
        ) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{file}{where}: invalid YAML; fix the syntax") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ConfigError(
            f"{file}: expected a mapping of env ids (and 'default') to mappings of hyperparameters"
        )
    merged: dict[str, Any] = {}
    blocks = []
    for block in ("default", env_id):
        if data.get(block):
            merged.update(data[block])
            blocks.append(block)
    return _validate(algo, merged, f"{file} [{', '.join(blocks) or 'no block'}]")


def _validate(algo: str, values: dict[str, Any], source: str) -> Hyperparameters:
    cls = algorithm_class(algo)
    accepted = set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "policy",
        "env",
        "policy_kwargs",
        "_init_setup_model",
        "seed",
        "tensorboard_log",
        "device",
        "verbose",
    }
    valid = tuple(sorted(accepted | RUNNER_KEYS))
    for key, value in values.items():
        if key not in accepted and key not in RUNNER_KEYS:
            raise ConfigError(
                f"{source}: unknown hyperparameter {key!r} for {algo}{closest(key, valid)}"
            )
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise ConfigError(f"{source}: hyperparameter {key!r} must be finite, got {value}")
    algorithm = {k: v for k, v in values.items() if k not in RUNNER_KEYS}
    for key in ("learning_rate", "n_steps", "batch_size", "buffer_size", "n_epochs"):
        if key in algorithm and (
            isinstance(algorithm[key], bool)
            or not isinstance(algorithm[key], int | float)
            or algorithm[key] <= 0
        ):
            raise ConfigError(f"{source}: {key} must be a positive number, got {algorithm[key]!r}")
    n_envs = values.get("n_envs", 1)
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ConfigError(f"{source}: n_envs must be a positive integer, got {n_envs!r}")
    blocks = {}
    for key in ("transformer_policy", "mlp_policy"):
        blocks[key] = values.get(key) or {}
        if not isinstance(blocks[key], dict):
            raise ConfigError(f"{source}: {key} must be a mapping, got {blocks[key]!r}")
    normalize = values.get("normalize", False)
    if not isinstance(normalize, bool):
        raise ConfigError(f"{source}: normalize must be true or false, got {normalize!r}")
    return Hyperparameters(
        algorithm, n_envs, blocks["transformer_policy"], blocks["mlp_policy"], normalize, source
    )
