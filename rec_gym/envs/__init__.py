"""Gymnasium environments of rec-gym."""

from rec_gym.envs.rec_env import RecEnv, RecSlateEnv

__all__ = ["RecEnv", "RecSlateEnv"]
