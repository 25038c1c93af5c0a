"""rec-gym: a reinforcement-learning recommender simulator as Gymnasium environments.

``import rec_gym`` registers ``RecEnv-v0`` and ``RecEnv-Slate-v0``.
"""

from rec_gym.config import RecEnvConfig
from rec_gym.envs import RecEnv, RecSlateEnv
from rec_gym.registration import register_envs, registered_ids
from rec_gym.simulator import RecSimulator

__version__ = "0.1.0"

register_envs()

__all__ = [
    "RecEnv",
    "RecEnvConfig",
    "RecSimulator",
    "RecSlateEnv",
    "__version__",
    "register_envs",
    "registered_ids",
]
