"""Calibrated environments: ``RecEnv-MovieLens-v0`` and ``RecEnv-Logs-v0``.

Thin adapters: they calibrate a world from a log (cached, see
:func:`rec_gym.data.calibration.calibrate`) and run it in :class:`~rec_gym.envs.RecEnv`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rec_gym.data.calibration import CalibratedWorld, CalibrationSettings, calibrate
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import LogColumns, detect_format
from rec_gym.envs.rec_env import RecEnv
from rec_gym.reward import RewardModel

#: Environment variable with the MovieLens folder of ``RecEnv-MovieLens-v0``.
MOVIELENS_ENV_VAR = "REC_GYM_MOVIELENS"
#: Environment variable with the log (folder or ``.csv``) of ``RecEnv-Logs-v0``.
LOGS_ENV_VAR = "REC_GYM_LOGS"

#: Config fields fixed by the calibrated data (overriding them is an error).
FIXED_BY_DATA = ("n_items", "n_topics", "latent_dim", "user_feature_dim")


def resolve_location(value: Path | str | None, keyword: str, env_var: str, env_id: str) -> Path:
    """The data location from a keyword or, failing that, an environment variable.

    Raises:
        DataError: Neither is set (the message names both).
    """
    location = value if value is not None else os.environ.get(env_var)
    if not location:
        raise DataError(
            f"{env_id} needs its data: pass {keyword}=... to gym.make or set the {env_var} "
            "environment variable to the dataset folder"
        )
    return Path(location).expanduser()


class CalibratedRecEnv(RecEnv):
    """A :class:`RecEnv` running a world calibrated from a real interaction log.

    Args:
        world: The calibrated world.
        render_mode: ``"ansi"`` or None.
        reward_model: Optional reward model.
        **overrides: RecEnvConfig fields to change (not those in :data:`FIXED_BY_DATA`).
    """

    def __init__(
        self,
        world: CalibratedWorld,
        render_mode: str | None = None,
        *,
        reward_model: RewardModel | None = None,
        **overrides: Any,
    ) -> None:
        if "config" in overrides:
            raise TypeError(
                "config= cannot be combined with a calibrated env; pass single fields "
                "(e.g. history_length=20) instead"
            )
        fixed = [name for name in FIXED_BY_DATA if name in overrides]
        if fixed:
            raise ValueError(
                f"{fixed[0]} is fixed by the calibrated data ({getattr(world.config, fixed[0])}); "
                "remove it from the env keywords"
            )
        self.world = world
        super().__init__(
            render_mode,
            config=world.config,
            reward_model=reward_model,
            catalog=world.catalog,
            population=world.population,
            **overrides,
        )


class MovieLensRecEnv(CalibratedRecEnv):
    """``RecEnv-MovieLens-v0``: the recommender env calibrated from MovieLens ratings.

    ## Description

    The world of :class:`~rec_gym.envs.RecEnv` with its catalog, user population, click and
    purchase mappings and leaving behaviour fitted to MovieLens (100K, 1M or latest) ratings
    before a time cut (see :mod:`rec_gym.data.calibration`): a rating of 4+ is a click, 5 a
    purchase. The first ``gym.make`` calibrates (seconds) and caches the result; later ones
    load it in well under a second.

    ## Action Space

    ``Discrete(N)`` with N the number of movies rated before the cut; action ``a`` is env
    item id ``a + 1``, i.e. the movie with MovieLens id ``env.unwrapped.world.item_ids[a]``.

    ## Observation Space, Rewards, Starting State

    As :class:`~rec_gym.envs.RecEnv`. New users are drawn from the fitted interest prior.

    ## Episode End

    - Termination: the user leaves (fitted patience/leave parameters).
    - Truncation: ``max_episode_steps`` (50).

    ## Arguments

    | Keyword       | Default                       | Meaning                                |
    |---------------|-------------------------------|----------------------------------------|
    | `data_dir`    | env var `REC_GYM_MOVIELENS`   | folder of u.data, ratings.dat or .csv |
    | `cache_dir`   | `REC_GYM_CACHE` or `~/.cache/rec_gym` | where calibrations are cached  |
    | `calibration` | None                          | dict of CalibrationSettings overrides  |
    | others        |                               | RecEnvConfig fields, except the fixed ones |

    The fixed ones (:data:`FIXED_BY_DATA`) are ``n_items``, ``n_topics``, ``latent_dim`` and
    ``user_feature_dim``.

    >>> import gymnasium as gym
    >>> import rec_gym
    >>> env = gym.make("RecEnv-MovieLens-v0", data_dir="../shared/data/ml-100k")  # doctest: +SKIP
    >>> env.action_space  # doctest: +SKIP
    Discrete(1616)

    Without ``data_dir`` and ``REC_GYM_MOVIELENS`` it raises a one-line ``DataError``.

    ## Version History

    - v0: Initial version.
    """

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        data_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
        calibration: CalibrationSettings | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        location = resolve_location(data_dir, "data_dir", MOVIELENS_ENV_VAR, "RecEnv-MovieLens-v0")
        fmt = detect_format(location)
        if not fmt.startswith("movielens"):
            raise DataError(
                f"{location}: not a MovieLens folder (found format {fmt}); use "
                "RecEnv-Logs-v0 for other logs"
            )
        world = calibrate(location, fmt=fmt, settings=calibration, cache_dir=cache_dir)
        super().__init__(world, render_mode, **overrides)


class LogsRecEnv(CalibratedRecEnv):
    """``RecEnv-Logs-v0``: the recommender env calibrated from any interaction log.

    Like :class:`MovieLensRecEnv` but for any format of :mod:`rec_gym.data.loaders`,
    including a generic CSV (``user, item, rating or event, timestamp``).

    ## Arguments

    | Keyword       | Default                  | Meaning                                         |
    |---------------|--------------------------|-------------------------------------------------|
    | `data_path`   | env var `REC_GYM_LOGS`   | dataset folder or interactions `.csv` file      |
    | `format`      | `"auto"`                 | one of `rec_gym.data.loaders.FORMATS`           |
    | `columns`     | None                     | dict of LogColumns fields (see below)           |
    | `cache_dir`   | `REC_GYM_CACHE`          | where calibrations are cached                   |
    | `calibration` | None                     | dict of CalibrationSettings overrides           |

    ``columns`` keys: ``user``, ``item``, ``time``, ``rating`` or ``event``, ``genres``,
    ``event_levels`` and ``delimiter`` (see :class:`~rec_gym.data.loaders.LogColumns`).

    ## Version History

    - v0: Initial version.
    """

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        data_path: Path | str | None = None,
        format: str = "auto",  # noqa: A002 - the natural keyword name
        columns: LogColumns | Mapping[str, Any] | None = None,
        cache_dir: Path | str | None = None,
        calibration: CalibrationSettings | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        location = resolve_location(data_path, "data_path", LOGS_ENV_VAR, "RecEnv-Logs-v0")
        world = calibrate(
            location, fmt=format, columns=columns, settings=calibration, cache_dir=cache_dir
        )
        super().__init__(world, render_mode, **overrides)
