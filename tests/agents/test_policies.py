"""The transformer backbone: id casting, padding, finiteness and scale (issue 3, acceptance 4)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import rec_gym  # noqa: F401  (registers the envs)
from agents.policies import HistoryTransformerExtractor, ItemScoringHead


def _space(n_items: int, length: int, context: int = 6) -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {
            "item_ids": gym.spaces.Box(0, n_items, shape=(length,), dtype=np.int64),
            "feedback": gym.spaces.Box(0, 2, shape=(length,), dtype=np.int64),
            "context": gym.spaces.Box(-5, 5, shape=(context,), dtype=np.float32),
        }
    )


def _obs(ids: list[list[int]], feedback: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    items = torch.tensor(ids, dtype=torch.float32)  # SB3 hands Box observations over as float
    fb = torch.tensor(feedback, dtype=torch.float32) if feedback else torch.zeros_like(items)
    return {"item_ids": items, "feedback": fb, "context": torch.ones(items.shape[0], 6) * 0.3}


def _extractor(n_items: int = 100, length: int = 10, **kwargs: Any) -> HistoryTransformerExtractor:
    torch.manual_seed(0)
    return HistoryTransformerExtractor(_space(n_items, length), hidden_dim=32, **kwargs)


def test_all_padding_history_gives_finite_features_and_gradients() -> None:
    extractor = _extractor()
    head = ItemScoringHead(32, extractor, slate_size=1)
    scores = head(extractor(_obs([[0] * 10, [0] * 10])))
    assert torch.isfinite(scores).all()
    scores.sum().backward()
    grads = [p.grad for p in extractor.parameters() if p.grad is not None]
    assert grads, "no gradient reached the extractor"
    assert all(torch.isfinite(g).all() for g in grads)
    # Inference mode too (PyTorch's fast path would turn padding-only rows into NaN).
    extractor.eval()
    with torch.no_grad():
        assert torch.isfinite(extractor(_obs([[0] * 10]))).all()


def test_padding_embedding_row_does_not_change_a_padded_history() -> None:
    extractor = _extractor().eval()
    obs = _obs([[0, 0, 0, 0, 0, 0, 0, 5, 9, 3]], [[0, 0, 0, 0, 0, 0, 0, 1, 0, 2]])
    with torch.no_grad():
        before = extractor(obs)
        extractor.item_embedding.weight[0].normal_(std=10.0)
        after = extractor(obs)
    assert torch.equal(before, after)


def test_ids_are_cast_back_exactly_from_float_observations() -> None:
    n_items = 2**24 - 1  # the largest catalog: float32 still holds every id exactly
    ids = torch.tensor([[n_items, n_items - 1, 1]], dtype=torch.float32)
    assert torch.round(ids).long().tolist() == [[n_items, n_items - 1, 1]]
    extractor = _extractor(n_items=1000, length=3)
    captured: list[torch.Tensor] = []
    original = extractor.item_vectors

    def spy(ids_arg: torch.Tensor | None = None) -> torch.Tensor:
        if ids_arg is not None:
            captured.append(ids_arg)
        return original(ids_arg)

    extractor.item_vectors = spy  # type: ignore[method-assign]
    extractor(_obs([[999.0, 1000.0, 7.0]]))  # type: ignore[list-item]
    assert captured[0].dtype == torch.long
    assert captured[0].tolist() == [[999, 1000, 7]]


def test_same_history_same_output_whatever_the_padding_length() -> None:
    short = _extractor(length=5).eval()
    long = HistoryTransformerExtractor(_space(100, 12), hidden_dim=32).eval()
    long.load_state_dict(short.state_dict())
    history, feedback = [4, 8, 15], [1, 0, 2]
    with torch.no_grad():
        a = short(_obs([[0, 0, *history]], [[0, 0, *feedback]]))
        b = long(_obs([[0] * 9 + history], [[0] * 9 + feedback]))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_different_histories_give_different_states() -> None:
    extractor = _extractor().eval()
    with torch.no_grad():
        a = extractor(_obs([[0] * 9 + [5]], [[0] * 9 + [1]]))
        b = extractor(_obs([[0] * 9 + [6]], [[0] * 9 + [1]]))
        c = extractor(_obs([[0] * 9 + [5]], [[0] * 9 + [0]]))
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, c)


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any torch operation produces."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, tuple | list) else [out]:
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel())
        return out


def test_large_catalog_never_materialises_a_one_hot_history() -> None:
    n_items, length, batch, hidden = 50_000, 10, 2, 8  # hidden < length: [N, H] < L * N
    extractor = HistoryTransformerExtractor(_space(n_items, length), hidden_dim=hidden)
    head = ItemScoringHead(hidden, extractor, slate_size=1)
    rng = np.random.default_rng(0)
    obs = _obs(rng.integers(0, n_items + 1, size=(batch, length)).tolist())
    with _LargestTensor() as spy:
        scores = head(extractor(obs))
    assert scores.shape == (batch, n_items)
    # The biggest tensors are the item table [N, H] and the scores [B, N]: nothing of
    # width L * N (a one-hot history) is ever built.
    assert spy.largest < length * n_items
    assert spy.largest <= max((n_items + 1) * hidden, batch * n_items)


def test_item_features_enter_item_vectors() -> None:
    features = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    extractor = _extractor(item_features=features)
    with torch.no_grad():
        vectors = extractor.item_vectors(torch.tensor([0, 1, 2]))
    assert torch.equal(vectors[0], torch.zeros_like(vectors[0]))  # padding stays zero
    assert extractor.item_feature_proj is not None


def test_scoring_head_shape_for_slates() -> None:
    extractor = _extractor()
    head = ItemScoringHead(32, extractor, slate_size=3)
    assert head(extractor(_obs([[0] * 9 + [1]]))).shape == (1, 3 * 100)


def test_bad_extractor_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="n_heads"):
        HistoryTransformerExtractor(_space(10, 4), hidden_dim=30, n_heads=4)
    with pytest.raises(ValueError, match="item_features"):
        HistoryTransformerExtractor(_space(10, 4), item_features=np.zeros((3, 2)))
