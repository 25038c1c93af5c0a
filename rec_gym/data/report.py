"""Writing the fidelity report: ``report.json``, ``report.md`` and PNG plots.

matplotlib (a declared dependency) is imported inside :func:`write_plots` with the
non-interactive Agg backend, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from rec_gym.data.cache import atomic_write

#: File names written into the report folder.
REPORT_FILES = (
    "report.json",
    "report.md",
    "session_length.png",
    "genre_share.png",
    "calibration.png",
    "ranking.png",
)


def write_report(report: dict[str, Any], folder: Path | str) -> list[Path]:
    """Writes the JSON, Markdown and PNG files of a fidelity report.

    Args:
        report: Output of :func:`rec_gym.data.fidelity.fidelity_report`.
        folder: Output folder (created if needed).

    Returns:
        The written paths.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_clean(report), indent=2, sort_keys=False, allow_nan=False)
    paths = [atomic_write(folder / "report.json", lambda h: h.write(text.encode()))]
    markdown = render_markdown(report)
    paths.append(atomic_write(folder / "report.md", lambda h: h.write(markdown.encode())))
    paths.extend(write_plots(report, folder))
    return paths


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: every headline number, the protocols and the plots."""
    data, ranking = report["dataset"], report["ranking"]
    calib, ctr = report["calibration"], report["ctr"]
    session, genre = report["session_length"], report["genre_share"]
    purchase, timing = report["purchase_given_click"], report["timing"]
    rows = [
        ("Held-out AUC (per-user mean, fold-in)", _fmt(ranking["auc"])),
        ("Held-out AUC (pair-weighted)", _fmt(ranking["auc_pair_weighted"])),
        ("AUC, users with training history", _fmt(ranking["auc_users_with_training_history"])),
        (
            "AUC, users without training history",
            _fmt(ranking["auc_users_without_training_history"]),
        ),
        ("AUC, cold start (population mean)", _fmt(ranking["auc_cold_start_population_mean"])),
        ("AUC, popularity baseline", _fmt(ranking["auc_popularity_baseline"])),
        ("Expected calibration error (ECE)", _fmt(calib["ece"])),
        (
            "Mean predicted click prob. / observed rate",
            f"{_fmt(calib['mean_predicted'])} / {_fmt(calib['observed_rate'])}",
        ),
        ("CTR real held-out", _fmt(ctr["real_heldout"])),
        ("CTR simulated (popularity policy)", _fmt(ctr["simulated_popularity_policy"])),
        (
            "Purchase | click, real / simulated",
            f"{_fmt(purchase['real_heldout'])} / {_fmt(purchase['simulated'])}",
        ),
        ("Session length KS distance", _fmt(session["ks"])),
        (
            "Session length mean, real / simulated",
            f"{_fmt(session['real_mean'], 2)} / {_fmt(session['simulated_mean'], 2)}",
        ),
        (
            "Session length median, real / simulated",
            f"{_fmt(session['real_median'], 1)} / {_fmt(session['simulated_median'], 1)}",
        ),
        ("Genre share total variation distance", _fmt(genre["tv_distance"])),
        ("Calibration time (s)", _fmt(timing.get("calibration_seconds"), 2)),
        ("Cached load time (s)", _fmt(timing.get("cached_load_seconds"), 3)),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    genres = sorted(genre["real"], key=lambda g: -genre["real"][g])
    genre_rows = "\n".join(
        f"| {g} | {_fmt(genre['real'][g])} | {_fmt(genre['simulated'][g])} |" for g in genres
    )
    fit = report.get("fit") or {}
    click, leave = fit.get("click", {}), fit.get("leave", {})
    return f"""# Fidelity report: {data["format"]}

Data: `{data.get("data_path")}` ({data["rows"]} interactions, sha256 `{data.get("data_checksum")}`).
Time cut: {data["cut_time"]} ({data["cut_utc"]}): {data["train_rows"]} interactions before it
(calibration), {data["heldout_rows"]} at or after it ({data["heldout_users"]} users; this
report). Catalog: {data["catalog_items"]} items. Engagement mapping: {report["engagement_mapping"]}.

## Headline numbers

| Metric | Value |
| --- | --- |
{table}

Ranking protocol: {ranking["protocol"]}. {ranking["n_users"]} users
({ranking["n_users_with_training_history"]} with training history), {ranking["n_positives"]}
positives; {ranking["heldout_rows_out_of_catalog"]} held-out interactions were on items outside
the catalog and are not scored.

Calibration protocol: {calib["protocol"]} ({calib["n"]} interactions).

Sessions: split at gaps over {session["session_gap_minutes"]:g} minutes, capped at
{session["cap"]} steps; {session["real_n"]} real held-out sessions, {session["simulated_n"]}
simulated sessions under the popularity policy (items drawn in proportion to their
popularity at the cut, without repeats). Real CTR is the engaged share of all held-out
interactions (users chose what to rate); simulated CTR is clicks per recommendation.

## Fitted parameters

- Click: affinity_scale {_fmt(click.get("affinity_scale"))}, no_click_utility
  {_fmt(click.get("no_click_utility"))}, satiation_weight {_fmt(click.get("satiation_weight"))}
  (from {click.get("n_samples")} out-of-sample interactions).
- Leaving: {", ".join(f"{k} {v:g}" for k, v in leave.items() if k in _LEAVE_KEYS)};
  training-window KS {_fmt(leave.get("train_ks"))}.

![session lengths](session_length.png)

![genre shares](genre_share.png)

![calibration](calibration.png)

![ranking](ranking.png)

## Genre share of clicks (real engaged held-out vs simulated)

| Genre | Real | Simulated |
| --- | --- | --- |
{genre_rows}
"""


#: Reliability-diagram bins with fewer interactions are drawn apart (too noisy to read).
_MIN_BIN_COUNT = 20

_LEAVE_KEYS = (
    "initial_patience",
    "fatigue_per_step",
    "no_click_penalty",
    "satisfaction_gain",
    "leave_base_prob",
    "leave_sensitivity",
)


def write_plots(report: dict[str, Any], folder: Path) -> list[Path]:
    """Draws the report's PNG plots into ``folder``.

    Returns:
        The written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    session, ctr = report["session_length"], report["ctr"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.arange(1, session["cap"] + 1)
    for key, label in (("real_lengths", "real held-out"), ("simulated_lengths", "simulated")):
        counts = np.asarray(session[key], dtype=np.float64)
        cdf = np.cumsum(counts) / max(counts.sum(), 1.0)
        left.step(
            steps,
            cdf,
            where="post",
            label=f"{label} (mean {np.dot(steps, counts) / max(counts.sum(), 1):.1f})",
        )
    left.set(
        xlabel="session length (interactions, capped)",
        ylabel="CDF",
        title=f"Session length, KS = {session['ks']:.3f}",
    )
    left.legend()
    right.plot(steps, _nan(ctr["real_by_position"]), label="real held-out (engaged rate)")
    right.plot(steps, _nan(ctr["simulated_by_position"]), label="simulated, popularity policy")
    right.set(
        xlabel="position in session",
        ylabel="CTR",
        ylim=(0, 1),
        title=f"CTR real {ctr['real_heldout']:.3f} vs sim {ctr['simulated_popularity_policy']:.3f}",
    )
    right.legend()
    paths.append(_save(fig, folder / "session_length.png"))

    genre = report["genre_share"]
    names = sorted(genre["real"], key=lambda g: genre["real"][g])
    fig, axis = plt.subplots(figsize=(7, max(3.0, 0.3 * len(names) + 1)))
    y = np.arange(len(names))
    axis.barh(y - 0.2, [genre["real"][g] for g in names], height=0.4, label="real engaged")
    axis.barh(y + 0.2, [genre["simulated"][g] for g in names], height=0.4, label="simulated clicks")
    axis.set_yticks(y, names)
    axis.set(xlabel="share", title=f"Genre share of clicks, TV = {genre['tv_distance']:.3f}")
    axis.legend()
    paths.append(_save(fig, folder / "genre_share.png"))

    calib = report["calibration"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    solid = [b for b in calib["bins"] if b["count"] >= _MIN_BIN_COUNT]
    sparse = [b for b in calib["bins"] if 0 < b["count"] < _MIN_BIN_COUNT]
    left.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    left.plot(
        [b["mean_prob"] for b in solid], [b["rate"] for b in solid], marker="o", label="simulator"
    )
    if sparse:
        left.scatter(
            [b["mean_prob"] for b in sparse],
            [b["rate"] for b in sparse],
            color="lightgrey",
            label=f"bins with < {_MIN_BIN_COUNT} interactions",
        )
    left.set(
        xlabel="predicted click probability",
        ylabel="observed engaged rate",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Reliability, ECE = {calib['ece']:.3f}",
    )
    left.legend()
    centers = [(b["low"] + b["high"]) / 2 for b in calib["bins"]]
    right.bar(centers, [b["count"] for b in calib["bins"]], width=0.09)
    right.set(
        xlabel="predicted click probability", ylabel="held-out interactions", title="Predictions"
    )
    paths.append(_save(fig, folder / "calibration.png"))

    ranking = report["ranking"]
    fig, axis = plt.subplots(figsize=(7, 4))
    edges = np.linspace(0, 1, 41).tolist()
    for key, label in (
        ("fold_in", f"simulator, fold-in (mean {ranking['auc']:.3f})"),
        ("cold", f"population mean (mean {ranking['auc_cold_start_population_mean']:.3f})"),
        ("popularity", f"popularity (mean {ranking['auc_popularity_baseline']:.3f})"),
    ):
        axis.hist(
            ranking["user_aucs"][key], bins=edges, histtype="step", linewidth=1.5, label=label
        )
    axis.set(
        xlabel="per-user AUC", ylabel="users", title="Held-out ranking quality (sampled negatives)"
    )
    axis.legend(loc="upper left")
    paths.append(_save(fig, folder / "ranking.png"))
    plt.close("all")
    return paths


def _nan(values: list[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=100))
