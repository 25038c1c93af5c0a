"""PNG plots of evaluation results and learning curves (matplotlib, Agg, no pyplot).

Every plotting function returns the data series it drew, so callers (and tests) can check
that a figure shows what it claims. Figures are built with :class:`matplotlib.figure.Figure`
directly and rendered by the Agg canvas: no global backend is switched and no window opens.

Example:
    >>> fig, series = metrics_figure(
    ...     {"random": {"ctr": (0.4, 0.35, 0.45)}, "myopic": {"ctr": (0.9, 0.88, 0.92)}},
    ...     [("ctr", "CTR")],
    ... )
    >>> series["ctr"]["myopic"]
    {'mean': 0.9, 'low': 0.88, 'high': 0.92}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: TensorBoard tags drawn as learning curves (SB3's mean episode return and our CTR).
LEARNING_CURVE_TAGS = ("rollout/ep_rew_mean", "rec/ctr")

Interval = tuple[float, float, float]
Series = dict[str, dict[str, dict[str, float]]]

_AGENT_COLOR = "#d62728"
_BASE_COLOR = "#1f77b4"


def metrics_figure(
    results: Mapping[str, Mapping[str, Interval]],
    metrics: Sequence[tuple[str, str]],
    *,
    highlight: str | None = None,
    title: str | None = None,
) -> tuple[Figure, Series]:
    """One bar chart per metric: a bar per policy at its mean, error bars at its 95% CI.

    Args:
        results: Policy name -> metric key -> ``(mean, low, high)``.
        metrics: ``(key, label)`` of each metric to draw, in order.
        highlight: A policy drawn in another colour (the agent).
        title: Figure title.

    Returns:
        The figure and the drawn series: metric key -> policy -> ``{mean, low, high}``
        (NaN bounds are drawn without an error bar).
    """
    policies = list(results)
    n = len(metrics)
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.2 * cols + 0.5, 3.0 * rows + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    series: Series = {}
    for index, (key, label) in enumerate(metrics):
        ax: Axes = axes[index // cols][index % cols]
        means, lower, upper, colors = [], [], [], []
        series[key] = {}
        for name in policies:
            mean, low, high = (float(v) for v in results[name].get(key, (math.nan,) * 3))
            series[key][name] = {"mean": mean, "low": low, "high": high}
            means.append(mean)
            lower.append(max(mean - low, 0.0) if math.isfinite(low) else 0.0)
            upper.append(max(high - mean, 0.0) if math.isfinite(high) else 0.0)
            colors.append(_AGENT_COLOR if name == highlight else _BASE_COLOR)
        x = np.arange(len(policies))
        ax.bar(
            x,
            np.nan_to_num(np.asarray(means, dtype=np.float64)),
            yerr=np.array([lower, upper]),
            color=colors,
            capsize=3,
            label=label,
        )
        ax.set_title(label, fontsize=10)
        ax.set_xticks(x, policies, rotation=45, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    for index in range(n, rows * cols):
        axes[index // cols][index % cols].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig, series


def plot_metrics(
    path: Path,
    results: Mapping[str, Mapping[str, Interval]],
    metrics: Sequence[tuple[str, str]],
    *,
    highlight: str | None = None,
    title: str | None = None,
) -> Series:
    """Draws :func:`metrics_figure` to a PNG file; returns its series."""
    fig, series = metrics_figure(results, metrics, highlight=highlight, title=title)
    fig.savefig(path, dpi=110)
    return series


def read_scalars(
    run_dir: Path, tags: Sequence[str] = LEARNING_CURVE_TAGS
) -> dict[str, tuple[list[int], list[float]]]:
    """``(steps, values)`` of TensorBoard scalars from every event file in a run folder.

    Args:
        run_dir: Folder holding ``events.out.tfevents.*`` files.
        tags: Scalar tags to read (missing ones are left out).

    Returns:
        Tag -> (steps, values), sorted by step.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    available = set(accumulator.Tags().get("scalars", []))
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for tag in tags:
        if tag in available:
            events = sorted(accumulator.Scalars(tag), key=lambda e: e.step)
            curves[tag] = ([int(e.step) for e in events], [float(e.value) for e in events])
    return curves


def learning_curves_figure(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    tags: Sequence[str] = LEARNING_CURVE_TAGS,
    *,
    title: str | None = None,
) -> tuple[Figure, dict[str, dict[str, list[float]]]]:
    """One panel per tag: value against environment steps.

    Args:
        curves: Tag -> (steps, values), e.g. from :func:`read_scalars`.
        tags: Panels to draw, in order (a missing tag gets a "no data" panel).
        title: Figure title.

    Returns:
        The figure and the drawn series: tag -> ``{"steps": [...], "values": [...]}``.
    """
    fig = Figure(figsize=(5.0 * len(tags), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(tags), squeeze=False)[0]
    series: dict[str, dict[str, list[float]]] = {}
    for ax, tag in zip(axes, tags, strict=True):
        ax.set_title(tag, fontsize=10)
        ax.set_xlabel("environment steps", fontsize=9)
        if tag not in curves or not curves[tag][0]:
            ax.text(0.5, 0.5, "no data in the run's events", ha="center", transform=ax.transAxes)
            continue
        steps, values = (list(v) for v in curves[tag])
        ax.plot(steps, values, marker="o", markersize=3, label=tag)
        ax.grid(alpha=0.3)
        series[tag] = {"steps": [float(s) for s in steps], "values": [float(v) for v in values]}
    if title:
        fig.suptitle(title, fontsize=11)
    return fig, series


def plot_learning_curves(
    path: Path,
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    tags: Sequence[str] = LEARNING_CURVE_TAGS,
    *,
    title: str | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Draws :func:`learning_curves_figure` to a PNG file; returns its series."""
    fig, series = learning_curves_figure(curves, tags, title=title)
    fig.savefig(path, dpi=110)
    return series


def figure_bars(fig: Figure) -> dict[str, list[float]]:
    """Bar heights of each titled panel of a figure (to check a figure against its data).

    Args:
        fig: A figure from :func:`metrics_figure`.

    Returns:
        Panel title -> bar heights, left to right.
    """
    out: dict[str, list[float]] = {}
    for ax in fig.axes:
        if ax.get_visible() and ax.get_title():
            out[ax.get_title()] = [float(p.get_height()) for p in ax.patches]  # type: ignore[attr-defined]
    return out
