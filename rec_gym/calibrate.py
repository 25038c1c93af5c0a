"""Command line: calibrate RecEnv from a real log, write a fidelity report, or download data.

Examples::

    python -m rec_gym.calibrate --data ../shared/data/ml-100k --report reports/ml-100k
    python -m rec_gym.calibrate --data logs.csv --user-col uid --item-col sku \\
        --event-col type --time-col ts --event-levels view=0,click=1,purchase=2
    python -m rec_gym.calibrate --download movielens-100k --cache-dir ~/.cache/rec_gym

Calibrations are cached (``--cache-dir``, else ``REC_GYM_CACHE``, else
``~/.cache/rec_gym``), keyed by the data's checksum and the settings; ``--force``
recalibrates. Errors in the input print one line (file, line, problem, fix) and exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rec_gym.data.calibration import CalibratedWorld, CalibrationSettings, calibrate
from rec_gym.data.download import DATASETS, download_dataset
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import FORMATS, LogColumns, detect_format, load_log

#: Calibration settings exposed as flags (``--train-fraction`` etc.).
_SETTING_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("train_fraction", float, "fraction of interactions (by time) before the cut"),
    ("cut_time", int, "explicit cut in unix seconds (overrides --train-fraction)"),
    ("click_threshold", float, "rating counted as a click (default 4)"),
    ("purchase_threshold", float, "rating counted as a purchase (default 5)"),
    ("latent_dim", int, "dimension of item/user vectors (default 16)"),
    ("min_item_interactions", int, "training interactions an item needs (default 1)"),
    ("session_gap_minutes", float, "gap that starts a new session (default 30)"),
    ("seed", int, "seed of every random draw (default 0)"),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m rec_gym.calibrate``."""
    parser = argparse.ArgumentParser(
        prog="python -m rec_gym.calibrate",
        description="Calibrate RecEnv from an interaction log and report its fidelity.",
    )
    parser.add_argument("--data", type=Path, help="dataset folder or interactions .csv file")
    parser.add_argument(
        "--format", default="auto", choices=("auto", *FORMATS), help="log format (default auto)"
    )
    parser.add_argument("--report", type=Path, help="write report.json/.md and PNGs here")
    parser.add_argument("--cache-dir", type=Path, help="cache directory")
    parser.add_argument("--force", action="store_true", help="recalibrate / re-download")
    group = parser.add_argument_group("download (opt-in, needs internet)")
    group.add_argument("--download", choices=tuple(DATASETS), help="dataset to download")
    group.add_argument("--url", help="override the download URL (mirror)")
    group.add_argument("--checksum", help="override the digest: sha256:<hex> or md5:<hex>")
    settings = parser.add_argument_group("calibration settings")
    for name, kind, text in _SETTING_FLAGS:
        settings.add_argument(f"--{name.replace('_', '-')}", type=kind, help=text)
    columns = parser.add_argument_group("generic CSV columns")
    columns.add_argument("--user-col", help="user id column (default 'user')")
    columns.add_argument("--item-col", help="item id column (default 'item')")
    columns.add_argument("--time-col", help="timestamp column (default 'timestamp')")
    columns.add_argument("--rating-col", help="rating column")
    columns.add_argument("--event-col", help="event-type column")
    columns.add_argument("--genres-col", help="'|'-separated genres column")
    columns.add_argument("--event-levels", help="e.g. view=0,click=1,purchase=2")
    columns.add_argument("--delimiter", help="field delimiter (default ',')")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    data = args.data
    if args.download:
        if data is not None:
            parser.error("give either --download or --data, not both")
        data = download_dataset(
            args.download,
            args.cache_dir,
            url=args.url,
            checksum=args.checksum,
            force=args.force,
        )
        print(f"downloaded {args.download} -> {data}")
        if args.report is None:
            return 0
    elif args.url or args.checksum:
        parser.error("--url and --checksum only apply to --download")
    if data is None:
        parser.error("give --data DIR (or --download NAME)")
    overrides = {
        name: getattr(args, name)
        for name, _, _ in _SETTING_FLAGS
        if getattr(args, name) is not None
    }
    settings = CalibrationSettings.from_any(overrides)
    columns = _columns(args)
    fmt = detect_format(data) if args.format == "auto" else args.format
    started = time.perf_counter()
    world = calibrate(
        data,
        fmt=fmt,
        columns=columns,
        settings=settings,
        cache_dir=args.cache_dir,
        force=args.force,
    )
    elapsed = time.perf_counter() - started
    _print_world(world, elapsed)
    if args.report is None:
        return 0
    started = time.perf_counter()
    cached = calibrate(data, fmt=fmt, columns=columns, settings=settings, cache_dir=args.cache_dir)
    load_seconds = time.perf_counter() - started
    from rec_gym.data.fidelity import fidelity_report
    from rec_gym.data.report import write_report

    log = load_log(data, fmt, columns)
    report = fidelity_report(cached, log, timing={"cached_load_seconds": load_seconds})
    paths = write_report(report, args.report)
    ranking, ctr = report["ranking"], report["ctr"]
    numbers = [
        f"AUC {ranking['auc']:.3f}",
        f"cold-start AUC {ranking['auc_cold_start_population_mean']:.3f}",
        f"popularity AUC {ranking['auc_popularity_baseline']:.3f}",
        f"ECE {report['calibration']['ece']:.3f}",
        f"CTR real {ctr['real_heldout']:.3f} / sim {ctr['simulated_popularity_policy']:.3f}",
        f"session-length KS {report['session_length']['ks']:.3f}",
        f"genre TV {report['genre_share']['tv_distance']:.3f}",
        f"cached load {load_seconds:.3f} s",
    ]
    print("fidelity: " + ", ".join(numbers))
    print(f"report: {', '.join(str(p) for p in paths)}")
    return 0


def _columns(args: argparse.Namespace) -> LogColumns:
    values: dict[str, Any] = {}
    for key in ("user", "item", "time", "rating", "event", "genres"):
        value = getattr(args, f"{key}_col")
        if value is not None:
            values[key] = value
    if args.delimiter is not None:
        values["delimiter"] = args.delimiter
    if args.event_levels is not None:
        levels = {}
        for part in args.event_levels.split(","):
            name, sep, level = part.partition("=")
            if not sep or level.strip() not in ("0", "1", "2"):
                raise DataError(
                    f"--event-levels: {part!r} must look like name=0|1|2 "
                    "(e.g. view=0,click=1,purchase=2)"
                )
            levels[name.strip()] = int(level)
        values["event_levels"] = levels
    return LogColumns.from_any(values)


def _print_world(world: CalibratedWorld, seconds: float) -> None:
    counts = world.meta["counts"]
    cut = datetime.fromtimestamp(world.cut_time, UTC).isoformat()
    print(
        f"calibrated {world.meta['format']}: {world.config.n_items} items, "
        f"{world.config.n_topics} topics, {counts['train_users']} training users, cut "
        f"{world.cut_time} ({cut}), {counts['train_rows']} training / {counts['heldout_rows']} "
        f"held-out interactions; {seconds:.2f} s -> {world.path}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
