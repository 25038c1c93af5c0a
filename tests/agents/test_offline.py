"""Offline next-item evaluation: protocols, labels, the time split and leakage (issue 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

import rec_gym  # noqa: F401  (registers the env ids)
from agents.offline import (
    FactorizationScorer,
    PolicyScorer,
    PopularityScorer,
    RandomScorer,
    build_next_item_data,
    evaluate_next_item,
    load_offline_task,
    ranking_metrics,
)
from agents.policies import TransformerActorCriticPolicy, transformer_policy_kwargs
from rec_gym.metrics import rank_of_target

N_ITEMS = 1000


def _random_sequences(n_users: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Short random histories (0-5 items) and a target outside each."""
    rng = np.random.default_rng(seed)
    sequences, targets = [], []
    for _ in range(n_users):
        items = rng.choice(N_ITEMS, size=int(rng.integers(0, 6)) + 1, replace=False) + 1
        sequences.append(items[:-1])
        targets.append(items[-1])
    return sequences, np.asarray(targets)


# -- acceptance 3: a random scorer ------------------------------------------------------------


def test_random_scorer_hits_k_over_candidates_in_both_protocols() -> None:
    sequences, targets = _random_sequences(20_000, seed=0)
    full = evaluate_next_item(
        RandomScorer(N_ITEMS, seed=1), sequences, targets, protocol="full", k_values=(10,),
        negatives=None, seed=2,
    )  # fmt: skip
    # Full ranking excludes the user's own input: 10 / (1000 - len(input)) per user.
    expected = np.mean([10 / (N_ITEMS - len(s)) for s in sequences])
    assert expected == pytest.approx(10 / 1000, rel=0.01)
    sigma = math.sqrt(expected * (1 - expected) / len(sequences))
    assert abs(full.metrics["HR@10"].mean - expected) < 3 * sigma, full.metrics["HR@10"]
    sampled = evaluate_next_item(
        RandomScorer(N_ITEMS, seed=1), sequences, targets, protocol="sampled", k_values=(10,),
        negatives=100, seed=2,
    )  # fmt: skip
    p = 10 / 101
    sigma = math.sqrt(p * (1 - p) / len(sequences))
    assert abs(sampled.metrics["HR@10"].mean - p) < 3 * sigma, sampled.metrics["HR@10"]
    assert full.protocol_label() == {
        "protocol": "full", "negatives": N_ITEMS - 1,
        "negative_kind": "all catalog items except the user's input sequence", "seed": 2,
        "ties": "pessimistic",
    }  # fmt: skip
    assert sampled.protocol_label() == {
        "protocol": "sampled", "negatives": 100, "negative_kind": "uniform non-interacted",
        "seed": 2, "ties": "pessimistic",
    }  # fmt: skip
    as_dict = sampled.to_dict()
    assert as_dict["protocol"] == "sampled" and as_dict["users"] == len(sequences)
    assert set(as_dict["metrics"]) == {"HR@10", "NDCG@10", "MRR"}


def test_protocol_arguments_are_checked() -> None:
    sequences, targets = _random_sequences(5, seed=1)
    scorer = RandomScorer(N_ITEMS, seed=0)
    with pytest.raises(ValueError, match="sampled protocol only"):
        evaluate_next_item(scorer, sequences, targets, protocol="full", negatives=100)
    with pytest.raises(ValueError, match="negatives >= 1"):
        evaluate_next_item(scorer, sequences, targets, protocol="sampled", negatives=None)
    with pytest.raises(ValueError, match="'full' or 'sampled'"):
        evaluate_next_item(scorer, sequences, targets, protocol="loo")
    with pytest.raises(ValueError, match="k_values"):
        evaluate_next_item(scorer, sequences, targets, k_values=(0,))
    with pytest.raises(ValueError, match=r"\[1, 1000\]"):
        evaluate_next_item(scorer, sequences, np.zeros(5, dtype=np.int64))


def test_sampled_negatives_avoid_interacted_items_and_follow_the_seed() -> None:
    """A scorer that loves the user's other interactions is not helped by them as negatives."""
    sequences = [np.array([1, 2, 3])] * 50
    targets = np.full(50, 4)
    interacted = [np.arange(1, 21)] * 50  # items 1..20 were interacted with at some time

    class LovesInteracted:
        name, n_items = "loves", 30

        def score(self, seqs: Sequence[np.ndarray], feedback: object) -> np.ndarray:
            scores = np.zeros((len(seqs), self.n_items))
            scores[:, :20] = 1.0  # items 1..20 high, the target (4) among them
            scores[:, 3] = 0.5  # the target below the other interacted items
            return scores

    result = evaluate_next_item(
        LovesInteracted(), sequences, targets, protocol="sampled", negatives=10, seed=0,
        interacted=interacted,
    )  # fmt: skip
    assert (result.ranks == 1).all()  # every negative is a non-interacted item (score 0)
    with pytest.raises(ValueError, match="fewer than negatives"):
        evaluate_next_item(
            LovesInteracted(), sequences, targets, protocol="sampled", negatives=11, seed=0,
            interacted=interacted,
        )  # fmt: skip
    seqs, tgts = _random_sequences(300, seed=5)
    runs = [
        evaluate_next_item(
            PopularityScorer(np.arange(N_ITEMS, dtype=float)), seqs, tgts,
            protocol="sampled", negatives=20, seed=seed,
        ).ranks
        for seed in (7, 7, 8)
    ]  # fmt: skip
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_full_ranking_excludes_the_input_and_counts_ties_pessimistically() -> None:
    scorer = PopularityScorer(np.array([5.0, 9.0, 1.0, 9.0, 3.0]))
    # Item 2 (score 9) is in the input: excluded. Target 4 ties with nothing else left.
    result = evaluate_next_item(scorer, [np.array([2])], np.array([4]), k_values=(1,))
    assert result.ranks.tolist() == [1.0]
    result = evaluate_next_item(scorer, [np.array([], dtype=np.int64)], np.array([4]))
    assert result.ranks.tolist() == [2.0]  # tied with item 2: pessimistic


def test_ranking_metrics_are_hand_checked() -> None:
    metrics = ranking_metrics(np.array([1.0, 2.0, 11.0]), (10,))
    assert metrics["HR@10"].mean == pytest.approx(2 / 3)
    assert metrics["NDCG@10"].mean == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert metrics["MRR"].mean == pytest.approx((1 + 0.5 + 1 / 11) / 3)
    assert metrics["MRR"].low < metrics["MRR"].mean < metrics["MRR"].high


# -- acceptance 4: leakage ------------------------------------------------------------------------


class CopyScorer:
    """A sequence model that has learned to copy: items in its input score high."""

    name, n_items = "copy", N_ITEMS

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.seen: list[np.ndarray] = []

    def score(self, sequences: Sequence[np.ndarray], feedback: object) -> np.ndarray:
        self.seen.extend(np.asarray(s) for s in sequences)
        scores = self.rng.random((len(sequences), self.n_items))
        for row, sequence in enumerate(sequences):
            scores[row, np.asarray(sequence, dtype=np.int64) - 1] += 10.0
        return scores


def _leaky_hit_rate(scorer: CopyScorer, sequences: list[np.ndarray], targets: np.ndarray) -> float:
    """A broken evaluator: the target is fed in the input (and then ranked among all items)."""
    leaked = [np.append(s, t) for s, t in zip(sequences, targets, strict=True)]
    ranks = rank_of_target(scorer.score(leaked, None), targets - 1)
    return float((np.asarray(ranks) <= 10).mean())


def test_leaked_target_scores_higher_and_the_evaluator_never_feeds_it() -> None:
    sequences, targets = _random_sequences(500, seed=3)
    leaky = _leaky_hit_rate(CopyScorer(), sequences, targets)
    spy = CopyScorer()
    honest = evaluate_next_item(spy, sequences, targets, k_values=(10,))
    assert leaky > 0.9 > 0.1 > honest.metrics["HR@10"].mean, (leaky, honest.metrics)
    assert len(spy.seen) == len(targets)
    for given, target in zip(spy.seen, targets, strict=True):
        assert target not in given
    with pytest.raises(ValueError, match="leakage"):
        leaked = [np.append(s, t) for s, t in zip(sequences, targets, strict=True)]
        evaluate_next_item(CopyScorer(), leaked, targets)


def test_split_inputs_hold_only_earlier_interactions() -> None:
    """A hand-made log: time order, same-second ties, repeats, unknown items, cold users."""
    #            user item time level
    rows = [
        (1, 10, 100, 1), (1, 11, 200, 2), (1, 12, 300, 0),  # training window
        (1, 13, 500, 1), (1, 14, 500, 1), (1, 15, 600, 1),  # held out; 13/14 same second
        (2, 10, 150, 1), (2, 10, 520, 1), (2, 99, 530, 1),  # repeat, then unknown item 99
        (2, 11, 540, 0),
        (3, 98, 510, 1),  # only an unknown item held out: not eligible
        (4, 12, 505, 2), (4, 12, 506, 2),  # cold start (nothing before the cut)
        (5, 10, 120, 1),  # no held-out interaction: not counted at all
    ]  # fmt: skip
    user, item, time, level = (np.array(c) for c in zip(*rows, strict=True))
    data = build_next_item_data(
        user, item, time, level, cut_time=400, catalog_item_ids=np.array([10, 11, 12, 13, 14, 15])
    )
    assert data.n_heldout_users == 4
    assert data.not_eligible == {"no_heldout_catalog_item": 1, "only_repeat_interactions": 0}
    assert data.users.tolist() == [1, 2, 4]
    # Raw 13 -> env id 4; its same-second neighbour 14 is not an input.
    assert data.targets.tolist() == [4, 2, 3]
    assert [s.tolist() for s in data.sequences] == [[1, 2, 3], [1, 1], []]
    assert [f.tolist() for f in data.feedback] == [[1, 2, 0], [1, 1], []]
    assert data.n_cold_start == 1 and data.n_unknown_history_rows == 1
    for times, target_time in zip(data.history_times, data.target_times, strict=True):
        assert (times < target_time).all()
    assert data.interacted[0].tolist() == [1, 2, 3, 4, 5, 6]


def test_real_log_split_has_no_leakage_and_drops_nobody(shared_data_dir: Path) -> None:
    task = load_offline_task(shared_data_dir / "ml-100k")
    data = task.data
    assert data.n_users > 100
    assert data.n_users + sum(data.not_eligible.values()) == data.n_heldout_users
    for seq, times, target, when in zip(
        data.sequences, data.history_times, data.targets, data.target_times, strict=True
    ):
        assert target not in seq
        assert (times < when).all() and when >= data.cut_time
    assert (task.catalog_item_ids[task.train_item] >= 0).all()
    assert task.source["training_rows"] + task.source["heldout_rows"] == task.source["rows"]
    popularity = evaluate_next_item(task.popularity(), data.sequences, data.targets)
    random = evaluate_next_item(RandomScorer(data.n_items, 0), data.sequences, data.targets)
    assert popularity.metrics["HR@10"].low > random.metrics["HR@10"].high
    assert popularity.n_users == data.n_users  # every eligible user is scored


def test_factorization_learns_co_consumption() -> None:
    """Two disjoint taste groups: folding in a user's items ranks their group's items first."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(60):
        group = u % 2
        for i in rng.choice(10, size=6, replace=False):
            users.append(u)
            items.append(group * 10 + i)
    scorer = FactorizationScorer(np.array(users), np.array(items), 60, 20, dim=4, seed=0)
    scores = scorer.score([np.array([1, 2, 3]), np.array([11, 12, 13])])
    assert scores.shape == (2, 20)
    groups: dict[int, set[int]] = {0: set(range(10)), 1: set(range(10, 20))}
    for row, members in groups.items():
        ranked = [int(i) for i in np.argsort(-scores[row]) if i + 1 not in (1, 2, 3, 11, 12, 13)]
        assert set(ranked[:5]) <= members, (row, ranked)


# -- the SB3 policy as a scorer --------------------------------------------------------------------


def test_policy_scorer_builds_env_observations_and_uses_the_scoring_head() -> None:
    env = gym.make("RecEnv-v0", n_items=20, history_length=4)
    kwargs = transformer_policy_kwargs(hidden_dim=8, n_layers=1, n_heads=2)
    model = PPO(
        TransformerActorCriticPolicy, env, policy_kwargs=kwargs, n_steps=8, batch_size=8, seed=0
    )
    scorer = PolicyScorer(model)
    sequences = [np.array([3, 4, 5, 6, 7, 8]), np.array([9])]
    feedback = [np.array([0, 1, 2, 0, 1, 1]), np.array([2])]
    obs = scorer.observations(sequences, feedback)
    assert obs["item_ids"].tolist() == [[5, 6, 7, 8], [0, 0, 0, 9]]  # newest last, 0-padded
    assert obs["feedback"].tolist() == [[2, 0, 1, 1], [0, 0, 0, 2]]
    np.testing.assert_allclose(obs["context"][:, 0], 1 - np.exp(-np.array([6, 1]) / 50), 1e-6)
    np.testing.assert_allclose(obs["context"][:, 1], [4 / 6, 1.0])
    assert (obs["context"][:, 2:] == 0).all()
    scores = scorer.score(sequences, feedback)
    policy: Any = model.policy
    tensor, _ = policy.obs_to_tensor(obs)
    with torch.no_grad():
        state = policy.extract_features(tensor)
        latent = policy.mlp_extractor.forward_actor(state)
        head = policy.action_net
        expected = head.query(latent) @ policy.features_extractor.item_vectors().T + head.item_bias
    np.testing.assert_allclose(scores, expected.numpy(), rtol=1e-5, atol=1e-6)
