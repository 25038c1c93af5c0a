"""The transformer-backbone policy: a SASRec-style encoder of the interaction history.

It plugs into SB3 only through its extension points:

- :class:`HistoryTransformerExtractor` is a features extractor: item-id embeddings +
  feedback embeddings + recency positions -> a small causal transformer encoder -> the
  user state, read at an always-present "user" token that also carries the context.
- :class:`ItemScoringHead` scores every item by the dot product of (a projection of) the
  user state with the extractor's item-embedding table, so the head costs
  ``O(N * hidden)`` and what is learned about an item is shared by every position.
- :class:`TransformerActorCriticPolicy` (PPO), :class:`MaskableTransformerActorCriticPolicy`
  (sb3-contrib's MaskablePPO) and :class:`TransformerDQNPolicy` (DQN) swap SB3's linear
  action/Q head for that scoring head.

Use it with ``policy_kwargs`` from :func:`transformer_policy_kwargs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.dqn.policies import MultiInputPolicy as DQNMultiInputPolicy
from stable_baselines3.dqn.policies import QNetwork
from torch import nn

#: Number of feedback codes in the observation (none, click, purchase).
N_FEEDBACK = 3


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.gelu(x)


class HistoryTransformerExtractor(BaseFeaturesExtractor):
    """Encodes ``{"item_ids", "feedback", "context"}`` observations into a user state.

    Args:
        observation_space: The env's ``Dict`` observation space.
        hidden_dim: Width of embeddings and the encoder (``features_dim``).
        n_layers: Transformer encoder layers.
        n_heads: Attention heads (must divide ``hidden_dim``).
        dropout: Dropout inside the encoder (0 keeps RL training deterministic).
        max_history: Size of the recency-position table (>= the env's history length).
        item_features: Optional public item features ``[N, F]``; when given, each item's
            embedding is its free embedding plus a learned projection of its features.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        hidden_dim: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.0,
        max_history: int = 256,
        item_features: list[list[float]] | np.ndarray | None = None,
    ) -> None:
        super().__init__(observation_space, features_dim=hidden_dim)
        items_space = observation_space["item_ids"]
        context_space = observation_space["context"]
        assert isinstance(items_space, spaces.Box) and isinstance(context_space, spaces.Box)
        self.n_items = int(np.max(items_space.high))
        self.history_length = int(items_space.shape[0])
        if self.history_length > max_history:
            raise ValueError(
                f"history_length {self.history_length} exceeds max_history={max_history}; "
                "raise max_history in features_extractor_kwargs"
            )
        if hidden_dim % n_heads:
            raise ValueError(f"hidden_dim={hidden_dim} must be divisible by n_heads={n_heads}")
        self.item_embedding = nn.Embedding(self.n_items + 1, hidden_dim, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        if item_features is not None:
            features = torch.as_tensor(np.asarray(item_features), dtype=torch.float32)
            if features.shape[0] != self.n_items:
                raise ValueError(
                    f"item_features has {features.shape[0]} rows but the env has "
                    f"{self.n_items} items"
                )
            padded = torch.cat([torch.zeros(1, features.shape[1]), features], dim=0)
            self.register_buffer("item_features", padded)
            self.item_feature_proj: nn.Linear | None = nn.Linear(features.shape[1], hidden_dim)
        else:
            self.item_features = None
            self.item_feature_proj = None
        self.feedback_embedding = nn.Embedding(N_FEEDBACK, hidden_dim)
        self.position_embedding = nn.Embedding(max_history + 1, hidden_dim)
        self.user_token = nn.Parameter(torch.zeros(hidden_dim))
        self.context_proj = nn.Linear(int(context_space.shape[0]), hidden_dim)
        layer = nn.TransformerEncoderLayer(
            d_model=hidden_dim,
            nhead=n_heads,
            dim_feedforward=2 * hidden_dim,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
            # A module-level function (not F.gelu itself) keeps PyTorch off its inference
            # "fast path", which turns rows that see only padding into NaN.
            activation=_gelu,
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.n_heads = n_heads
        self.output_norm = nn.LayerNorm(hidden_dim)

    def item_vectors(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of item ids (all ids ``1..N`` when None), ``[..., hidden]``."""
        if ids is None:
            ids = torch.arange(1, self.n_items + 1, device=self.item_embedding.weight.device)
        vectors = self.item_embedding(ids)
        if self.item_feature_proj is not None and self.item_features is not None:
            vectors = vectors + self.item_feature_proj(self.item_features[ids]) * (
                ids != 0
            ).unsqueeze(-1)
        return vectors

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Returns the user state ``[B, hidden]``."""
        # SB3 hands Box observations over as float32; ids are exact integers below 2**24.
        ids = torch.round(observations["item_ids"]).long()  # [B, L]
        feedback = torch.round(observations["feedback"]).long().clamp(0, N_FEEDBACK - 1)
        batch, length = ids.shape
        padding = ids == 0  # [B, L], from ids, never from embeddings
        recency = torch.arange(length, 0, -1, device=ids.device)  # newest item -> 1
        tokens = (
            self.item_vectors(ids) + self.feedback_embedding(feedback)
        ) + self.position_embedding(recency)  # [B, L, H]
        user = (
            self.user_token + self.context_proj(observations["context"])
        ) + self.position_embedding.weight[0]  # [B, H], recency 0
        sequence = torch.cat([tokens, user.unsqueeze(1)], dim=1)  # [B, L + 1, H]
        mask = self._attention_mask(padding)  # [B * heads, L + 1, L + 1]
        encoded = self.encoder(sequence, mask=mask)  # [B, L + 1, H]
        return self.output_norm(encoded[:, -1])  # the user token sees the whole history

    def _attention_mask(self, padding: torch.Tensor) -> torch.Tensor:
        """Causal + padding mask as additive floats.

        A large finite negative (not -inf) keeps rows that see only padding finite (their
        outputs are never read); real positions give exactly zero weight to padding.
        """
        batch, length = padding.shape
        size = length + 1
        blocked = torch.full((size, size), -1e9, device=padding.device).triu(1)  # causal
        pad = torch.cat(
            [padding, torch.zeros(batch, 1, dtype=torch.bool, device=padding.device)], 1
        )
        mask = blocked.unsqueeze(0) + pad.unsqueeze(1).float() * -1e9  # [B, S, S]
        return mask.repeat_interleave(self.n_heads, dim=0)


class ItemScoringHead(nn.Module):
    """Scores items by ``project_k(state) . item_embedding + bias`` for each slate slot k.

    Args:
        latent_dim: Size of the incoming latent vector.
        extractor: The features extractor whose item embeddings are shared.
        slate_size: Number of slate positions K (1 for single-item actions).
    """

    def __init__(
        self, latent_dim: int, extractor: HistoryTransformerExtractor, slate_size: int
    ) -> None:
        super().__init__()
        hidden = extractor.item_embedding.embedding_dim
        # A plain reference, not a submodule: the extractor is registered (and saved) once,
        # by the policy that owns it.
        object.__setattr__(self, "_extractor", extractor)
        self.slate_size = slate_size
        self.query = nn.Linear(latent_dim, hidden * slate_size)
        self.item_bias = nn.Parameter(torch.zeros(slate_size, extractor.n_items))
        nn.init.normal_(self.query.weight, std=0.01)
        nn.init.zeros_(self.query.bias)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Logits/Q-values ``[B, K * N]`` (slot-major)."""
        batch = latent.shape[0]
        queries = self.query(latent).view(batch, self.slate_size, -1)  # [B, K, H]
        extractor: HistoryTransformerExtractor = self._extractor  # type: ignore[assignment]
        items = extractor.item_vectors()  # [N, H]
        scores = torch.einsum("bkh,nh->bkn", queries, items) + self.item_bias  # [B, K, N]
        return scores.reshape(batch, -1)


def _slate_size(action_space: spaces.Space[Any]) -> int:
    if isinstance(action_space, spaces.Discrete):
        return 1
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(action_space.nvec.shape[0])
    raise ValueError(
        f"transformer policy needs Discrete or MultiDiscrete actions, got {action_space}"
    )


class _ScoringHeadMixin:
    """Replaces an actor-critic policy's linear action head by :class:`ItemScoringHead`."""

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)  # type: ignore[misc]
        extractor = self.pi_features_extractor  # type: ignore[attr-defined]
        if not isinstance(extractor, HistoryTransformerExtractor):
            raise TypeError("the transformer policy needs HistoryTransformerExtractor")
        latent_dim = self.mlp_extractor.latent_dim_pi  # type: ignore[attr-defined]
        self.action_net = ItemScoringHead(latent_dim, extractor, _slate_size(self.action_space))  # type: ignore[attr-defined]
        self.optimizer = self.optimizer_class(  # type: ignore[attr-defined]
            self.parameters(),  # type: ignore[attr-defined]
            lr=lr_schedule(1),
            **self.optimizer_kwargs,  # type: ignore[attr-defined]
        )


class TransformerActorCriticPolicy(_ScoringHeadMixin, MultiInputActorCriticPolicy):  # type: ignore[misc]
    """PPO policy: transformer user state -> item scores (actor) and a value head."""


class MaskableTransformerActorCriticPolicy(  # type: ignore[misc]
    _ScoringHeadMixin, MaskableMultiInputActorCriticPolicy
):
    """MaskablePPO policy with the transformer backbone and item-scoring head."""


class TransformerQNetwork(QNetwork):
    """DQN's Q-network with Q-values from the item-scoring head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extractor = self.features_extractor
        if not isinstance(extractor, HistoryTransformerExtractor):
            raise TypeError("the transformer DQN policy needs HistoryTransformerExtractor")
        layers: list[nn.Module] = []
        width = self.features_dim
        for size in self.net_arch:
            layers += [nn.Linear(width, size), self.activation_fn()]
            width = size
        self.q_net = nn.Sequential(*layers, ItemScoringHead(width, extractor, 1))


class TransformerDQNPolicy(DQNMultiInputPolicy):
    """DQN policy whose online and target Q-networks use the transformer backbone."""

    def make_q_net(self) -> QNetwork:
        """Builds a Q-network with its own features extractor (SB3 keeps them separate)."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return TransformerQNetwork(**net_args).to(self.device)


def transformer_policy_kwargs(
    hidden_dim: int = 64,
    n_layers: int = 2,
    n_heads: int = 2,
    item_features: np.ndarray | None = None,
    algorithm: str = "ppo",
) -> dict[str, Any]:
    """``policy_kwargs`` for the transformer policy of an algorithm.

    Args:
        hidden_dim: Encoder width.
        n_layers: Encoder layers.
        n_heads: Attention heads.
        item_features: Optional public item features ``[N, F]``.
        algorithm: ``"ppo"``, ``"maskable-ppo"`` or ``"dqn"``.

    Returns:
        Keyword arguments for the SB3 algorithm's ``policy_kwargs``.
    """
    extractor_kwargs: dict[str, Any] = {
        "hidden_dim": hidden_dim,
        "n_layers": n_layers,
        "n_heads": n_heads,
    }
    if item_features is not None:
        extractor_kwargs["item_features"] = np.asarray(item_features, dtype=np.float32)
    kwargs: dict[str, Any] = {
        "features_extractor_class": HistoryTransformerExtractor,
        "features_extractor_kwargs": extractor_kwargs,
    }
    if algorithm == "dqn":
        kwargs["net_arch"] = []
    else:
        kwargs["net_arch"] = {"pi": [], "vf": [hidden_dim]}
        kwargs["ortho_init"] = False
    return kwargs
