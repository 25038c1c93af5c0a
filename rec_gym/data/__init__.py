"""Real interaction logs: loaders, an opt-in downloader, and calibration of RecEnv worlds.

``rec_gym.data`` never imports gymnasium; the calibrated environments live in
:mod:`rec_gym.data.envs`.
"""

from rec_gym.data.calibration import (
    CalibratedWorld,
    CalibrationSettings,
    calibrate,
    fit_world,
    load_world,
)
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import InteractionLog, LogColumns, detect_format, load_log

__all__ = [
    "CalibratedWorld",
    "CalibrationSettings",
    "DataError",
    "InteractionLog",
    "LogColumns",
    "calibrate",
    "detect_format",
    "fit_world",
    "load_log",
    "load_world",
]
