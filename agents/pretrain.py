"""Offline pretraining of the transformer backbone on a real log, and starting RL from it.

What is pretrained is exactly what the RL policy uses: a
:class:`~agents.policies.HistoryTransformerExtractor` built for the env's observation
space with the ``transformer_policy`` hyperparameters of the algorithm's YAML (the same
``policy_kwargs`` as :func:`agents.registry.policy_spec`), topped by an
:class:`~agents.policies.ItemScoringHead` with one slot, the policy's action head.

## The task: next-item prediction on time-ordered histories

The env is built (``gym.make(env_id, data_dir=DATA)``) to get its observation space and
its calibrated world, so ids line up: env item id ``k`` is the world's ``item_ids[k - 1]``.
Training rows are the log's interactions strictly before the world's time cut (the
calibration window), on catalog items. Each user's rows are put in time order (ties by log
order); every row is a target, and its input is an env-shaped observation of what came
*before* it in that user's sequence:

- ``item_ids``/``feedback``: the previous ``history_length`` items (oldest first, newest
  last, zero-padded on the left, exactly like the env's history), feedback 1 for a rating
  ``>= click_threshold`` (4), 2 for ``>= purchase_threshold`` (5), else 0 (the
  calibration's engagement mapping);
- ``context``: ``[progress, click rate, 0, ..., 0]`` with ``progress = 1 - exp(-t / 50)``
  for t earlier rows and ``click rate`` the fraction of them with feedback > 0, the env's
  definitions; the observable user features are unknown in a log and stay 0 (the same
  context :class:`agents.offline.PolicyScorer` gives an RL policy).

The target row and everything after it are never in its input (see
:func:`next_item_examples`); the state is read at the extractor's user token, which sees
the input only. The loss is the full softmax over all N items of ``query(state) . item
vector + bias`` (cross-entropy), cheap for N of a few thousand.

## Offline metrics

The held-out window (rows at or after the cut) is scored with :mod:`agents.offline`, the
evaluator of ``evaluate.py --offline``: one target per eligible user (the first held-out
interaction with a catalog item new to them), input = every earlier interaction, full
ranking over the catalog by default (sampled negatives only on request, and labelled),
next to popularity (fitted on the training window), random and matrix factorisation. The
table is repeated for cold-start users (no earlier interaction at all: the input is empty)
and users with history, since on MovieLens most held-out users are new.

## Files

``--output PATH`` (default ``logs/pretrain/<env_id>/backbone.pt``) gets the weights,
``{"extractor": state_dict, "head": state_dict}`` (tensors only, read back with
``torch.load(..., weights_only=True)``), and ``PATH.json`` beside it: the env id and
keywords, item count, observation shapes, architecture, data checksum, cut, training
settings and losses, the offline metrics and the weights' SHA-256 (``backbone.pt`` ->
``backbone.pt.json``). Both are written atomically.

## Starting RL from it

``python train.py --init-from PATH ...`` checks the file against the run (item count,
context size, ``hidden_dim``/``n_layers``/``n_heads``/``use_item_features``, parameter
shapes, the catalog's item features) before anything is created, then loads the backbone
into the policy's features extractor(s) (PPO: the shared one; DQN: the online and the
target Q-network's) and, unless ``--no-init-head``, the pretrained scoring head into the
action head (slate envs: every slot gets it).

Command line::

    python train.py --pretrain ../shared/data/ml-100k --pretrain-epochs 10
    python -m agents.pretrain ../shared/data/ml-100k --epochs 10 --output backbone.pt

Seeding: :func:`pretrain` calls ``torch.manual_seed(seed)`` once before building the
network (initial weights, dropout); batches are shuffled by a ``torch.Generator`` seeded
with ``seed``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from torch import nn

import rec_gym
from agents.checkpoints import atomic_write, atomic_write_text, sha256_file
from agents.policies import HistoryTransformerExtractor, ItemScoringHead
from agents.registry import ConfigError, load_hyperparameters, policy_spec
from rec_gym.envs.rec_env import PROGRESS_TABLE

#: Version of the backbone file layout (the sidecar's ``format``).
BACKBONE_FORMAT = 1
#: The data keyword of each calibrated env id.
DATA_KEYWORDS = {"RecEnv-MovieLens-v0": "data_dir", "RecEnv-Logs-v0": "data_path"}
#: Architecture keys that must match between the backbone and the RL policy.
ARCHITECTURE_KEYS = ("hidden_dim", "n_layers", "n_heads", "use_item_features")


@dataclass(frozen=True)
class PretrainConfig:
    """Settings of a pretraining run.

    Attributes:
        data: Dataset folder (MovieLens) or log file of the calibrated env.
        env_id: A calibrated env id (``RecEnv-MovieLens-v0`` or ``RecEnv-Logs-v0``).
        env_kwargs: Other keywords of ``gym.make`` (e.g. ``cache_dir``, ``calibration``).
        algo: Algorithm whose hyperparameters give the architecture (``transformer_policy``).
        hyperparams: A hyperparameter YAML (None: the packaged one of ``algo``).
        epochs: Passes over the training examples.
        batch_size: Examples per gradient step.
        learning_rate: AdamW's learning rate.
        weight_decay: AdamW's weight decay.
        dropout: Dropout inside the encoder while pretraining (not a parameter: the RL
            policy, built with dropout 0, loads the same weights).
        seed: Seeds the initial weights, dropout and the batch order.
        output: Where the weights go (the sidecar is ``<output>.json``); None:
            ``logs/pretrain/<env_id>/backbone.pt``.
        k_values: K of HR@K and NDCG@K.
        protocol: ``full`` (default) or ``sampled``.
        negatives: Sampled negatives per user (``sampled`` only).
        baselines: Offline scorers shown next to the backbone (random, popularity, mf).
        threads: Torch intra-op threads (1 avoids oversubscription on shared CPUs).
        device: Torch device.
    """

    data: str
    env_id: str = "RecEnv-MovieLens-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "ppo"
    hyperparams: str | None = None
    epochs: int = 5
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    dropout: float = 0.1
    seed: int = 0
    output: str | None = None
    k_values: tuple[int, ...] = (10, 20)
    protocol: str = "full"
    negatives: int | None = None
    baselines: tuple[str, ...] = ("random", "popularity", "mf")
    threads: int = 1
    device: str = "cpu"

    def output_path(self) -> Path:
        """The weights file."""
        if self.output is not None:
            return Path(self.output)
        return Path("logs") / "pretrain" / self.env_id / "backbone.pt"


# -- the task -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NextItemExamples:
    """Env-shaped inputs and next-item targets (one example per training row).

    Attributes:
        item_ids: Previous items, oldest first, 0-padded on the left, ``[M, L]``.
        feedback: Their feedback codes, ``[M, L]``.
        context: ``[progress, click rate, 0...]``, ``[M, C]`` float32.
        targets: The row's env item id (1..N), ``[M]``.
        users: The row's user, ``[M]``.
        positions: Index of the row in its user's time-ordered sequence, ``[M]``.
    """

    item_ids: np.ndarray
    feedback: np.ndarray
    context: np.ndarray
    targets: np.ndarray
    users: np.ndarray
    positions: np.ndarray

    @property
    def n_examples(self) -> int:
        """Number of examples."""
        return int(self.targets.shape[0])


def context_rows(lengths: np.ndarray, clicks: np.ndarray, context_dim: int) -> np.ndarray:
    """The env's context for histories of ``lengths`` rows with ``clicks`` engaged ones.

    Args:
        lengths: Number of earlier rows per example, ``[M]``.
        clicks: How many of them had feedback > 0, ``[M]``.
        context_dim: The env's context size (2 + user features, which stay 0).

    Returns:
        ``[M, context_dim]`` float32.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    context = np.zeros((lengths.shape[0], context_dim), dtype=np.float32)
    context[:, 0] = PROGRESS_TABLE[np.minimum(lengths, PROGRESS_TABLE.shape[0] - 1)]
    context[:, 1] = np.asarray(clicks, dtype=np.float64) / np.maximum(lengths, 1)
    return context


def next_item_examples(
    user: np.ndarray,
    item: np.ndarray,
    time: np.ndarray,
    level: np.ndarray,
    *,
    history_length: int,
    context_dim: int,
) -> NextItemExamples:
    """One example per row: the row's item is the target, the rows before it the input.

    Rows are ordered by user, then time, then their order in the arrays. The input of the
    row at position ``t`` of its user's sequence holds positions ``t - L .. t - 1`` only
    (fewer at the start), so it never contains the target row or any later one.

    Args:
        user: User per row, ``[M]``.
        item: Env item id (1..N) per row, ``[M]``.
        time: Time per row, ``[M]``.
        level: Engagement level (0 none, 1 click, 2 purchase) per row, ``[M]``.
        history_length: The env's history length L.
        context_dim: The env's context size.

    Returns:
        The examples, in (user, time) order.
    """
    user = np.asarray(user, dtype=np.int64)
    rows = np.arange(user.shape[0])
    order = np.lexsort((rows, np.asarray(time), user))
    user_o = user[order]
    item_o = np.asarray(item, dtype=np.int64)[order]
    level_o = np.clip(np.asarray(level, dtype=np.int64)[order], 0, 2)
    first = np.r_[True, user_o[1:] != user_o[:-1]] if user.size else np.zeros(0, dtype=bool)
    start_of = np.maximum.accumulate(np.where(first, rows, 0)) if user.size else rows
    position = rows - start_of  # index within the user's sequence
    lag = np.arange(history_length, 0, -1)  # oldest first: lag L .. 1
    source = rows[:, None] - lag[None, :]  # [M, L], strictly before each row
    valid = source >= start_of[:, None]
    source = np.where(valid, source, 0)
    ids = np.where(valid, item_o[source], 0) if user.size else source
    codes = np.where(valid, level_o[source], 0) if user.size else source
    engaged: np.ndarray = np.cumsum(level_o > 0) - (level_o > 0)  # engaged rows before each
    clicks: np.ndarray = engaged - engaged[start_of] if user.size else engaged
    return NextItemExamples(
        item_ids=ids.astype(np.int64),
        feedback=codes.astype(np.int64),
        context=context_rows(position, clicks, context_dim),
        targets=item_o,
        users=user_o,
        positions=position,
    )


def history_observations(
    sequences: Sequence[np.ndarray],
    feedback: Sequence[np.ndarray] | None,
    history_length: int,
    context_dim: int,
) -> dict[str, np.ndarray]:
    """Env-shaped observations of whole input sequences (the evaluation-time inputs).

    The same layout as :func:`next_item_examples`: last ``history_length`` items, newest
    last, 0-padded; context from the full sequence.
    """
    batch = len(sequences)
    ids = np.zeros((batch, history_length), dtype=np.int64)
    codes = np.zeros((batch, history_length), dtype=np.int64)
    lengths = np.zeros(batch, dtype=np.int64)
    clicks = np.zeros(batch, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        seq = np.asarray(sequence, dtype=np.int64)
        fb = (
            np.clip(np.asarray(feedback[row], dtype=np.int64), 0, 2)
            if feedback is not None
            else np.zeros_like(seq)
        )
        tail = min(history_length, seq.shape[0])
        if tail:
            ids[row, history_length - tail :] = seq[-tail:]
            codes[row, history_length - tail :] = fb[-tail:]
        lengths[row] = seq.shape[0]
        clicks[row] = int((fb > 0).sum())
    return {
        "item_ids": ids,
        "feedback": codes,
        "context": context_rows(lengths, clicks, context_dim),
    }


def _tensors(obs: dict[str, np.ndarray], device: str | torch.device) -> dict[str, torch.Tensor]:
    # SB3 hands observations to the extractor as float32; do the same.
    return {k: torch.as_tensor(v, dtype=torch.float32, device=device) for k, v in obs.items()}


# -- the network --------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvFacts:
    """What pretraining needs from the env: its spaces, world and the policy's kwargs.

    Attributes:
        observation_space: The env's ``Dict`` observation space.
        world: Its calibrated world (item mapping, cut, settings, provenance).
        extractor_kwargs: ``features_extractor_kwargs`` of the RL transformer policy.
        architecture: ``hidden_dim``, ``n_layers``, ``n_heads``, ``use_item_features``.
        hyperparameters_source: Where the architecture came from.
    """

    observation_space: spaces.Dict
    world: Any
    extractor_kwargs: dict[str, Any]
    architecture: dict[str, Any]
    hyperparameters_source: str

    @property
    def n_items(self) -> int:
        """Catalog size N."""
        return int(np.max(_box(self.observation_space, "item_ids").high))

    @property
    def history_length(self) -> int:
        """The env's history length L."""
        return int(_box(self.observation_space, "item_ids").shape[0])

    @property
    def context_dim(self) -> int:
        """The env's context size."""
        return int(_box(self.observation_space, "context").shape[0])


def _box(space: spaces.Dict, key: str) -> spaces.Box:
    box = space[key]
    assert isinstance(box, spaces.Box)
    return box


def architecture_of(options: dict[str, Any]) -> dict[str, Any]:
    """The architecture a ``transformer_policy`` options block gives (packaged defaults)."""
    defaults = {"hidden_dim": 64, "n_layers": 2, "n_heads": 2, "use_item_features": True}
    return {key: options.get(key, defaults[key]) for key in ARCHITECTURE_KEYS}


def extractor_kwargs_for(
    algo: str, options: dict[str, Any], item_features: np.ndarray | None
) -> dict[str, Any]:
    """The RL policy's ``features_extractor_kwargs`` (via :func:`agents.registry.policy_spec`)."""
    _, policy_kwargs = policy_spec(algo, "transformer", options, item_features)
    return dict(policy_kwargs["features_extractor_kwargs"])


def env_facts(config: PretrainConfig) -> EnvFacts:
    """Builds the env once for its observation space, world and policy kwargs.

    Raises:
        ConfigError: Unknown or non-calibrated env id, bad keywords or data.
    """
    from rec_gym.data import DataError

    if config.env_id not in DATA_KEYWORDS:
        raise ConfigError(
            f"--pretrain needs a calibrated env, got {config.env_id!r}; use "
            f"{' or '.join(DATA_KEYWORDS)}"
        )
    kwargs = {**config.env_kwargs, DATA_KEYWORDS[config.env_id]: config.data}
    try:
        env = gym.make(config.env_id, **kwargs)
    except (DataError, TypeError, ValueError) as error:
        raise ConfigError(f"{config.env_id}: {error}") from None
    try:
        unwrapped: Any = env.unwrapped
        observation_space = env.observation_space
        world = unwrapped.world
        item_features = unwrapped.simulator.catalog.public_features()
    finally:
        env.close()
    assert isinstance(observation_space, spaces.Dict)
    hyperparameters = load_hyperparameters(config.algo, config.env_id, config.hyperparams)
    options = hyperparameters.policy_options("transformer")
    return EnvFacts(
        observation_space=observation_space,
        world=world,
        extractor_kwargs=extractor_kwargs_for(config.algo, options, item_features),
        architecture=architecture_of(options),
        hyperparameters_source=hyperparameters.source,
    )


class NextItemModel(nn.Module):
    """The RL policy's backbone plus a one-slot scoring head (``[B, N]`` logits).

    Args:
        observation_space: The env's observation space.
        extractor_kwargs: The RL policy's ``features_extractor_kwargs``.
        dropout: Dropout inside the encoder (pretraining only).
    """

    def __init__(
        self, observation_space: spaces.Dict, extractor_kwargs: dict[str, Any], dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.extractor = HistoryTransformerExtractor(
            observation_space, **{**extractor_kwargs, "dropout": dropout}
        )
        self.head = ItemScoringHead(self.extractor.features_dim, self.extractor, slate_size=1)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Next-item logits ``[B, N]`` (item id k is column k - 1)."""
        return self.head(self.extractor(observations))  # [B, N]


class BackboneScorer:
    """An :class:`agents.offline.ItemScorer` from a :class:`NextItemModel`.

    Args:
        model: The pretrained model.
        history_length: The env's history length.
        context_dim: The env's context size.
        batch_size: Users per forward pass.
        name: Name in result tables.
    """

    def __init__(
        self,
        model: NextItemModel,
        history_length: int,
        context_dim: int,
        batch_size: int = 512,
        name: str = "pretrained",
    ) -> None:
        self.model = model
        self.name = name
        self.n_items = int(model.extractor.n_items)
        self.history_length = int(history_length)
        self.context_dim = int(context_dim)
        self.batch_size = int(batch_size)

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Next-item logits for each input sequence, ``[B, N]``."""
        device = next(self.model.parameters()).device
        self.model.eval()
        out = np.zeros((len(sequences), self.n_items))
        for start in range(0, len(sequences), self.batch_size):
            chunk = list(sequences[start : start + self.batch_size])
            chunk_fb = None if feedback is None else list(feedback[start : start + len(chunk)])
            obs = history_observations(chunk, chunk_fb, self.history_length, self.context_dim)
            with torch.no_grad():
                out[start : start + len(chunk)] = self.model(_tensors(obs, device)).cpu().numpy()
        return out


# -- training -----------------------------------------------------------------------------


def fit_next_item(
    model: NextItemModel,
    examples: NextItemExamples,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    seed: int,
    device: str = "cpu",
    log: Callable[[str], Any] = print,
) -> list[float]:
    """Trains ``model`` with full-softmax cross-entropy; returns the mean loss per epoch.

    Args:
        model: The network (in place).
        examples: Training inputs and targets.
        epochs: Passes over the examples.
        batch_size: Examples per step.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW weight decay.
        seed: Seeds the batch order (a ``torch.Generator``).
        device: Torch device.
        log: Where per-epoch lines go.
    """
    obs = _tensors(
        {
            "item_ids": examples.item_ids,
            "feedback": examples.feedback,
            "context": examples.context,
        },
        device,
    )
    targets = torch.as_tensor(examples.targets - 1, dtype=torch.long, device=device)  # [M]
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    n = examples.n_examples
    for epoch in range(epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)
        total = 0.0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            logits = model({key: value[index] for key, value in obs.items()})  # [B, N]
            loss = nn.functional.cross_entropy(logits, targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * index.shape[0]
        losses.append(total / max(n, 1))
        log(
            f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} "
            f"({time.perf_counter() - started:.1f} s)"
        )
    model.eval()
    return losses


def training_examples(facts: EnvFacts, data: str | Path) -> tuple[NextItemExamples, dict[str, Any]]:
    """The training window's next-item examples (rows before the cut, catalog items).

    Returns:
        The examples and counts for the report.
    """
    from rec_gym.data import load_log
    from rec_gym.data.calibration import engagement_levels

    world = facts.world
    fmt = world.meta.get("format", "auto")
    columns = world.meta.get("columns")
    log = load_log(data, fmt, columns)
    level = engagement_levels(log, world.settings)
    train = log.time < world.cut_time
    ids = world.env_item_ids(log.item[train])
    known = ids > 0
    examples = next_item_examples(
        log.user[train][known],
        ids[known],
        log.time[train][known],
        level[train][known],
        history_length=facts.history_length,
        context_dim=facts.context_dim,
    )
    counts = {
        "training_rows": int(train.sum()),
        "training_rows_outside_catalog": int((~known).sum()),
        "examples": examples.n_examples,
        "users": int(np.unique(examples.users).shape[0]),
    }
    return examples, counts


# -- offline evaluation -------------------------------------------------------------------


def evaluate_offline(
    scorer: Any, facts: EnvFacts, config: PretrainConfig
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Scores the backbone and baselines on the held-out window with :mod:`agents.offline`.

    Returns:
        ``(results by scorer name, data summary, printable table)``.
    """
    from agents.offline import (
        load_offline_task,
        ranking_metrics,
    )

    world = facts.world
    settings = world.settings
    task = load_offline_task(
        config.data,
        cut_time=world.cut_time,
        catalog_item_ids=world.item_ids,
        click_threshold=settings.click_threshold,
        purchase_threshold=settings.purchase_threshold,
    )
    data = task.data
    scorers: list[Any] = [scorer]
    scorers.extend(task.baseline(name, config.seed) for name in config.baselines)
    results = task.evaluate(
        scorers,
        protocol=config.protocol,
        k_values=config.k_values,
        negatives=config.negatives,
        seed=config.seed,
    )
    first = next(iter(results.values()))
    label = first.protocol_label()
    cold = np.array([len(sequence) == 0 for sequence in data.sequences])
    groups = {"all users": np.ones_like(cold), "cold start": cold, "with history": ~cold}
    lines = [
        f"offline next-item metrics on the held-out window of {config.data}: "
        f"{data.n_users} eligible users, all evaluated ({data.n_heldout_users} with held-out "
        f"interactions; not eligible: {data.not_eligible}; cold start, i.e. no earlier "
        f"interaction: {data.n_cold_start})",
        f"protocol {label['protocol']}, negatives {label['negatives']} "
        f"({label['negative_kind']}), seed {label['seed']}, ties {label['ties']}; "
        "means ± 95% CI half-widths over users",
    ]
    by_group: dict[str, dict[str, Any]] = {name: {} for name in results}
    for group, mask in groups.items():
        if not mask.any():
            continue
        metrics = {
            name: ranking_metrics(result.ranks[mask], config.k_values)
            for name, result in results.items()
        }
        names = list(next(iter(metrics.values())))
        lines += ["", f"{group} ({int(mask.sum())})"]
        lines.append(f"{'scorer':<12}" + "".join(f"{name:>15}" for name in names))
        for name, values in metrics.items():
            by_group[name][group] = {k: v.mean for k, v in values.items()}
            cells = [
                f"{m.mean:.3f}±{(m.high - m.low) / 2:.3f}"
                if math.isfinite(m.high)
                else f"{m.mean:.3f}"
                for m in values.values()
            ]
            lines.append(f"{name:<12}" + "".join(f"{cell:>15}" for cell in cells))
    summary = {**task.source, **data.summary()}
    out = {name: {**r.to_dict(), "by_group": by_group[name]} for name, r in results.items()}
    return out, summary, "\n".join(lines)


# -- saving and loading -------------------------------------------------------------------


def sidecar_path(path: Path) -> Path:
    """``backbone.pt`` -> ``backbone.pt.json``."""
    return path.with_name(path.name + ".json")


def save_backbone(model: NextItemModel, path: Path, meta: dict[str, Any]) -> Path:
    """Writes the weights and the JSON sidecar atomically; returns the sidecar path."""
    weights = {
        "extractor": {k: v.detach().cpu() for k, v in model.extractor.state_dict().items()},
        "head": {k: v.detach().cpu() for k, v in model.head.state_dict().items()},
    }
    atomic_write(path, lambda tmp: torch.save(weights, tmp))
    sidecar = sidecar_path(path)
    full = {**meta, "weights_file": path.name, "weights_sha256": sha256_file(path)}
    atomic_write_text(sidecar, json.dumps(full, indent=2, sort_keys=False) + "\n")
    return sidecar


@dataclass(frozen=True)
class Backbone:
    """A pretrained backbone read back from disk (checked against a run).

    Attributes:
        extractor: State dict of the :class:`~agents.policies.HistoryTransformerExtractor`.
        head: State dict of the one-slot :class:`~agents.policies.ItemScoringHead`.
        meta: The sidecar.
        path: The weights file.
    """

    extractor: dict[str, torch.Tensor]
    head: dict[str, torch.Tensor]
    meta: dict[str, Any]
    path: Path


def read_backbone(path: Path | str) -> Backbone:
    """Reads a backbone file and its sidecar (``torch.load(..., weights_only=True)``).

    Raises:
        ConfigError: Missing, unreadable, corrupted or not a backbone file.
    """
    path = Path(path)
    hint = "pass a .pt written by train.py --pretrain"
    if not path.is_file():
        raise ConfigError(f"--init-from: {path} does not exist; {hint}")
    sidecar = sidecar_path(path)
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        kind = "missing" if isinstance(error, OSError) else "not valid JSON"
        raise ConfigError(f"--init-from: its sidecar {sidecar} is {kind}; {hint}") from None
    if not isinstance(meta, dict) or meta.get("format") != BACKBONE_FORMAT:
        raise ConfigError(f"--init-from: {sidecar} is not a backbone sidecar of format 1; {hint}")
    if meta.get("weights_sha256") != sha256_file(path):
        raise ConfigError(
            f"--init-from: {path} does not match the checksum in {sidecar.name} (corrupted or "
            "replaced); pretrain again"
        )
    try:
        weights = torch.load(path, map_location="cpu", weights_only=True)
        extractor, head = dict(weights["extractor"]), dict(weights["head"])
    except Exception as error:  # torch raises many kinds on a bad file
        raise ConfigError(
            f"--init-from: cannot read {path} ({type(error).__name__}); {hint}"
        ) from None
    return Backbone(extractor, head, meta, path)


def check_backbone(
    path: Path | str,
    observation_space: spaces.Space[Any],
    extractor_kwargs: dict[str, Any],
    architecture: dict[str, Any],
    env_id: str,
) -> Backbone:
    """Reads a backbone and checks it fits a run's transformer policy.

    Args:
        path: The weights file.
        observation_space: The run's env observation space.
        extractor_kwargs: The run's ``features_extractor_kwargs``.
        architecture: The run's ``hidden_dim``/``n_layers``/``n_heads``/``use_item_features``.
        env_id: The run's env id (for messages).

    Raises:
        ConfigError: One line naming the mismatch and the fix.
    """
    backbone = read_backbone(path)
    meta = backbone.meta
    name = backbone.path.name
    fix = "pretrain on the same env and data with the same transformer_policy, or drop --init-from"
    if not isinstance(observation_space, spaces.Dict) or "item_ids" not in observation_space.spaces:
        raise ConfigError(f"--init-from needs a rec-gym env, got {env_id}")
    n_items = int(np.max(_box(observation_space, "item_ids").high))
    if meta.get("n_items") != n_items:
        raise ConfigError(
            f"--init-from: {name} was pretrained for {meta.get('n_items')} items but {env_id} "
            f"has {n_items}; {fix}"
        )
    context_dim = int(_box(observation_space, "context").shape[0])
    if meta.get("context_dim") != context_dim:
        raise ConfigError(
            f"--init-from: {name} has context size {meta.get('context_dim')} but {env_id} has "
            f"{context_dim}; {fix}"
        )
    pretrained = meta.get("architecture", {})
    for key in ARCHITECTURE_KEYS:
        if pretrained.get(key) != architecture.get(key):
            raise ConfigError(
                f"--init-from: {name} has {key}={pretrained.get(key)} but the policy has "
                f"{key}={architecture.get(key)}; {fix}"
            )
    reference = HistoryTransformerExtractor(observation_space, **extractor_kwargs).state_dict()
    _check_shapes(name, "extractor", reference, backbone.extractor, fix)
    if "item_features" in reference and not torch.allclose(
        reference["item_features"], backbone.extractor["item_features"].float(), atol=1e-5
    ):
        raise ConfigError(
            f"--init-from: {name} was pretrained on a different catalog (item features "
            f"differ from {env_id}'s); {fix}"
        )
    return backbone


def _check_shapes(
    name: str,
    part: str,
    reference: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    fix: str,
) -> None:
    missing = sorted(set(reference) ^ set(weights))
    if missing:
        raise ConfigError(f"--init-from: {name} {part} parameter {missing[0]!r} differs; {fix}")
    for key, tensor in reference.items():
        if tuple(weights[key].shape) != tuple(tensor.shape):
            raise ConfigError(
                f"--init-from: {name} {part} parameter {key!r} has shape "
                f"{tuple(weights[key].shape)}, the policy's {tuple(tensor.shape)}; {fix}"
            )


def _load_head(head: ItemScoringHead, weights: dict[str, torch.Tensor]) -> bool:
    """Loads the one-slot head into ``head`` (repeated over slate slots); False if it differs."""
    query_w, query_b, bias = weights["query.weight"], weights["query.bias"], weights["item_bias"]
    slots = head.slate_size
    if head.query.in_features != query_w.shape[1] or head.item_bias.shape[1] != bias.shape[1]:
        return False
    head.load_state_dict(
        {
            "query.weight": query_w.repeat(slots, 1),
            "query.bias": query_b.repeat(slots),
            "item_bias": bias.repeat(slots, 1),
        }
    )
    return True


def init_from_backbone(model: BaseAlgorithm, backbone: Backbone, head: bool = True) -> list[str]:
    """Loads a checked backbone into an SB3 transformer policy (in place).

    PPO/MaskablePPO: the features extractor (all of them when not shared) and the action
    head. DQN: the online and target Q-networks' extractors and heads. The optimizer keeps
    its (still empty) state: parameters are copied in place.

    Args:
        model: A freshly built model with the transformer policy.
        backbone: From :func:`check_backbone`.
        head: Also load the pretrained scoring head into the action/Q head.

    Returns:
        Names of the modules that were loaded.
    """
    policy: Any = model.policy
    loaded: list[str] = []
    if hasattr(policy, "q_net"):
        pairs = [("q_net", policy.q_net), ("q_net_target", policy.q_net_target)]
        for name, q_net in pairs:
            q_net.features_extractor.load_state_dict(backbone.extractor)
            loaded.append(f"{name}.features_extractor")
            last = q_net.q_net[-1]
            if head and isinstance(last, ItemScoringHead) and _load_head(last, backbone.head):
                loaded.append(f"{name}.head")
        return loaded
    extractors = {
        "features_extractor": policy.features_extractor,
        "pi_features_extractor": policy.pi_features_extractor,
        "vf_features_extractor": policy.vf_features_extractor,
    }
    seen: set[int] = set()
    for name, extractor in extractors.items():
        if extractor is None or id(extractor) in seen:
            continue
        seen.add(id(extractor))
        extractor.load_state_dict(backbone.extractor)
        loaded.append(name)
    action_net = getattr(policy, "action_net", None)
    if head and isinstance(action_net, ItemScoringHead) and _load_head(action_net, backbone.head):
        loaded.append("action_net")
    return loaded


# -- the whole job ------------------------------------------------------------------------


def validate_config(config: PretrainConfig) -> PretrainConfig:
    """Checks the settings that need no data.

    Raises:
        ConfigError: One line naming the problem and the fix.
    """
    for name in ("epochs", "batch_size", "threads"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            flag = "--pretrain-epochs" if name == "epochs" else f"--{name.replace('_', '-')}"
            raise ConfigError(f"{flag} must be a positive integer, got {value!r}")
    for name in ("learning_rate",):
        value = getattr(config, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(f"--learning-rate must be a positive number, got {value!r}")
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"--dropout must be in [0, 1), got {config.dropout!r}")
    if config.protocol not in ("full", "sampled"):
        raise ConfigError(f"--protocol must be full or sampled, got {config.protocol!r}")
    if config.protocol == "full" and config.negatives is not None:
        raise ConfigError("--negatives applies to --protocol sampled only")
    if config.protocol == "sampled" and config.negatives is None:
        config = dataclasses.replace(config, negatives=100)
    unknown = [b for b in config.baselines if b not in ("random", "popularity", "mf")]
    if unknown:
        raise ConfigError(f"unknown offline baseline {unknown[0]!r}; valid: random, popularity, mf")
    if not Path(config.data).expanduser().exists():
        raise ConfigError(f"--pretrain: {config.data} does not exist; pass the dataset folder")
    output = config.output_path()
    if output.exists() and output.is_dir():
        raise ConfigError(f"--output {output} is a folder; pass a file path such as backbone.pt")
    return config


def pretrain(config: PretrainConfig, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Pretrains the backbone, scores it offline, saves it; returns the sidecar contents.

    Raises:
        ConfigError: Bad settings or data (one line).
    """
    config = validate_config(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _pretrain(config, log)
    finally:
        torch.set_num_threads(threads)


def _pretrain(config: PretrainConfig, log: Callable[[str], Any]) -> dict[str, Any]:
    from rec_gym.data import DataError

    started = time.perf_counter()
    try:
        facts = env_facts(config)
        examples, counts = training_examples(facts, config.data)
    except DataError as error:
        raise ConfigError(str(error)) from None
    if examples.n_examples == 0:
        raise ConfigError(f"{config.data}: no training rows before the cut; use more data")
    log(
        f"pretraining the {config.algo} transformer backbone ({facts.architecture}) on "
        f"{counts['examples']} next-item examples of {counts['users']} users "
        f"(rows before the cut {facts.world.cut_time}), {facts.n_items} items, "
        f"history {facts.history_length}"
    )
    torch.manual_seed(config.seed)  # seeding point: initial weights and dropout
    model = NextItemModel(facts.observation_space, facts.extractor_kwargs, config.dropout)
    model.to(config.device)
    losses = fit_next_item(
        model,
        examples,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        seed=config.seed,
        device=config.device,
        log=log,
    )
    train_seconds = time.perf_counter() - started
    scorer = BackboneScorer(model, facts.history_length, facts.context_dim)
    try:
        results, summary, table = evaluate_offline(scorer, facts, config)
    except DataError as error:
        raise ConfigError(str(error)) from None
    log("")
    log(table)
    env_kwargs = {**config.env_kwargs, DATA_KEYWORDS[config.env_id]: str(config.data)}
    meta = {
        "format": BACKBONE_FORMAT,
        "env_id": config.env_id,
        "env_kwargs": _jsonable(env_kwargs),
        "algo": config.algo,
        "n_items": facts.n_items,
        "history_length": facts.history_length,
        "context_dim": facts.context_dim,
        "architecture": facts.architecture,
        "hyperparameters_source": facts.hyperparameters_source,
        "data": {
            "path": str(config.data),
            "checksum": facts.world.meta.get("data_checksum"),
            "cut_time": facts.world.cut_time,
            **counts,
        },
        "training": {
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay,
            "dropout": config.dropout,
            "seed": config.seed,
            "loss": "full softmax cross-entropy over all items",
            "epoch_losses": losses,
            "seconds": train_seconds,
        },
        "offline": {"protocol": config.protocol, "data": summary, "scorers": results},
        "versions": {
            "rec_gym": rec_gym.__version__,
            "python": platform.python_version(),
            "torch": str(torch.__version__),
        },
    }
    output = config.output_path()
    sidecar = save_backbone(model, output, meta)
    log(f"\nwrote {output} and {sidecar.name} ({time.perf_counter() - started:.0f} s in all)")
    algo = "" if config.algo == "ppo" else f" --algo {config.algo}"
    data = f"{DATA_KEYWORDS[config.env_id]}={config.data}"
    log(
        f"start RL from it: python train.py{algo} --env {config.env_id} --env-kwargs {data} "
        f"--init-from {output}"
    )
    return {**meta, "weights_file": output.name}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# -- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise ConfigError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m agents.pretrain`` argument parser."""
    parser = _Parser(
        prog="python -m agents.pretrain",
        description="Pretrain the transformer backbone on a real log (next-item prediction).",
    )
    add = parser.add_argument
    add("data", help="dataset folder (e.g. ../shared/data/ml-100k)")
    add("--env", dest="env_id", default="RecEnv-MovieLens-v0", help="calibrated env id")
    add("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env keywords")
    add("--algo", default="ppo", help="hyperparameters giving the architecture (default: ppo)")
    add("--hyperparams", default=None, help="hyperparameter YAML (default: packaged)")
    add("--epochs", type=int, default=PretrainConfig.epochs, help="passes over the data")
    add("--batch-size", type=int, default=PretrainConfig.batch_size, help="examples per step")
    add("--learning-rate", type=float, default=PretrainConfig.learning_rate, help="AdamW lr")
    add("--dropout", type=float, default=PretrainConfig.dropout, help="encoder dropout")
    add("--seed", type=int, default=0, help="seed of weights, dropout and batch order")
    add("--output", default=None, help="weights file (default: logs/pretrain/<env>/backbone.pt)")
    add("--k", type=int, nargs="+", default=[10, 20], help="K of HR@K and NDCG@K")
    add("--protocol", default="full", help="full (default) or sampled")
    add("--negatives", type=int, default=None, help="sampled negatives (default 100)")
    add("--threads", type=int, default=1, help="torch threads (default 1)")
    add("--device", default="cpu", help="torch device")
    add("--debug", action="store_true", help="show full tracebacks")
    return parser


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """A :class:`PretrainConfig` from :func:`build_parser`'s arguments."""
    from agents.runner import parse_env_kwargs

    return PretrainConfig(
        data=args.data,
        env_id=args.env_id,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        algo=args.algo.lower(),
        hyperparams=args.hyperparams,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        seed=args.seed,
        output=args.output,
        k_values=tuple(args.k),
        protocol=args.protocol,
        negatives=args.negatives,
        threads=args.threads,
        device=args.device,
    )


def pretrain_config_from_train_args(args: argparse.Namespace) -> PretrainConfig:
    """A :class:`PretrainConfig` from ``train.py --pretrain DATA`` arguments.

    ``--env`` defaults to ``RecEnv-MovieLens-v0`` here (train.py's own default,
    ``RecEnv-v0``, has no data); ``--env-kwargs``, ``--algo``, ``--hyperparams``,
    ``--seed``, ``--device``, ``--pretrain-epochs`` and ``--output`` apply.
    """
    from agents.runner import parse_env_kwargs

    env_id = "RecEnv-MovieLens-v0" if args.env_id == "RecEnv-v0" else args.env_id
    return PretrainConfig(
        data=args.pretrain,
        env_id=env_id,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        algo=args.algo.lower(),
        hyperparams=args.hyperparams,
        epochs=args.pretrain_epochs,
        seed=args.seed,
        output=args.output,
        device=args.device,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m agents.pretrain``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        pretrain(config_from_args(build_parser().parse_args(argv)))
        return 0
    except ConfigError as error:
        if "--debug" in argv:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
