"""Registration of rec-gym's environment ids with Gymnasium (one declarative list)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

#: Default session cap (a truncation added by ``gym.make``).
DEFAULT_MAX_EPISODE_STEPS = 50

ENV_SPECS: list[dict[str, Any]] = [
    {
        "id": "RecEnv-v0",
        "entry_point": "rec_gym.envs.rec_env:RecEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
    {
        "id": "RecEnv-Slate-v0",
        "entry_point": "rec_gym.envs.rec_env:RecSlateEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
]


def register_envs() -> None:
    """Registers every id in :data:`ENV_SPECS` once (importing twice is harmless)."""
    for spec in ENV_SPECS:
        if spec["id"] not in gym.registry:
            gym.register(**spec)


def registered_ids() -> list[str]:
    """The ids rec-gym registers."""
    return [spec["id"] for spec in ENV_SPECS]
