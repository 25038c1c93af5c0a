"""The PNG plots show the numbers they claim: bars, error bars and learning curves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.image import imread
from stable_baselines3.common.logger import configure

from agents.plots import (
    figure_bars,
    learning_curves_figure,
    metrics_figure,
    plot_learning_curves,
    plot_metrics,
    read_scalars,
)

RESULTS = {
    "agent": {"return": (12.0, 10.5, 13.5), "ctr": (0.6, 0.55, 0.65)},
    "random": {"return": (6.5, 6.0, 7.0), "ctr": (0.4, 0.38, 0.42)},
    "anti": {"return": (0.0, math.nan, math.nan), "ctr": (0.0, 0.0, 0.0)},
}
METRICS = [("return", "mean return"), ("ctr", "CTR")]


def test_bars_and_error_bars_are_the_means_and_intervals() -> None:
    fig, series = metrics_figure(RESULTS, METRICS, highlight="agent")
    assert figure_bars(fig) == {
        "mean return": [12.0, 6.5, 0.0],
        "CTR": pytest.approx([0.6, 0.4, 0.0]),
    }
    assert series["return"]["random"] == {"mean": 6.5, "low": 6.0, "high": 7.0}
    for ax, (key, _) in zip(fig.axes, METRICS, strict=True):
        segments = [c for c in ax.collections if isinstance(c, LineCollection)][0].get_segments()
        for segment, name in zip(segments, RESULTS, strict=True):
            mean, low, high = RESULTS[name][key]
            ys = sorted(float(y) for _, y in segment)
            if math.isnan(low):  # no interval: a zero-length bar
                assert ys == [mean, mean]
            else:
                assert ys == pytest.approx([low, high])
        labels = [tick.get_text() for tick in ax.get_xticklabels()]
        assert labels == list(RESULTS)
    colors = {tuple(np.round(np.asarray(p.get_facecolor()), 3)) for p in fig.axes[0].patches}
    assert len(colors) == 2  # the agent stands out


def test_plot_metrics_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "metrics.png"
    series = plot_metrics(path, RESULTS, METRICS)
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 0.05  # not a blank canvas
    assert set(series) == {"return", "ctr"}


def test_learning_curves_come_from_the_event_files(tmp_path: Path) -> None:
    logger = configure(str(tmp_path), ["tensorboard"])
    written: dict[str, list[tuple[int, float]]] = {"rollout/ep_rew_mean": [], "rec/ctr": []}
    for step in (64, 128, 192, 256):
        values = {"rollout/ep_rew_mean": step / 10.0, "rec/ctr": step / 1000.0}
        for tag, value in values.items():
            logger.record(tag, value)
            written[tag].append((step, value))
        logger.dump(step)
    logger.close()
    curves = read_scalars(tmp_path)
    for tag, pairs in written.items():
        assert curves[tag][0] == [s for s, _ in pairs]
        assert curves[tag][1] == pytest.approx([v for _, v in pairs])
    fig, series = learning_curves_figure(curves)
    for ax in fig.axes:
        (line,) = ax.get_lines()
        tag = ax.get_title()
        assert np.asarray(line.get_xdata()).tolist() == [s for s, _ in written[tag]]
        assert np.asarray(line.get_ydata()).tolist() == pytest.approx([v for _, v in written[tag]])
        assert series[tag]["values"] == pytest.approx([v for _, v in written[tag]])
    path = tmp_path / "curves.png"
    assert plot_learning_curves(path, curves) == series
    assert imread(path).shape[1] > 500


def test_missing_tags_give_an_empty_panel(tmp_path: Path) -> None:
    fig, series = learning_curves_figure({"rec/ctr": ([1, 2], [0.1, 0.2])})
    assert set(series) == {"rec/ctr"}
    empty = fig.axes[0]
    assert not empty.get_lines() and "no data" in empty.texts[0].get_text()
    assert read_scalars(tmp_path) == {}
