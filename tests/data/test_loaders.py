"""Loaders: every format parses, and every kind of bad input gives a one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rec_gym.calibrate import main
from rec_gym.data.calibration import calibrate
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import LogColumns, data_files, detect_format, load_log
from tests.data.synthetic import (
    GENRES,
    SyntheticLog,
    write_1m,
    write_100k,
    write_events_csv,
    write_latest,
)

EVENT_COLUMNS = {"user": "uid", "item": "sku", "event": "kind", "time": "ts", "genres": "cats"}


def _same_rows(log: SyntheticLog, loaded: object) -> None:
    assert np.array_equal(loaded.user, log.user)  # type: ignore[attr-defined]
    assert np.array_equal(loaded.item, log.item)  # type: ignore[attr-defined]
    assert np.array_equal(loaded.time, log.time)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("writer", "fmt"),
    [
        (write_100k, "movielens-100k"),
        (write_1m, "movielens-1m"),
        (write_latest, "movielens-latest"),
    ],
)
def test_movielens_formats_are_detected_and_parsed(
    tmp_path: Path, synthetic_log: SyntheticLog, writer: object, fmt: str
) -> None:
    folder = writer(synthetic_log, tmp_path / "data")  # type: ignore[operator]
    assert detect_format(folder) == fmt
    log = load_log(folder)
    assert log.format == fmt and log.signal == "rating"
    _same_rows(synthetic_log, log)
    assert np.array_equal(log.value, synthetic_log.rating)
    # Item metadata: genres in the right place, years from dates/titles.
    order = np.argsort(log.items.item_id)
    names = log.items.genre_names
    for row in order[:8]:
        item = int(log.items.item_id[row])
        assert log.items.genres[row, names.index(GENRES[synthetic_log.item_genre[item - 1]])]
        assert log.items.year[row] == synthetic_log.item_year[item - 1]


def test_latin1_titles_and_crlf_are_read(tmp_path: Path, synthetic_log: SyntheticLog) -> None:
    folder = write_100k(synthetic_log, tmp_path / "k")
    assert b"Mis\xe9rables" in (folder / "u.item").read_bytes()  # really Latin-1 on disk
    assert load_log(folder).items.item_id.shape == (synthetic_log.n_items,)
    latest = write_latest(synthetic_log, tmp_path / "l")
    assert b"\r\n" in (latest / "ratings.csv").read_bytes()
    assert load_log(latest).n_rows == synthetic_log.user.shape[0]


def test_generic_event_csv_with_iso_times(tmp_path: Path, synthetic_log: SyntheticLog) -> None:
    path = write_events_csv(synthetic_log, tmp_path / "events.csv")
    assert detect_format(path) == "csv"
    log = load_log(path, columns=EVENT_COLUMNS)
    assert log.signal == "event"
    _same_rows(synthetic_log, log)
    expected = (synthetic_log.rating >= 4).astype(float) + (synthetic_log.rating >= 5)
    assert np.array_equal(log.value, expected)
    assert set(GENRES) <= set(log.items.genre_names)


def test_generic_rating_csv_in_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "interactions.csv").write_text("user,item,rating,timestamp\n1,2,4.5,10\n2,2,1,11\n")
    log = load_log(folder)
    assert log.format == "csv" and log.signal == "rating"
    assert log.value.tolist() == [4.5, 1.0] and log.time.tolist() == [10, 11]
    assert data_files(folder) == [folder / "interactions.csv"]


def test_custom_event_levels(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user,item,event,timestamp\n1,1,seen,1\n1,2,bought,2\n")
    levels = {"seen": 0, "bought": 2}
    log = load_log(path, columns={"event": "event", "event_levels": levels})
    assert log.value.tolist() == [0.0, 2.0]


def test_detection_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        detect_format(tmp_path / "missing")
    with pytest.raises(DataError, match="no interaction file found"):
        detect_format(tmp_path)
    (tmp_path / "movies.dat").write_text("1::A (1990)::Drama\n")
    with pytest.raises(DataError, match="ratings.dat is missing"):
        detect_format(tmp_path)


# -- malformed input: one line naming file, line and problem ----------------------------

HEADER = "user,item,rating,timestamp\n"


def _csv(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "bad.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("user,item,timestamp\n1,2,3\n", 1, "no signal column"),
        ("user,item,rating,time\n1,2,3,4\n", 1, "missing column 'timestamp'"),
        (HEADER + "1,2,3,4\nabc,2,3,4\n", 3, "user id 'abc' is not an integer"),
        (HEADER + "1,2,3,4\n1,x7,3,4\n", 3, "item id 'x7' is not an integer"),
        (HEADER + "1,2,3,4\n1,2,3,yesterday\n", 3, "timestamp 'yesterday'"),
        (HEADER + "1,2,3,4\n1,2,3,-5\n", 3, "timestamp '-5'"),
        (HEADER + "1,2,3,4\n1,2,great,4\n", 3, "rating 'great' is not a finite number"),
        (HEADER + "1,2,nan,4\n", 2, "rating 'nan'"),
        (HEADER + "1,2,3,4\n1,2,3\n", 3, "expected 4 fields"),
        ("user,item,event,timestamp\n1,2,click,4\n1,2,teleport,5\n", 3, "event 'teleport'"),
        (b"user,item,rating,timestamp\n1,2,3,4\n5,6,7,\xe98\n", 3, "not valid UTF-8"),
        ("user,item,rating,timestamp\n1,2,3,4\n".encode("utf-16"), 1, "NUL bytes"),
    ],
)
def test_malformed_csv_gives_one_line_error(
    tmp_path: Path, content: str | bytes, line: int, problem: str
) -> None:
    path = _csv(tmp_path, content)
    with pytest.raises(DataError) as info:
        load_log(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: ")
    assert problem in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "file is empty"), ("\n  \n", "file is empty"), (HEADER, "header but no interaction")],
)
def test_empty_files(tmp_path: Path, content: str, problem: str) -> None:
    path = _csv(tmp_path, content)
    with pytest.raises(DataError, match=problem) as info:
        load_log(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_malformed_movielens_files(tmp_path: Path, synthetic_log: SyntheticLog) -> None:
    folder = write_100k(synthetic_log, tmp_path / "k")
    lines = (folder / "u.data").read_text().splitlines()
    lines[4] = "1\t2\t3"  # a missing column
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"u\.data:5: expected 4 fields separated by '\\t'"):
        load_log(folder)
    folder = write_1m(synthetic_log, tmp_path / "m")
    lines = (folder / "ratings.dat").read_text().splitlines()
    lines[9] = "7::8::4::noon"
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"ratings\.dat:10: timestamp 'noon'"):
        load_log(folder)
    folder = write_latest(synthetic_log, tmp_path / "l")
    (folder / "ratings.csv").write_text("userId,movieId,score,timestamp\r\n1,2,3,4\r\n")
    with pytest.raises(DataError, match=r"ratings\.csv:1: missing column 'rating'"):
        load_log(folder)


def test_bad_column_settings(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="either rating= or event="):
        LogColumns(rating="r", event="e")
    with pytest.raises(DataError, match="unknown key 'usr'"):
        LogColumns.from_any({"usr": "u"})
    with pytest.raises(DataError, match="level of 'x' must be 0"):
        LogColumns(event="e", event_levels=(("x", 5),))
    path = _csv(tmp_path, "uid,item,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"missing column 'user'.*--user-col"):
        load_log(path)


def test_bad_input_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    path = _csv(tmp_path, HEADER + "1,2,3,4\n1,2,3,later\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="later"):
        calibrate(path, cache_dir=cache)
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))


def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path, HEADER + "1,2,3,4\n1,2,3,later\n")
    status = main(["--data", str(path), "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {path}:3: timestamp 'later'")
