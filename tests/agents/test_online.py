"""The online-update loop: measures, the stream recorder and a tiny-budget smoke run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from agents.online import (
    OnlineConfig,
    StreamRecorder,
    build_parser,
    config_from_args,
    level,
    main,
    recovery_time,
)
from agents.registry import ConfigError


def _points(returns: list[float], window: int = 100) -> list[dict[str, float]]:
    return [{"step": float((i + 1) * window), "return": r} for i, r in enumerate(returns)]


def test_recovery_time_after_a_dip() -> None:
    # Shift after step 300; dip to 5, back to 9.8 (within 5% of 10) from step 700 on.
    points = _points([10, 10, 10, 5, 6, 8, 9.8, 10.2, 9.9])
    assert recovery_time(points, 300, 10.0) == (True, 400.0)


def test_recovery_time_never_and_no_dip() -> None:
    assert recovery_time(_points([10, 10, 10, 5, 6, 7, 7]), 300, 10.0) == (True, None)
    # A lone lucky window does not count: the rest must stay within on average.
    assert recovery_time(_points([10, 10, 10, 5, 9.6, 6, 6]), 300, 10.0) == (True, None)
    assert recovery_time(_points([10, 10, 10, 9.7, 10.1]), 300, 10.0) == (False, 0.0)


def test_level_uses_episodes_ending_in_range() -> None:
    episodes = [(10, 1.0), (20, 3.0), (30, 5.0)]
    assert level(episodes, 10, 30) == 4.0
    assert math.isnan(level(episodes, 30, 40))


def test_recorder_counts_new_item_exposure_only_when_active() -> None:
    recorder = StreamRecorder(n_envs=2, window=4, new_items=np.array([8, 9]), logger=None)
    inactive = {"click": 0, "regret": 0.5, "new_items_active": False}
    recorder.add(np.array([9, 1]), [inactive, inactive])  # new item shown before it exists
    active_click = {"click": 1, "regret": 0.0, "new_items_active": True}
    active_miss = {"click": 0, "regret": 0.0, "new_items_active": True, "episode": {"r": 7.0}}
    recorder.add(np.array([9, 2]), [active_click, active_miss])
    (point,) = recorder.log.points
    assert point["new_item_share"] == 0.5  # one of the two active steps
    assert point["new_item_ctr"] == 1.0
    assert point["regret"] == 0.25
    assert recorder.log.episodes == [(4, 7.0)]


@pytest.mark.parametrize(
    "changes",
    [{"shift_at": 0}, {"deploy_steps": 0}, {"safe_lr_scale": 0.0}, {"arms": ("nope",)}],
)
def test_config_validation(changes: dict[str, object]) -> None:
    name = next(iter(changes))
    with pytest.raises(ConfigError, match=name):
        OnlineConfig(**changes)  # type: ignore[arg-type]


def test_cli_tiny_flags() -> None:
    args = build_parser().parse_args(["--tiny", "--out", "x", "--deploy-steps", "1024"])
    config = config_from_args(args)
    assert (
        config.deploy_steps == 1024
        and config.pretrain_steps == OnlineConfig.tiny("x").pretrain_steps
    )
    assert config.env_kwargs["n_items"] == 30


def test_online_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "online"
    status = main(
        [
            "--tiny",
            "--out",
            str(out),
            "--deploy-steps",
            "1024",
            "--pretrain-steps",
            "256",
            "--eval-episodes",
            "2",
            "--arms",
            "ppo-frozen",
            "ppo-online-safe",
            "linucb-online",
            "--env-kwargs",
            "purchase_delay=2",
        ]
    )
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    arms = summary["arms"]
    assert set(arms) == {"ppo-frozen", "ppo-online-safe", "linucb-online"}
    # A frozen policy meets the same users with the same action draws: no forgetting.
    assert arms["ppo-frozen"]["forgetting"] == 0.0
    for row in arms.values():
        assert row["curve"] and "recovery_steps" in row
        assert row["pre_shift_return"] is not None
    # New items enter at the shift and get some exposure (reported, not none).
    assert max(row["new_item_share"] for row in arms.values()) > 0.0
    assert "| ppo-online-safe |" in (out / "summary.md").read_text()
    for arm in arms:
        assert list((out / "tb" / arm).glob("events.out.tfevents.*"))
