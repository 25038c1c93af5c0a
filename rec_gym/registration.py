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
        "vector_entry_point": "rec_gym.vector:RecVectorEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
    {
        "id": "RecEnv-Slate-v0",
        "entry_point": "rec_gym.envs.rec_env:RecSlateEnv",
        "vector_entry_point": "rec_gym.vector:RecSlateVectorEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
    # Calibrated from real logs; they need data (data_dir= / REC_GYM_MOVIELENS,
    # data_path= / REC_GYM_LOGS), see rec_gym.data.envs.
    {
        "id": "RecEnv-MovieLens-v0",
        "entry_point": "rec_gym.data.envs:MovieLensRecEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
    {
        "id": "RecEnv-Logs-v0",
        "entry_point": "rec_gym.data.envs:LogsRecEnv",
        "max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
    },
]

#: Ids that need a dataset location to be made (see :mod:`rec_gym.data.envs`).
DATA_ENV_IDS = ("RecEnv-MovieLens-v0", "RecEnv-Logs-v0")


def register_envs() -> None:
    """Registers every id in :data:`ENV_SPECS` once (importing twice is harmless)."""
    for spec in ENV_SPECS:
        if spec["id"] not in gym.registry:
            gym.register(**spec)


def registered_ids(*, include_data: bool = False) -> list[str]:
    """The ids rec-gym registers that ``gym.make`` builds with no arguments.

    Args:
        include_data: Also list :data:`DATA_ENV_IDS`, which need a dataset location.
    """
    return [spec["id"] for spec in ENV_SPECS if include_data or spec["id"] not in DATA_ENV_IDS]
