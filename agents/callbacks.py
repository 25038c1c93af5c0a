"""SB3 callbacks: recommender metrics in TensorBoard, hyperparameters, checkpoints, signals.

Everything is logged through ``self.logger`` so it lands in the same TensorBoard run as
SB3's ``rollout/`` and ``train/`` scalars, with environment steps on the x-axis.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam, TensorBoardOutputFormat
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rec_gym.metrics import catalog_coverage, intra_list_diversity


class RecMetricsCallback(BaseCallback):
    """Logs recommender metrics under ``rec/`` every ``interval`` environment steps.

    Works for on- and off-policy algorithms alike (it reads ``infos``, ``actions`` and
    ``dones`` after every vectorised step). Metrics over the steps since the last log:
    ``rec/ctr`` (clicks per recommended item), ``rec/purchase_rate``, ``rec/regret`` (mean
    myopic-oracle regret per step), ``rec/catalog_coverage``; over sessions that ended:
    ``rec/session_length``, ``rec/leave_rate`` (ended by leaving, not by the cap),
    ``rec/intra_list_diversity`` (mean pairwise distance of a session's items' public
    features).

    Args:
        interval: Environment steps between logs (>= 1).
        n_items: Catalog size.
        item_features: Public item features ``[N, F]`` for diversity.
    """

    def __init__(self, interval: int, n_items: int, item_features: np.ndarray) -> None:
        super().__init__()
        self.interval = max(1, int(interval))
        self.n_items = n_items
        self.item_features = item_features
        self._next_log = 0
        self._reset_window()
        self._sessions: list[list[int]] = []

    def _reset_window(self) -> None:
        self._steps = 0
        self._shown = 0
        self._clicks = 0
        self._purchases = 0
        self._regret = 0.0
        self._exposed: list[np.ndarray] = []
        self._lengths: list[int] = []
        self._left: list[bool] = []
        self._diversity: list[float] = []

    def _on_training_start(self) -> None:
        self._next_log = self.num_timesteps + self.interval
        self._sessions = [[] for _ in range(self.training_env.num_envs)]

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        actions = np.asarray(self.locals["actions"]).reshape(len(infos), -1)
        dones = np.asarray(self.locals["dones"]).reshape(-1)
        for env_index, info in enumerate(infos):
            self._steps += 1
            self._shown += actions.shape[1]
            self._clicks += int(info.get("click", 0))
            self._purchases += int(info.get("purchase", 0))
            self._regret += float(info.get("regret", 0.0))
            self._exposed.append(actions[env_index])
            self._sessions[env_index].extend(int(a) for a in actions[env_index])
            if dones[env_index]:
                session = self._sessions[env_index]
                self._lengths.append(int(info.get("session_step", len(session))))
                self._left.append(not info.get("TimeLimit.truncated", False))
                if len(session) > 1:
                    self._diversity.append(
                        intra_list_diversity(self.item_features[np.asarray(session)])
                    )
                self._sessions[env_index] = []
        if self.num_timesteps >= self._next_log:
            self._log()
            self._next_log = self.num_timesteps + self.interval
        return True

    def _log(self) -> None:
        if self._steps == 0:
            return
        record = self.logger.record
        record("rec/ctr", self._clicks / max(self._shown, 1))
        record("rec/purchase_rate", self._purchases / max(self._shown, 1))
        record("rec/regret", self._regret / self._steps)
        exposed = np.concatenate(self._exposed)
        record("rec/catalog_coverage", catalog_coverage(exposed, self.n_items))
        if self._lengths:
            record("rec/session_length", float(np.mean(self._lengths)))
            record("rec/leave_rate", float(np.mean(self._left)))
        if self._diversity:
            record("rec/intra_list_diversity", float(np.mean(self._diversity)))
        self.logger.dump(self.num_timesteps)
        self._reset_window()


class HParamsCallback(BaseCallback):
    """Writes the run's hyperparameters to TensorBoard once: a text table and HParams.

    Every HParams metric is also logged as a scalar with the same tag
    (``rollout/ep_rew_mean`` by SB3, ``rec/ctr`` by :class:`RecMetricsCallback`).

    Args:
        hparams: Flat mapping of names to numbers/strings/bools.
    """

    METRICS = ("rollout/ep_rew_mean", "rec/ctr")

    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.hparams = {
            k: (v if isinstance(v, int | float | str | bool) else str(v))
            for k, v in hparams.items()
        }

    def _on_training_start(self) -> None:
        table = "| name | value |\n|---|---|\n" + "\n".join(
            f"| {k} | {v} |" for k, v in sorted(self.hparams.items())
        )
        for output in self.logger.output_formats:
            if isinstance(output, TensorBoardOutputFormat):
                output.writer.add_text("hyperparameters", table, self.num_timesteps)
        self.logger.record(
            "hparams",
            HParam(self.hparams, dict.fromkeys(self.METRICS, 0.0)),
            exclude=("stdout", "log", "json", "csv"),
        )

    def _on_step(self) -> bool:
        return True


class CheckpointCallback(BaseCallback):
    """Saves a checkpoint every ``interval`` environment steps through ``save``.

    Args:
        interval: Environment steps between checkpoints (>= 1).
        save: Called with the reason (``"periodic"``) to write a checkpoint.
    """

    def __init__(self, interval: int, save: Callable[[str], Any]) -> None:
        super().__init__()
        self.interval = max(1, int(interval))
        self.save = save
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = self.num_timesteps + self.interval

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.save("periodic")
            self._next = self.num_timesteps + self.interval
        return True


class StopOnSignal(BaseCallback):
    """Stops training cleanly after SIGINT or SIGTERM.

    While installed, the first signal sets :attr:`received`. Off-policy algorithms stop
    after the current step; on-policy ones at the end of the current rollout (at most
    ``n_steps`` vectorised steps later), so the step counter stays on a rollout boundary
    and a resumed run ends exactly on its budget. The unfinished rollout is not trained
    on. The runner then saves a final checkpoint. A second SIGINT raises
    ``KeyboardInterrupt`` at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Installs the handlers (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        """Restores the previous handlers."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum

    def _on_step(self) -> bool:
        if self.received is None:
            return True
        if isinstance(self.model, OnPolicyAlgorithm):
            # ``locals["n_steps"]`` counts the rollout's completed steps before this one.
            return int(self.locals["n_steps"]) + 1 < self.model.n_steps
        return False
