"""A small synthetic rating log with planted structure, written in every supported format.

Users like one of four genres; they rate items of their genre high and others low, in
sessions of a few items a minute apart, sessions hours apart, users arriving over ~60
days. Everything is drawn from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

GENRES = ("Action", "Comedy", "Drama", "Horror")
START = 1_000_000_000  # unix seconds


@dataclass(frozen=True)
class SyntheticLog:
    """Rows of a synthetic log and item metadata."""

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    time: np.ndarray
    item_genre: np.ndarray  # genre index of items 1..n_items (position item - 1)
    item_year: np.ndarray

    @property
    def n_items(self) -> int:
        return int(self.item_genre.shape[0])


def make_log(n_users: int = 60, n_items: int = 40, seed: int = 0) -> SyntheticLog:
    """Draws the synthetic log (about 25 ratings per user)."""
    rng = np.random.default_rng(seed)
    item_genre = np.arange(n_items) % len(GENRES)
    popularity = rng.gamma(1.0, size=n_items) + 0.1
    rows: list[tuple[int, int, float, int]] = []
    for user in range(1, n_users + 1):
        taste = int(rng.integers(len(GENRES)))
        clock = START + int(rng.integers(0, 60 * 86_400))
        seen: set[int] = set()
        for _ in range(int(rng.integers(1, 5))):
            for _ in range(int(rng.integers(1, 12))):
                weight = popularity * np.where(item_genre == taste, 4.0, 1.0)
                weight[[i - 1 for i in seen]] = 0.0
                if weight.sum() == 0:
                    break
                item = int(rng.choice(n_items, p=weight / weight.sum())) + 1
                seen.add(item)
                liked = item_genre[item - 1] == taste
                rating = float(np.clip(rng.normal(4.4 if liked else 2.6, 0.8), 1, 5).round())
                rows.append((user, item, rating, clock))
                clock += int(rng.integers(20, 120))
            clock += int(rng.integers(3, 48)) * 3600
    user_a, item_a, rating_a, time_a = (np.array(col) for col in zip(*rows, strict=True))
    year = 1980 + rng.integers(0, 30, size=n_items)
    return SyntheticLog(
        user_a.astype(np.int64),
        item_a.astype(np.int64),
        rating_a.astype(np.float64),
        time_a.astype(np.int64),
        item_genre,
        year,
    )


def write_latest(log: SyntheticLog, folder: Path, *, extra_rows: str = "") -> Path:
    """Writes ``ratings.csv`` + ``movies.csv`` (MovieLens latest, CRLF line endings)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["userId,movieId,rating,timestamp"]
    lines += [
        f"{u},{i},{r:.1f},{t}"
        for u, i, r, t in zip(log.user, log.item, log.rating, log.time, strict=True)
    ]
    (folder / "ratings.csv").write_bytes(("\r\n".join(lines) + "\r\n" + extra_rows).encode())
    movies = ["movieId,title,genres"]
    for index in range(log.n_items):
        second = GENRES[(log.item_genre[index] + 1) % len(GENRES)] if index % 3 == 0 else None
        genres = GENRES[log.item_genre[index]] + (f"|{second}" if second else "")
        movies.append(f'{index + 1},"Movie {index + 1}, The ({log.item_year[index]})",{genres}')
    (folder / "movies.csv").write_bytes(("\r\n".join(movies) + "\r\n").encode())
    return folder


def write_100k(log: SyntheticLog, folder: Path) -> Path:
    """Writes ``u.data``, ``u.item`` (Latin-1) and ``u.genre`` (MovieLens 100K layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = "".join(
        f"{u}\t{i}\t{int(r)}\t{t}\n"
        for u, i, r, t in zip(log.user, log.item, log.rating, log.time, strict=True)
    )
    (folder / "u.data").write_text(data, encoding="ascii")
    genre_lines = "".join(f"{name}|{k}\n" for k, name in enumerate(GENRES)) + "\n"
    (folder / "u.genre").write_text(genre_lines, encoding="latin-1")
    items = []
    for index in range(log.n_items):
        flags = ["0"] * len(GENRES)
        flags[log.item_genre[index]] = "1"
        title = "Misérables, Les" if index == 0 else f"Movie {index + 1}"
        date = f"01-Jan-{log.item_year[index]}"
        items.append("|".join([str(index + 1), title, date, "", "http://x", *flags]))
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    return folder


def write_1m(log: SyntheticLog, folder: Path) -> Path:
    """Writes ``ratings.dat`` and ``movies.dat`` (MovieLens 1M layout, Latin-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = "".join(
        f"{u}::{i}::{int(r)}::{t}\n"
        for u, i, r, t in zip(log.user, log.item, log.rating, log.time, strict=True)
    )
    (folder / "ratings.dat").write_text(data, encoding="ascii")
    movies = "".join(
        f"{index + 1}::Café {index + 1} ({log.item_year[index]})::{GENRES[log.item_genre[index]]}\n"
        for index in range(log.n_items)
    )
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))
    return folder


def write_events_csv(log: SyntheticLog, path: Path) -> Path:
    """Writes a generic event log: ``uid,sku,kind,ts,cats`` with ISO timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["uid,sku,kind,ts,cats"]
    for u, i, r, t in zip(log.user, log.item, log.rating, log.time, strict=True):
        kind = "purchase" if r >= 5 else "click" if r >= 4 else "view"
        stamp = np.datetime64(int(t), "s").astype(str)
        lines.append(f"{u},{i},{kind},{stamp},{GENRES[log.item_genre[i - 1]]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
