"""A changing world: interest shifts, drift, new items and the schedule that drives them.

:class:`WorldSchedule` turns the changing-world fields of a :class:`RecEnvConfig` into
functions of the *world step* (the number of env steps an env instance has taken, counted
across episodes):

- the population's mean interest moves by ``shift_magnitude`` along a unit direction drawn
  from the world seed, abruptly at ``shift_step`` or linearly over ``shift_duration`` steps
  (:meth:`WorldSchedule.mean_offset`);
- the last ``n_new_items`` item ids are reserved up front and inactive (never clicked,
  masked) before ``new_items_step`` (:meth:`WorldSchedule.new_items_active`).

Delayed conversions (``purchase_delay``) are a matter of crediting reward, handled by the
env. Nothing here draws from an env's generator, so a world whose options are all off
consumes exactly the same randomness as before.

Example:
    >>> from rec_gym.config import RecEnvConfig
    >>> schedule = WorldSchedule(RecEnvConfig(shift_step=10, shift_duration=4))
    >>> [schedule.shift_fraction(step) for step in (9, 10, 12, 14, 99)]
    [0.0, 0.0, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from rec_gym.config import RecEnvConfig

#: Appeal given to inactive items: their click and purchase probabilities are exactly 0
#: (finite, so no 0 * inf appears in the purchase logit).
INACTIVE_APPEAL = -1e30
#: Spawn key that separates the shift direction's generator from the catalog's.
_SHIFT_STREAM = 8


class WorldSchedule:
    """Changing-world schedule of one config (see the module docstring).

    Args:
        config: World configuration.
    """

    def __init__(self, config: RecEnvConfig) -> None:
        self.config = config
        rng = np.random.default_rng(np.random.SeedSequence([config.catalog_seed, _SHIFT_STREAM]))
        direction = rng.normal(size=config.latent_dim)
        #: Unit direction of the interest shift, ``[latent_dim]`` (from the world seed only).
        self.direction = direction / (np.linalg.norm(direction) + 1e-12)
        n = config.n_items
        #: Indices (0-based) of the reserved new items: the last ``n_new_items``.
        self.new_items = np.arange(n - config.n_new_items, n, dtype=np.int64)

    @property
    def shifts(self) -> bool:
        """Whether the population's interest ever moves."""
        return self.config.shift_step >= 0 and self.config.shift_magnitude != 0.0

    @property
    def has_new_items(self) -> bool:
        """Whether some items start inactive."""
        return self.config.n_new_items > 0 and self.config.new_items_step != 0

    def shift_fraction(self, step: int) -> float:
        """How far the shift has gone at world step ``step``, in ``[0, 1]``.

        0 before ``shift_step``; from then 1 (abrupt, ``shift_duration = 0``) or
        ``(step - shift_step) / shift_duration`` capped at 1 (gradual drift).
        """
        start, duration = self.config.shift_step, self.config.shift_duration
        if start < 0 or step < start:
            return 0.0
        if duration == 0:
            return 1.0
        return min(1.0, (step - start) / duration)

    def mean_offset(self, step: int) -> np.ndarray:
        """Displacement of the population-mean interest at world step ``step``, ``[D]``."""
        return self.shift_fraction(step) * self.config.shift_magnitude * self.direction

    def new_items_active(self, step: int) -> bool:
        """Whether the reserved new items are in the catalog at world step ``step``."""
        start = self.config.new_items_step
        return start >= 0 and step >= start
