"""Loaders for interaction logs: MovieLens 100K / 1M / latest, and a generic CSV.

Every loader returns an :class:`InteractionLog`: flat arrays of ``(user, item, value, time)``
plus item metadata (genres, year). The format is detected from the folder's files:

| format             | files                               | notes                          |
|--------------------|-------------------------------------|--------------------------------|
| `movielens-100k`   | `u.data` (+ `u.item`, `u.genre`)     | tab-separated; Latin-1 items   |
| `movielens-1m`     | `ratings.dat` (+ `movies.dat`)       | `::`-separated; Latin-1        |
| `movielens-latest` | `ratings.csv` (+ `movies.csv`)       | UTF-8 CSV, header; CRLF is ok  |
| `csv`              | `interactions.csv` or a `.csv` path  | columns named by `LogColumns`  |

``value`` is a rating (``signal == "rating"``) or an event level (``signal == "event"``:
0 = exposure without engagement, 1 = engagement such as a click, 2 = conversion such as a
purchase); calibration maps both to the simulator's click and purchase (see
:mod:`rec_gym.data.calibration`).

Malformed input (missing columns, non-numeric ids, bad timestamps, an empty file, a wrong
encoding) raises :class:`~rec_gym.data.errors.DataError` with one line naming the file, the
line number and the problem. Loading never writes anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rec_gym.data.errors import DataError, file_error

Signal = Literal["rating", "event"]

#: Format names accepted by :func:`load_log` (plus ``"auto"``).
FORMATS = ("movielens-100k", "movielens-1m", "movielens-latest", "csv")

#: Genre names of MovieLens 100K in ``u.item`` flag order (used when ``u.genre`` is absent).
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

#: Genre of items without any (MovieLens "unknown" / "(no genres listed)", or no metadata).
UNKNOWN_GENRE = "unknown"

#: Default event-name -> level mapping of generic event logs (case-insensitive).
DEFAULT_EVENT_LEVELS: dict[str, int] = {
    "view": 0,
    "impression": 0,
    "exposure": 0,
    "skip": 0,
    "click": 1,
    "like": 1,
    "addtocart": 1,
    "add_to_cart": 1,
    "purchase": 2,
    "buy": 2,
    "transaction": 2,
    "conversion": 2,
}


@dataclass(frozen=True)
class LogColumns:
    """Column names of a generic interactions CSV (format ``csv``).

    Exactly one of ``rating`` and ``event`` names the signal column; when both are None the
    header decides (a ``rating`` column, else an ``event`` column).

    Attributes:
        user: Integer user-id column.
        item: Integer item-id column.
        time: Timestamp column: unix seconds (integer or decimal) or ISO 8601 (naive = UTC).
        rating: Numeric rating column.
        event: Event-type column (names mapped to levels by ``event_levels``).
        genres: Optional column of ``|``-separated item genres.
        event_levels: ``(name, level)`` pairs (level 0 exposure, 1 engagement,
            2 conversion); :data:`DEFAULT_EVENT_LEVELS` when None.
        delimiter: Field delimiter.
    """

    user: str = "user"
    item: str = "item"
    time: str = "timestamp"
    rating: str | None = None
    event: str | None = None
    genres: str | None = None
    event_levels: tuple[tuple[str, int], ...] | None = None
    delimiter: str = ","

    def __post_init__(self) -> None:
        if self.rating is not None and self.event is not None:
            raise DataError(
                "LogColumns: give either rating= or event= (one signal column), not both"
            )
        if len(self.delimiter) != 1:
            raise DataError(f"LogColumns.delimiter must be one character, got {self.delimiter!r}")
        if self.event_levels is not None:
            for name, level in self.event_levels:
                if level not in (0, 1, 2):
                    raise DataError(
                        f"LogColumns.event_levels: level of {name!r} must be 0 (exposure), "
                        f"1 (engagement) or 2 (conversion), got {level!r}"
                    )

    @classmethod
    def from_any(cls, value: LogColumns | Mapping[str, Any] | None) -> LogColumns:
        """Builds columns from an instance, a dict (e.g. env keywords) or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, LogColumns):
            return value
        if not isinstance(value, Mapping):
            raise DataError(f"columns must be a LogColumns or a dict, got {type(value).__name__}")
        names = {"user", "item", "time", "rating", "event", "genres", "event_levels", "delimiter"}
        unknown = sorted(set(value) - names)
        if unknown:
            raise DataError(
                f"columns: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(names))}"
            )
        kwargs = dict(value)
        levels = kwargs.get("event_levels")
        if isinstance(levels, Mapping):
            kwargs["event_levels"] = tuple(sorted((str(k), int(v)) for k, v in levels.items()))
        elif levels is not None:
            kwargs["event_levels"] = tuple((str(k), int(v)) for k, v in levels)
        return cls(**kwargs)

    def levels(self) -> dict[str, int]:
        """The event-name -> level mapping (lower-case names)."""
        pairs = self.event_levels if self.event_levels is not None else DEFAULT_EVENT_LEVELS.items()
        return {name.strip().lower(): int(level) for name, level in pairs}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (part of the calibration cache key)."""
        return {
            "user": self.user,
            "item": self.item,
            "time": self.time,
            "rating": self.rating,
            "event": self.event,
            "genres": self.genres,
            "event_levels": sorted(self.levels().items()) if self.event is not None else None,
            "delimiter": self.delimiter,
        }


@dataclass(frozen=True)
class ItemMetadata:
    """Public item metadata.

    Attributes:
        item_id: Raw item ids, ``[K]`` int64.
        genres: Multi-hot genres, ``[K, G]`` bool.
        genre_names: The G genre names.
        year: Release year, ``[K]`` float64 (NaN when unknown).
    """

    item_id: np.ndarray
    genres: np.ndarray
    genre_names: tuple[str, ...]
    year: np.ndarray

    @classmethod
    def empty(cls) -> ItemMetadata:
        """Metadata for logs without an item file: one ``unknown`` genre."""
        return cls(
            item_id=np.zeros(0, dtype=np.int64),
            genres=np.zeros((0, 1), dtype=bool),
            genre_names=(UNKNOWN_GENRE,),
            year=np.zeros(0),
        )


@dataclass(frozen=True)
class InteractionLog:
    """A parsed interaction log (all arrays have one entry per logged interaction).

    Attributes:
        format: One of :data:`FORMATS`.
        user: Raw user ids, ``[M]`` int64.
        item: Raw item ids, ``[M]`` int64.
        value: Rating or event level, ``[M]`` float64.
        time: Unix seconds, ``[M]`` int64.
        signal: ``"rating"`` or ``"event"`` (what ``value`` holds).
        items: Item metadata.
        files: The files that were read (their checksum keys the calibration cache).
    """

    format: str
    user: np.ndarray
    item: np.ndarray
    value: np.ndarray
    time: np.ndarray
    signal: Signal
    items: ItemMetadata
    files: tuple[Path, ...] = field(default=())

    @property
    def n_rows(self) -> int:
        """Number of logged interactions M."""
        return int(self.user.shape[0])


# -- format detection -------------------------------------------------------------------


def detect_format(path: Path | str) -> str:
    """Detects the log format from a folder's files (or a ``.csv`` file path).

    Args:
        path: A dataset folder, or a generic interactions ``.csv`` file.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        DataError: The path does not exist or holds no known format.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
        raise DataError(
            f"{path}: not a dataset folder or .csv file; pass the folder holding u.data, "
            "ratings.dat, ratings.csv or interactions.csv"
        )
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder; check the data path")
    if (path / "u.data").is_file():
        return "movielens-100k"
    if (path / "ratings.dat").is_file():
        return "movielens-1m"
    if (path / "ratings.csv").is_file():
        return "movielens-latest"
    if (path / "interactions.csv").is_file():
        return "csv"
    if (path / "movies.dat").is_file():
        raise DataError(
            f"{path}: looks like MovieLens 1M but ratings.dat is missing; add ratings.dat "
            "(e.g. python -m rec_gym.calibrate --download movielens-1m)"
        )
    raise DataError(
        f"{path}: no interaction file found; expected u.data (MovieLens 100K), ratings.dat "
        "(1M), ratings.csv (latest) or interactions.csv (generic)"
    )


def data_files(path: Path | str, fmt: str = "auto") -> list[Path]:
    """The files a loader reads for ``path`` (those that exist), interactions first.

    Args:
        path: Dataset folder or ``.csv`` file.
        fmt: Format name or ``"auto"``.

    Returns:
        Existing files, in a fixed order.
    """
    path = Path(path)
    fmt = _resolve_format(path, fmt)
    if fmt == "csv":
        return [path if path.is_file() else path / "interactions.csv"]
    names = {
        "movielens-100k": ["u.data", "u.item", "u.genre"],
        "movielens-1m": ["ratings.dat", "movies.dat"],
        "movielens-latest": ["ratings.csv", "movies.csv"],
    }[fmt]
    return [path / name for name in names if (path / name).is_file()]


def data_checksum(files: Sequence[Path]) -> str:
    """SHA-256 over the files' names and contents (order-independent).

    Args:
        files: Files to hash.

    Returns:
        Hex digest.
    """
    digests = {}
    for path in files:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):  # noqa: B023
                digest.update(chunk)
        digests[Path(path).name] = digest.hexdigest()
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()


def load_log(
    path: Path | str,
    fmt: str = "auto",
    columns: LogColumns | Mapping[str, Any] | None = None,
) -> InteractionLog:
    """Loads an interaction log.

    Args:
        path: Dataset folder (or a generic ``.csv`` file).
        fmt: One of :data:`FORMATS`, or ``"auto"`` to detect it from the files.
        columns: Column names of a generic CSV (ignored for MovieLens formats).

    Returns:
        The parsed log.

    Raises:
        DataError: A file is missing or malformed (one line: file, line, problem, fix).
    """
    path = Path(path)
    fmt = _resolve_format(path, fmt)
    if fmt == "movielens-100k":
        return _load_ml100k(path)
    if fmt == "movielens-1m":
        return _load_ml1m(path)
    if fmt == "movielens-latest":
        return _load_ml_latest(path)
    return _load_generic(path if path.is_file() else path / "interactions.csv", columns)


def _resolve_format(path: Path, fmt: str) -> str:
    if fmt == "auto":
        return detect_format(path)
    if fmt not in FORMATS:
        raise DataError(f"format must be 'auto' or one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt != "csv" and not path.is_dir():
        raise DataError(f"{path}: format {fmt} needs a dataset folder; pass the folder")
    return fmt


# -- MovieLens formats ------------------------------------------------------------------


def _load_ml100k(folder: Path) -> InteractionLog:
    ratings = folder / "u.data"
    rows = _split_lines(ratings, _read_text(ratings, "utf-8"), "\t", 4, "user, item, rating, time")
    user, item, value, time = _ratings_columns(ratings, rows)
    genre_names: tuple[str, ...] = ML100K_GENRES
    genre_file = folder / "u.genre"
    files = [ratings]
    if genre_file.is_file():
        files.append(genre_file)
        genre_rows = _split_lines(
            genre_file, _read_text(genre_file, "latin-1"), "|", 2, "name|index"
        )
        genre_names = tuple(fields[0] for _, fields in genre_rows)
    items = ItemMetadata.empty()
    item_file = folder / "u.item"
    if item_file.is_file():
        files.append(item_file)
        expected = 5 + len(genre_names)
        item_rows = _split_lines(
            item_file,
            _read_text(item_file, "latin-1"),
            "|",
            expected,
            f"id|title|release date|video date|URL|{len(genre_names)} genre flags",
        )
        ids = _to_int([f[0] for _, f in item_rows], [n for n, _ in item_rows], item_file, "item id")
        flags = np.zeros((len(item_rows), len(genre_names)), dtype=bool)
        year = np.full(len(item_rows), np.nan)
        for row, (line, fields) in enumerate(item_rows):
            for g, flag in enumerate(fields[5:]):
                if flag not in ("0", "1"):
                    raise file_error(
                        item_file, f"genre flag {flag!r} must be 0 or 1; fix the value", line
                    )
                flags[row, g] = flag == "1"
            match = re.search(r"(\d{4})\s*$", fields[2])
            if match:
                year[row] = float(match.group(1))
        items = ItemMetadata(ids, flags, genre_names, year)
    return InteractionLog(
        "movielens-100k", user, item, value, time, "rating", items, tuple(sorted(files))
    )


def _load_ml1m(folder: Path) -> InteractionLog:
    ratings = folder / "ratings.dat"
    rows = _split_lines(
        ratings, _read_text(ratings, "latin-1"), "::", 4, "UserID::MovieID::Rating::Timestamp"
    )
    user, item, value, time = _ratings_columns(ratings, rows)
    files = [ratings]
    items = ItemMetadata.empty()
    movies = folder / "movies.dat"
    if movies.is_file():
        files.append(movies)
        movie_rows = _split_lines(
            movies, _read_text(movies, "latin-1"), "::", 3, "MovieID::Title::Genres"
        )
        items = _movies_metadata(movies, movie_rows)
    return InteractionLog(
        "movielens-1m", user, item, value, time, "rating", items, tuple(sorted(files))
    )


def _load_ml_latest(folder: Path) -> InteractionLog:
    ratings = folder / "ratings.csv"
    header, rows = _read_csv(ratings, ",")
    wanted = ["userId", "movieId", "rating", "timestamp"]
    index = _column_index(ratings, header, wanted, "the MovieLens ratings.csv header")
    picked = [(line, [fields[index[name]] for name in wanted]) for line, fields in rows]
    user, item, value, time = _ratings_columns(ratings, picked)
    files = [ratings]
    items = ItemMetadata.empty()
    movies = folder / "movies.csv"
    if movies.is_file():
        files.append(movies)
        movie_header, movie_rows = _read_csv(movies, ",")
        names = ["movieId", "title", "genres"]
        movie_index = _column_index(movies, movie_header, names, "the MovieLens movies.csv header")
        picked_movies = [(line, [f[movie_index[n]] for n in names]) for line, f in movie_rows]
        items = _movies_metadata(movies, picked_movies)
    return InteractionLog(
        "movielens-latest", user, item, value, time, "rating", items, tuple(sorted(files))
    )


def _movies_metadata(path: Path, rows: list[tuple[int, list[str]]]) -> ItemMetadata:
    """Metadata from ``(id, title, 'A|B')`` rows (MovieLens 1M / latest)."""
    ids = _to_int([f[0] for _, f in rows], [n for n, _ in rows], path, "movie id")
    per_item = []
    for _, fields in rows:
        names = [g.strip() for g in fields[2].split("|") if g.strip()]
        per_item.append([g for g in names if g != "(no genres listed)"] or [UNKNOWN_GENRE])
    genre_names = tuple(sorted({g for names in per_item for g in names}))
    position = {g: k for k, g in enumerate(genre_names)}
    genres = np.zeros((len(rows), len(genre_names)), dtype=bool)
    year = np.full(len(rows), np.nan)
    for row, ((_, fields), names) in enumerate(zip(rows, per_item, strict=True)):
        genres[row, [position[g] for g in names]] = True
        match = re.search(r"\((\d{4})\)\s*$", fields[1])
        if match:
            year[row] = float(match.group(1))
    return ItemMetadata(ids, genres, genre_names, year)


def _ratings_columns(
    path: Path, rows: list[tuple[int, list[str]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Converts ``(user, item, rating, time)`` string rows to arrays with line-exact errors."""
    if not rows:
        raise file_error(path, "has no interaction rows; add data or pick another file")
    lines = [line for line, _ in rows]
    user = _to_int([f[0] for _, f in rows], lines, path, "user id")
    item = _to_int([f[1] for _, f in rows], lines, path, "item id")
    value = _to_float([f[2] for _, f in rows], lines, path, "rating")
    time = _to_time([f[3] for _, f in rows], lines, path, allow_iso=False)
    return user, item, value, time


# -- generic CSV --------------------------------------------------------------------------


def _load_generic(path: Path, columns: LogColumns | Mapping[str, Any] | None) -> InteractionLog:
    cols = LogColumns.from_any(columns)
    header, rows = _read_csv(path, cols.delimiter)
    signal_col, signal = _signal_column(path, header, cols)
    wanted = [cols.user, cols.item, signal_col, cols.time]
    flags = {cols.user: "--user-col", cols.item: "--item-col", cols.time: "--time-col"}
    flags[signal_col] = "--rating-col" if signal == "rating" else "--event-col"
    if cols.genres is not None:
        wanted.append(cols.genres)
        flags[cols.genres] = "--genres-col"
    index = _column_index(path, header, wanted, "the header", flags)
    if not rows:
        raise file_error(path, "has a header but no interaction rows; add data")
    lines = [line for line, _ in rows]
    user = _to_int([f[index[cols.user]] for _, f in rows], lines, path, "user id")
    item = _to_int([f[index[cols.item]] for _, f in rows], lines, path, "item id")
    raw_signal = [f[index[signal_col]] for _, f in rows]
    if signal == "rating":
        value = _to_float(raw_signal, lines, path, "rating")
    else:
        levels = cols.levels()
        value = np.empty(len(rows))
        for row, (line, name) in enumerate(zip(lines, raw_signal, strict=True)):
            level = levels.get(name.strip().lower())
            if level is None:
                known = ", ".join(sorted(levels))
                raise file_error(
                    path,
                    f"event {name!r} has no level (known: {known}); pass event_levels "
                    "(e.g. --event-levels view=0,click=1,purchase=2)",
                    line,
                )
            value[row] = level
    time = _to_time([f[index[cols.time]] for _, f in rows], lines, path, allow_iso=True)
    items = ItemMetadata.empty()
    if cols.genres is not None:
        first: dict[int, list[str]] = {}
        for row, (_, fields) in enumerate(rows):
            names = [g.strip() for g in fields[index[cols.genres]].split("|") if g.strip()]
            if names and int(item[row]) not in first:
                first[int(item[row])] = names
        genre_names = tuple(sorted({g for names in first.values() for g in names} | {"unknown"}))
        position = {g: k for k, g in enumerate(genre_names)}
        ids = np.array(sorted(first), dtype=np.int64)
        genres = np.zeros((len(ids), len(genre_names)), dtype=bool)
        for row, item_id in enumerate(ids):
            genres[row, [position[g] for g in first[int(item_id)]]] = True
        items = ItemMetadata(ids, genres, genre_names, np.full(len(ids), np.nan))
    return InteractionLog("csv", user, item, value, time, signal, items, (path,))


def _signal_column(path: Path, header: list[str], cols: LogColumns) -> tuple[str, Signal]:
    if cols.rating is not None:
        return cols.rating, "rating"
    if cols.event is not None:
        return cols.event, "event"
    if "rating" in header:
        return "rating", "rating"
    if "event" in header:
        return "event", "event"
    raise file_error(
        path,
        f"no signal column: the header ({', '.join(header)}) has neither 'rating' nor 'event'; "
        "name it with --rating-col or --event-col",
        1,
    )


# -- low-level parsing --------------------------------------------------------------------


def _read_text(path: Path, encoding: Literal["utf-8", "latin-1"]) -> str:
    """Reads a whole text file, with one-line errors for empty/binary/mis-encoded files.

    ``utf-8`` files must be valid UTF-8 (a BOM is dropped). ``latin-1`` files (MovieLens
    100K/1M) are decoded as UTF-8 when that works (a re-saved copy) and as Latin-1
    otherwise.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the data folder") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    if not data.strip():
        raise file_error(path, "file is empty; re-download or re-export it")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise file_error(
            path, "contains NUL bytes (UTF-16 or a binary file?); re-save it as UTF-8 text", line
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if encoding == "latin-1":
            return data.decode("latin-1")
        line = data[: err.start].count(b"\n") + 1
        raise file_error(
            path,
            f"is not valid UTF-8 (byte 0x{data[err.start]:02x}); re-save the file as UTF-8",
            line,
        ) from None


def _split_lines(
    path: Path, text: str, sep: str, n_fields: int, layout: str
) -> list[tuple[int, list[str]]]:
    """Splits a headerless delimited text into ``(line number, fields)`` rows."""
    rows = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) != n_fields:
            raise file_error(
                path,
                f"expected {n_fields} fields separated by {sep!r} ({layout}), found "
                f"{len(fields)}; fix the line",
                number,
            )
        rows.append((number, fields))
    if not rows:
        raise file_error(path, "file is empty; re-download or re-export it")
    return rows


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Reads a CSV with a header row (CRLF or LF) into the header and numbered rows."""
    text = _read_text(path, "utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
        rows = []
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise file_error(
                    path,
                    f"expected {len(header)} fields like the header, found {len(fields)}; "
                    "fix the line (quote fields that contain the delimiter)",
                    reader.line_num,
                )
            rows.append((reader.line_num, [f.strip() for f in fields]))
    except csv.Error as err:
        raise file_error(
            path, f"unreadable CSV ({err}); fix the quoting", reader.line_num
        ) from None
    return header, rows


def _column_index(
    path: Path,
    header: list[str],
    wanted: list[str],
    what: str,
    flags: Mapping[str, str] | None = None,
) -> dict[str, int]:
    missing = [name for name in wanted if name not in header]
    if missing:
        hint = f" (set it with {flags[missing[0]]})" if flags and missing[0] in flags else ""
        raise file_error(
            path,
            f"missing column {missing[0]!r} in {what} ({', '.join(header)}){hint}; "
            "fix the header or name the right column",
            1,
        )
    return {name: header.index(name) for name in wanted}


def _to_int(values: list[str], lines: list[int], path: Path, what: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.str_).astype(np.int64)
    except (ValueError, OverflowError):
        pass
    for line, value in zip(lines, values, strict=True):
        try:
            number = int(value)
        except ValueError:
            raise file_error(
                path, f"{what} {value!r} is not an integer; ids must be whole numbers", line
            ) from None
        if not -(2**63) <= number < 2**63:
            raise file_error(path, f"{what} {value} is out of the 64-bit range; re-number", line)
    raise file_error(path, f"{what} is not an integer; fix it")  # pragma: no cover


def _to_float(values: list[str], lines: list[int], path: Path, what: str) -> np.ndarray:
    try:
        out = np.array(values, dtype=np.str_).astype(np.float64)
    except ValueError:
        out = None
    if out is not None and np.isfinite(out).all():
        return out
    for line, value in zip(lines, values, strict=True):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise file_error(path, f"{what} {value!r} is not a finite number; fix it", line)
    raise file_error(path, f"{what} is not a finite number; fix it")  # pragma: no cover


def _to_time(values: list[str], lines: list[int], path: Path, *, allow_iso: bool) -> np.ndarray:
    try:
        out = np.array(values, dtype=np.str_).astype(np.int64)
    except (ValueError, OverflowError):
        out = None
    if out is not None and (out >= 0).all():
        return out
    parsed = np.empty(len(values), dtype=np.int64)
    expected = (
        "unix seconds or an ISO 8601 date-time (2020-01-31T12:00:00)"
        if allow_iso
        else "whole unix seconds"
    )
    for row, (line, value) in enumerate(zip(lines, values, strict=True)):
        seconds = _parse_time(value, allow_iso)
        if seconds is None or seconds < 0:
            raise file_error(path, f"timestamp {value!r} is not {expected}; fix the value", line)
        parsed[row] = seconds
    return parsed


def _parse_time(value: str, allow_iso: bool) -> int | None:
    try:
        return int(value)
    except ValueError:
        pass
    if not allow_iso:
        return None
    try:
        number = float(value)
        return int(number) if math.isfinite(number) else None
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
