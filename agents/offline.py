"""Offline evaluation: next-item prediction on the held-out part of a real interaction log.

The protocol, stated in every result (:meth:`NextItemResult.protocol_label`):

- **Time split.** One global cut: interactions strictly before ``cut_time`` are the
  training window (what popularity and the factorization model are fitted on, and what a
  calibrated env saw); those at or after it are held out.
- **One target per user.** A user is *eligible* when they have a held-out interaction
  with a catalog item they had not interacted with before; the first such interaction
  (time order, ties by log order) is their target, and every eligible user is evaluated.
  The input sequence is every interaction of that user *strictly earlier* than the target
  (both windows, catalog items only, oldest first): it never contains the target item,
  nor anything at or after the target's time. Users with held-out interactions who are
  not eligible (their held-out items are all new to the catalog, or repeats) are counted
  by reason in the report, never silently dropped.
- **Full ranking (default).** The target is ranked against every catalog item except the
  ones in the user's input sequence. **Sampled (on request).** The target is ranked
  against ``negatives`` items drawn uniformly, with a seeded generator, from the items the
  user never interacted with.
- **Ties** count pessimistically (a constant scorer gets the worst rank, see
  :func:`rec_gym.metrics.rank_of_target`). HR@K, NDCG@K and MRR are means over users with
  95% t-intervals.

:func:`evaluate_next_item` works for any :class:`ItemScorer` (random, popularity, a
factorization model, an SB3 policy through :class:`PolicyScorer`, or a pretrained
backbone): it only sees input sequences. Item ids are 1-based (0 is padding), as in the
env's observations; scores index ``[:, id - 1]``.

Example:
    >>> import numpy as np
    >>> scorer = RandomScorer(n_items=50, seed=0)
    >>> sequences = [np.array([1, 2]), np.array([], dtype=np.int64)]
    >>> result = evaluate_next_item(
    ...     scorer, sequences, np.array([3, 4]), protocol="full", k_values=(10,),
    ...     negatives=None, seed=0,
    ... )
    >>> result.protocol_label()["protocol"], result.n_users
    ('full', 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rec_gym.envs.rec_env import PROGRESS_TABLE
from rec_gym.metrics import Ties, mean_confidence_interval, rank_of_target, sampled_rank

PROTOCOLS = ("full", "sampled")
#: Kind of negatives of each protocol, as written in every result.
NEGATIVE_KINDS = {
    "full": "all catalog items except the user's input sequence",
    "sampled": "uniform non-interacted",
}
TIES: Ties = "pessimistic"


# -- scorers ------------------------------------------------------------------------------


@runtime_checkable
class ItemScorer(Protocol):
    """Anything that scores every catalog item given users' input sequences.

    Attributes:
        name: Name shown in result tables.
        n_items: Catalog size N (item ids ``1..N``).
    """

    name: str
    n_items: int

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None
    ) -> np.ndarray:
        """Scores ``[B, N]`` (higher is better) for B input sequences of item ids ``1..N``.

        Args:
            sequences: One int64 array of item ids per user, oldest first.
            feedback: Per-position feedback codes (0 none, 1 click, 2 purchase), or None.
        """
        ...


class RandomScorer:
    """Uniform random scores (a sanity baseline: HR@K = K / candidates in expectation).

    Args:
        n_items: Catalog size.
        seed: Seed of its generator.
    """

    def __init__(self, n_items: int, seed: int, name: str = "random") -> None:
        self.name = name
        self.n_items = int(n_items)
        self.rng = np.random.default_rng(seed)

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """Independent uniform scores, ``[B, N]``."""
        return self.rng.random((len(sequences), self.n_items))


class PopularityScorer:
    """Scores every item by its number of interactions in the training window.

    Args:
        counts: Interaction count of each catalog item, ``[N]``.
    """

    def __init__(self, counts: np.ndarray, name: str = "popularity") -> None:
        self.name = name
        self.counts = np.asarray(counts, dtype=np.float64).reshape(-1)
        self.n_items = int(self.counts.shape[0])

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The same popularity row for every user, ``[B, N]``."""
        return np.broadcast_to(self.counts, (len(sequences), self.n_items)).copy()


class FactorizationScorer:
    """Implicit matrix factorization fitted on the training window; users are folded in.

    Item factors and biases come from weighted ALS (:func:`rec_gym.data.mf.fit_als`) on the
    training window's (user, item) pairs (preference 1, confidence ``1 + alpha``). A user's
    vector is solved from their *input sequence only* (:func:`rec_gym.data.mf.solve_users`),
    so the scorer sees nothing but what :func:`evaluate_next_item` gives it; an empty
    sequence gets the all-unobserved solution (scores close to the item biases).

    Args:
        user: User index of each training pair, ``[E]``.
        item: Item index (0-based) of each pair, ``[E]``.
        n_users: Number of training users.
        n_items: Catalog size.
        dim: Factor dimension.
        alpha: Extra confidence of an observed pair.
        regularization: L2 penalty.
        iterations: ALS iterations.
        seed: Seed of the initialisation.
    """

    def __init__(
        self,
        user: np.ndarray,
        item: np.ndarray,
        n_users: int,
        n_items: int,
        *,
        dim: int = 16,
        alpha: float = 10.0,
        regularization: float = 1.0,
        iterations: int = 10,
        seed: int = 0,
        name: str = "mf",
    ) -> None:
        from rec_gym.data.mf import ImplicitData, fit_als

        self.name = name
        self.n_items = int(n_items)
        self.alpha = float(alpha)
        self.regularization = float(regularization)
        self.unobserved_weight = 1.0
        pairs = np.unique(np.stack([user, item]).astype(np.int64), axis=1)
        data = ImplicitData(
            user=pairs[0],
            item=pairs[1],
            preference=np.ones(pairs.shape[1]),
            confidence=np.full(pairs.shape[1], 1.0 + self.alpha),
            n_users=int(n_users),
            n_items=self.n_items,
        )
        factors = fit_als(
            data,
            dim=dim,
            unobserved_weight=self.unobserved_weight,
            regularization=self.regularization,
            iterations=iterations,
            seed=seed,
        )
        self.item_factors = factors.item
        self.bias = factors.bias

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """``x_u . y_i + b_i`` with ``x_u`` folded in from each sequence, ``[B, N]``."""
        from rec_gym.data.mf import solve_users

        items = [np.unique(np.asarray(s, dtype=np.int64)) - 1 for s in sequences]
        rows = np.repeat(np.arange(len(items)), [i.shape[0] for i in items])
        flat = np.concatenate(items) if items else np.zeros(0, dtype=np.int64)
        users = solve_users(
            self.item_factors,
            self.bias,
            rows,
            flat,
            np.ones(flat.shape[0]),
            np.full(flat.shape[0], 1.0 + self.alpha),
            n_users=len(items),
            unobserved_weight=self.unobserved_weight,
            regularization=self.regularization,
        )
        return users @ self.item_factors.T + self.bias


class PolicyScorer:
    """Scores items with a trained SB3 policy: its action logits (or Q-values).

    For the transformer policy these are the :class:`~agents.policies.ItemScoringHead`'s
    scores, the dot product of (a projection of) the extractor's user state for the input
    history with the item vectors, plus an item bias; any policy with ``Discrete`` actions
    (or the first slot of a slate) works. The observation is built like the env's: the
    last ``history_length`` items (newest last, 0-padded) with their feedback codes, and a
    context of session progress ``1 - exp(-t / 50)`` (t = sequence length), the fraction
    of clicked items, and zeros for the (unknown) observable user features.

    Args:
        model: A trained SB3 model (PPO, MaskablePPO or DQN).
        normalize_context: Optional frozen observation normaliser (the run's VecNormalize):
            a callable mapping an observation dict to the normalised one.
        batch_size: Users scored per forward pass.
    """

    def __init__(
        self,
        model: Any,
        normalize_context: Any = None,
        batch_size: int = 256,
        name: str = "agent",
    ) -> None:
        from gymnasium import spaces

        self.name = name
        self.model = model
        self.normalize = normalize_context
        self.batch_size = int(batch_size)
        obs_space = model.observation_space
        action_space = model.action_space
        if isinstance(action_space, spaces.Discrete):
            self.n_items = int(action_space.n)
        elif isinstance(action_space, spaces.MultiDiscrete):
            self.n_items = int(action_space.nvec[0])
        else:
            raise TypeError(f"the model's action space {action_space} cannot score items")
        self.history_length = int(obs_space["item_ids"].shape[0])
        self.context_dim = int(obs_space["context"].shape[0])

    def observations(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None
    ) -> dict[str, np.ndarray]:
        """The env-shaped observation batch for input sequences (see the class docstring)."""
        batch, length = len(sequences), self.history_length
        ids = np.zeros((batch, length), dtype=np.int64)
        codes = np.zeros((batch, length), dtype=np.int64)
        context = np.zeros((batch, self.context_dim), dtype=np.float32)
        for row, sequence in enumerate(sequences):
            seq = np.asarray(sequence, dtype=np.int64)
            fb = (
                np.asarray(feedback[row], dtype=np.int64)
                if feedback is not None
                else np.zeros_like(seq)
            )
            tail = min(length, seq.shape[0])
            if tail:
                ids[row, length - tail :] = seq[-tail:]
                codes[row, length - tail :] = fb[-tail:]
            steps = seq.shape[0]
            context[row, 0] = PROGRESS_TABLE[min(steps, len(PROGRESS_TABLE) - 1)]
            context[row, 1] = float((fb > 0).sum()) / max(steps, 1)
        return {"item_ids": ids, "feedback": codes, "context": context}

    def score(
        self, sequences: Sequence[np.ndarray], feedback: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The policy's item scores, ``[B, N]``."""
        import torch

        out = np.zeros((len(sequences), self.n_items))
        policy = self.model.policy
        policy.set_training_mode(False)
        for start in range(0, len(sequences), self.batch_size):
            chunk = list(sequences[start : start + self.batch_size])
            chunk_fb = None if feedback is None else list(feedback[start : start + len(chunk)])
            obs = self.observations(chunk, chunk_fb)
            if self.normalize is not None:
                obs = self.normalize(obs)
            tensor, _ = policy.obs_to_tensor(obs)
            with torch.no_grad():
                if hasattr(policy, "q_net"):  # DQN: Q-values
                    scores = policy.q_net(tensor)
                else:  # actor-critic: the action head's raw logits (slot 0 of a slate)
                    features = policy.extract_features(tensor)
                    if isinstance(features, tuple):  # separate actor/critic extractors
                        features = features[0]
                    scores = policy.action_net(policy.mlp_extractor.forward_actor(features))
            out[start : start + len(chunk)] = scores[:, : self.n_items].cpu().numpy()
        return out


# -- held-out data --------------------------------------------------------------------------


@dataclass(frozen=True)
class NextItemData:
    """Input sequences and targets of the time-split next-item task.

    Attributes:
        users: Raw id of each evaluated user, ``[B]``.
        sequences: Input item ids (1-based env ids, oldest first), one array per user.
        feedback: Feedback code (0, 1, 2) of each input position, one array per user.
        targets: Target item id (1-based) per user, ``[B]``.
        target_times: Time of each target, ``[B]``.
        history_times: Time of each input position, one array per user.
        interacted: Every catalog item id the user interacted with at any time (for
            sampling non-interacted negatives), one array per user.
        cut_time: The split time.
        n_items: Catalog size N.
        n_heldout_users: Users with at least one held-out interaction.
        not_eligible: Those without a target, by reason (reported, never silent).
        n_cold_start: Evaluated users with an empty input sequence.
        n_unknown_history_rows: Earlier interactions left out of inputs because their item
            is not in the catalog.
    """

    users: np.ndarray
    sequences: list[np.ndarray]
    feedback: list[np.ndarray]
    targets: np.ndarray
    target_times: np.ndarray
    history_times: list[np.ndarray]
    interacted: list[np.ndarray]
    cut_time: int
    n_items: int
    n_heldout_users: int
    not_eligible: dict[str, int]
    n_cold_start: int
    n_unknown_history_rows: int

    @property
    def n_users(self) -> int:
        """Number of eligible users, all evaluated (one target each)."""
        return int(self.targets.shape[0])

    def summary(self) -> dict[str, Any]:
        """Counts for reports."""
        return {
            "cut_time": self.cut_time,
            "n_items": self.n_items,
            "users_with_heldout_interactions": self.n_heldout_users,
            "eligible_users": self.n_users,
            "evaluated_users": self.n_users,
            "not_eligible_users": dict(self.not_eligible),
            "cold_start_users": self.n_cold_start,
            "history_rows_with_unknown_items": self.n_unknown_history_rows,
        }


def build_next_item_data(
    user: np.ndarray,
    item: np.ndarray,
    time: np.ndarray,
    level: np.ndarray,
    *,
    cut_time: int,
    catalog_item_ids: np.ndarray,
) -> NextItemData:
    """Builds one (input sequence, target) pair per eligible user (see the module docstring).

    Args:
        user: Raw user id per log row, ``[M]``.
        item: Raw item id per row, ``[M]``.
        time: Unix time per row, ``[M]``.
        level: Engagement level per row (0 none, 1 click, 2 purchase), ``[M]``.
        cut_time: Rows with ``time >= cut_time`` are held out.
        catalog_item_ids: Sorted raw ids of the catalog; env item id ``k`` is
            ``catalog_item_ids[k - 1]``.

    Returns:
        The task data.
    """
    catalog = np.asarray(catalog_item_ids, dtype=np.int64)
    if catalog.ndim != 1 or catalog.shape[0] == 0 or (np.diff(catalog) <= 0).any():
        raise ValueError("catalog_item_ids must be a non-empty sorted array of unique raw ids")
    rows = np.arange(np.asarray(user).shape[0])
    order = np.lexsort((rows, time, user))  # by user, then time, then log order
    user_o = np.asarray(user, dtype=np.int64)[order]
    time_o = np.asarray(time, dtype=np.int64)[order]
    level_o = np.asarray(level, dtype=np.int64)[order]
    position = np.searchsorted(catalog, np.asarray(item, dtype=np.int64)[order])
    position = np.minimum(position, catalog.shape[0] - 1)
    known = catalog[position] == np.asarray(item, dtype=np.int64)[order]
    env_id = np.where(known, position + 1, 0)
    starts = np.flatnonzero(np.r_[True, user_o[1:] != user_o[:-1]])
    ends = np.r_[starts[1:], user_o.shape[0]]
    held_users = np.unique(user_o[time_o >= cut_time])
    out: dict[str, list[Any]] = {k: [] for k in ("u", "seq", "fb", "t", "tt", "ht", "all")}
    skipped = {"no_heldout_catalog_item": 0, "only_repeat_interactions": 0}  # not eligible
    cold = unknown_rows = 0
    for start, end in zip(starts, ends, strict=True):
        ids, times = env_id[start:end], time_o[start:end]
        held = np.flatnonzero(times >= cut_time)
        if held.shape[0] == 0:
            continue
        candidates = held[ids[held] > 0]
        if candidates.shape[0] == 0:
            skipped["no_heldout_catalog_item"] += 1
            continue
        target = -1
        for index in candidates:
            earlier = times < times[index]
            if not (ids[earlier] == ids[index]).any():
                target = int(index)
                break
        if target < 0:
            skipped["only_repeat_interactions"] += 1
            continue
        before = (times < times[target]) & (ids > 0)
        unknown_rows += int(((times < times[target]) & (ids == 0)).sum())
        sequence = ids[before]
        cold += int(sequence.shape[0] == 0)
        out["u"].append(int(user_o[start]))
        out["seq"].append(sequence.astype(np.int64))
        out["fb"].append(np.clip(level_o[start:end][before], 0, 2).astype(np.int64))
        out["t"].append(int(ids[target]))
        out["tt"].append(int(times[target]))
        out["ht"].append(times[before].astype(np.int64))
        out["all"].append(np.unique(ids[ids > 0]).astype(np.int64))
    return NextItemData(
        users=np.asarray(out["u"], dtype=np.int64),
        sequences=out["seq"],
        feedback=out["fb"],
        targets=np.asarray(out["t"], dtype=np.int64),
        target_times=np.asarray(out["tt"], dtype=np.int64),
        history_times=out["ht"],
        interacted=out["all"],
        cut_time=int(cut_time),
        n_items=int(catalog.shape[0]),
        n_heldout_users=int(held_users.shape[0]),
        not_eligible=skipped,
        n_cold_start=cold,
        n_unknown_history_rows=unknown_rows,
    )


@dataclass(frozen=True)
class OfflineTask:
    """A real log prepared for offline evaluation: the next-item task and the training window.

    Attributes:
        data: Input sequences and targets.
        catalog_item_ids: Sorted raw ids of the catalog (env item id ``k`` is entry
            ``k - 1``).
        train_user: User index of each training-window row on a catalog item, ``[E]``.
        train_item: Item index (0-based) of each of those rows, ``[E]``.
        n_train_users: Number of distinct training users.
        source: Where the log came from and how it was split (for reports).
    """

    data: NextItemData
    catalog_item_ids: np.ndarray
    train_user: np.ndarray
    train_item: np.ndarray
    n_train_users: int
    source: dict[str, Any]

    def popularity(self) -> PopularityScorer:
        """Popularity = number of training-window interactions of each catalog item."""
        counts = np.bincount(self.train_item, minlength=self.catalog_item_ids.shape[0])
        return PopularityScorer(counts)

    def factorization(self, seed: int = 0, **kwargs: Any) -> FactorizationScorer:
        """An implicit matrix factorization fitted on the training window."""
        return FactorizationScorer(
            self.train_user,
            self.train_item,
            self.n_train_users,
            self.catalog_item_ids.shape[0],
            seed=seed,
            **kwargs,
        )

    def baseline(self, name: str, seed: int) -> ItemScorer:
        """A baseline scorer by name: ``random``, ``popularity`` or ``mf``."""
        if name == "random":
            return RandomScorer(self.data.n_items, seed)
        if name == "popularity":
            return self.popularity()
        if name == "mf":
            return self.factorization(seed=seed)
        raise ValueError(f"unknown offline baseline {name!r}; use random, popularity or mf")

    def evaluate(
        self,
        scorers: Sequence[ItemScorer],
        *,
        protocol: str,
        k_values: Sequence[int],
        negatives: int | None,
        seed: int,
    ) -> dict[str, NextItemResult]:
        """Scores every scorer on this task's next-item data, keyed by scorer name."""
        return {
            scorer.name: evaluate_next_item(
                scorer,
                self.data.sequences,
                self.data.targets,
                protocol=protocol,
                k_values=k_values,
                negatives=negatives,
                seed=seed,
                feedback=self.data.feedback,
                interacted=self.data.interacted,
            )
            for scorer in scorers
        }


def load_offline_task(
    path: str | Any,
    *,
    cut_time: int | None = None,
    catalog_item_ids: np.ndarray | None = None,
    train_fraction: float = 0.8,
    click_threshold: float = 4.0,
    purchase_threshold: float = 5.0,
) -> OfflineTask:
    """Loads a log (:func:`rec_gym.data.load_log`) and builds the time-split task.

    Args:
        path: Dataset folder or interactions ``.csv``.
        cut_time: The split time; None: the ``train_fraction`` quantile of the timestamps
            (the calibration's rule, :func:`rec_gym.data.calibration.time_cut`).
        catalog_item_ids: Sorted raw catalog ids (a calibrated world's ``item_ids``); None:
            every item of the training window.
        train_fraction: Used when ``cut_time`` is None, in ``(0, 1)``.
        click_threshold: Rating counted as a click in the input feedback codes.
        purchase_threshold: Rating counted as a purchase.

    Returns:
        The task.

    Raises:
        rec_gym.data.DataError: Unreadable or malformed log, or nothing to evaluate.
    """
    from rec_gym.data import CalibrationSettings, DataError, load_log
    from rec_gym.data.calibration import engagement_levels, time_cut

    log = load_log(path)
    settings = CalibrationSettings(
        train_fraction=train_fraction,
        cut_time=cut_time,
        click_threshold=click_threshold,
        purchase_threshold=max(purchase_threshold, click_threshold),
    )
    cut = time_cut(log.time, settings)
    train = log.time < cut
    if catalog_item_ids is None:
        catalog = np.unique(log.item[train])
    else:
        catalog = np.asarray(catalog_item_ids, dtype=np.int64)
    if catalog.shape[0] == 0:
        raise DataError(f"{path}: no interactions before the cut {cut}; use a later cut")
    levels = engagement_levels(log, settings)
    data = build_next_item_data(
        log.user, log.item, log.time, levels, cut_time=cut, catalog_item_ids=catalog
    )
    if data.n_users == 0:
        raise DataError(
            f"{path}: no user has a held-out interaction with a catalog item after the cut "
            f"{cut}; use an earlier cut (a smaller train fraction)"
        )
    position = np.minimum(np.searchsorted(catalog, log.item[train]), catalog.shape[0] - 1)
    known = catalog[position] == log.item[train]
    users, user_index = np.unique(log.user[train][known], return_inverse=True)
    return OfflineTask(
        data=data,
        catalog_item_ids=catalog,
        train_user=user_index.astype(np.int64),
        train_item=position[known].astype(np.int64),
        n_train_users=int(users.shape[0]),
        source={
            "path": str(path),
            "format": log.format,
            "rows": log.n_rows,
            "training_rows": int(train.sum()),
            "heldout_rows": int((~train).sum()),
            "cut_time": int(cut),
            "cut_rule": "given" if cut_time is not None else f"{train_fraction} time quantile",
        },
    )


# -- the evaluator ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricInterval:
    """A mean over users with its 95% interval."""

    mean: float
    low: float
    high: float


@dataclass
class NextItemResult:
    """The outcome of :func:`evaluate_next_item`.

    Attributes:
        scorer: The scorer's name.
        protocol: ``"full"`` or ``"sampled"``.
        negatives: Number of negatives per target (sampled), or the largest number of
            candidates other than the target (full: ``N - 1`` minus each user's input).
        seed: Seed of the negative sampling (full ranking draws nothing; still recorded).
        k_values: The K of HR@K and NDCG@K.
        ranks: 1-based rank of each user's target, ``[B]``.
        metrics: ``HR@K``, ``NDCG@K`` and ``MRR`` means with 95% intervals.
        extra: Free-form facts for the report (e.g. the data summary).
    """

    scorer: str
    protocol: str
    negatives: int
    seed: int
    k_values: tuple[int, ...]
    ranks: np.ndarray
    metrics: dict[str, MetricInterval]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        """Number of evaluated users."""
        return int(self.ranks.shape[0])

    def protocol_label(self) -> dict[str, Any]:
        """The protocol, number and kind of negatives and seed (written with every result)."""
        return {
            "protocol": self.protocol,
            "negatives": self.negatives,
            "negative_kind": NEGATIVE_KINDS[self.protocol],
            "seed": self.seed,
            "ties": TIES,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (NaN bounds become None)."""
        return {
            "scorer": self.scorer,
            **self.protocol_label(),
            "users": self.n_users,
            "metrics": {
                name: {k: _json(getattr(v, k)) for k in ("mean", "low", "high")}
                for name, v in self.metrics.items()
            },
            **self.extra,
        }


def evaluate_next_item(
    scorer: ItemScorer,
    sequences: Sequence[np.ndarray],
    targets: np.ndarray | Sequence[int],
    *,
    protocol: str = "full",
    k_values: Sequence[int] = (10,),
    negatives: int | None = None,
    seed: int = 0,
    feedback: Sequence[np.ndarray] | None = None,
    interacted: Sequence[np.ndarray] | None = None,
    batch_size: int = 512,
) -> NextItemResult:
    """Ranks each user's target among candidates by the scorer's scores.

    Args:
        scorer: Scores items from input sequences.
        sequences: Input item ids (1-based) per user; none may contain its target.
        targets: Target item id (1-based) per user.
        protocol: ``"full"`` (all items except the input sequence) or ``"sampled"``.
        k_values: K values of HR@K and NDCG@K.
        negatives: Negatives per target for ``"sampled"`` (required there); must be None
            for ``"full"``.
        seed: Seed of the negative sampling.
        feedback: Feedback codes aligned with ``sequences`` (passed to the scorer).
        interacted: Items each user interacted with at any time; sampled negatives avoid
            them (default: the input sequence). The target is always avoided.
        batch_size: Users scored at once.

    Returns:
        The result, labelled with its protocol.

    Raises:
        ValueError: Bad arguments, or a sequence that contains its own target (leakage).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be 'full' or 'sampled', got {protocol!r}")
    ks = tuple(int(k) for k in k_values)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"k_values must be positive integers, got {list(k_values)!r}")
    n_items = int(scorer.n_items)
    target_ids = np.asarray(targets, dtype=np.int64).reshape(-1)
    if len(sequences) != target_ids.shape[0] or target_ids.shape[0] == 0:
        raise ValueError(
            f"need one target per sequence and at least one of each, got {len(sequences)} "
            f"sequences and {target_ids.shape[0]} targets"
        )
    if target_ids.min() < 1 or target_ids.max() > n_items:
        raise ValueError(f"targets must be item ids in [1, {n_items}] (0 is padding)")
    seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    for row, (seq, target) in enumerate(zip(seqs, target_ids, strict=True)):
        if seq.size and (seq.min() < 1 or seq.max() > n_items):
            raise ValueError(f"sequence {row} has item ids outside [1, {n_items}]")
        if (seq == target).any():
            raise ValueError(
                f"sequence {row} contains its own target item {int(target)}: the input must "
                "hold only interactions strictly before the target (leakage)"
            )
    if protocol == "sampled":
        if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
            raise ValueError(f"the sampled protocol needs negatives >= 1, got {negatives!r}")
        n_negatives = int(negatives)
    else:
        if negatives is not None:
            raise ValueError(
                "negatives applies to the sampled protocol only; pass protocol='sampled'"
            )
        n_negatives = n_items - 1
    rng = np.random.default_rng(seed)
    ranks = np.zeros(target_ids.shape[0])
    for start in range(0, len(seqs), batch_size):
        stop = min(start + batch_size, len(seqs))
        chunk = seqs[start:stop]
        fb = None if feedback is None else list(feedback[start:stop])
        scores = np.asarray(scorer.score(chunk, fb), dtype=np.float64)
        if scores.shape != (len(chunk), n_items):
            raise ValueError(
                f"{scorer.name} returned scores of shape {scores.shape}, "
                f"expected {(len(chunk), n_items)}"
            )
        index = target_ids[start:stop] - 1
        if protocol == "full":
            exclude = np.zeros(scores.shape, dtype=bool)
            for row, seq in enumerate(chunk):
                exclude[row, seq - 1] = True
            ranks[start:stop] = rank_of_target(scores, index, exclude=exclude, ties=TIES)
        else:
            for row in range(len(chunk)):
                avoid = chunk[row] if interacted is None else interacted[start + row]
                pool = np.ones(n_items, dtype=bool)
                pool[np.asarray(avoid, dtype=np.int64) - 1] = False
                pool[index[row]] = False
                allowed = np.flatnonzero(pool)
                if allowed.shape[0] < n_negatives:
                    raise ValueError(
                        f"user {start + row} has only {allowed.shape[0]} non-interacted items, "
                        f"fewer than negatives={n_negatives}; lower negatives"
                    )
                drawn = rng.choice(allowed, size=n_negatives, replace=False)
                ranks[start + row] = sampled_rank(scores[row], int(index[row]), drawn, ties=TIES)
    return NextItemResult(
        scorer=scorer.name,
        protocol=protocol,
        negatives=n_negatives,
        seed=int(seed),
        k_values=ks,
        ranks=ranks,
        metrics=ranking_metrics(ranks, ks),
    )


def ranking_metrics(ranks: np.ndarray, k_values: Sequence[int]) -> dict[str, MetricInterval]:
    """HR@K, NDCG@K and MRR of 1-based ranks, each a mean over users with a 95% interval.

    Example:
        >>> m = ranking_metrics(np.array([1.0, 3.0, 20.0]), (10,))
        >>> round(m["HR@10"].mean, 4), round(m["MRR"].mean, 4)
        (0.6667, 0.4611)
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    per_user: dict[str, np.ndarray] = {}
    for k in k_values:
        per_user[f"HR@{k}"] = (ranks <= k).astype(np.float64)
        per_user[f"NDCG@{k}"] = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
    per_user["MRR"] = 1.0 / ranks
    return {
        name: MetricInterval(*mean_confidence_interval(values)) for name, values in per_user.items()
    }


def _json(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
