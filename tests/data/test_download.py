"""The opt-in download, against a loopback HTTP server (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rec_gym.calibrate import main
from rec_gym.data.download import DATASETS, dataset_dir, download_dataset
from rec_gym.data.errors import DataError
from rec_gym.data.loaders import load_log
from tests.data.synthetic import SyntheticLog, write_100k


class _Server:
    """A loopback HTTP server answering GET with bytes from ``routes``."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                body = routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must go straight to the test server, never through a proxy."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    running.thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()
        running.thread.join()


def _fixture_zip(tmp_path: Path, log: SyntheticLog) -> bytes:
    """A small ml-100k.zip look-alike (synthetic data, ``ml-100k/`` folder inside)."""
    folder = write_100k(log, tmp_path / "fixture" / "ml-100k")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, f"ml-100k/{path.name}")
    return buffer.getvalue()


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_download_unpacks_and_verifies(
    tmp_path: Path, server: _Server, synthetic_log: SyntheticLog
) -> None:
    archive = _fixture_zip(tmp_path, synthetic_log)
    server.routes["/ml-100k.zip"] = archive
    cache = tmp_path / "cache"
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    folder = download_dataset(
        "movielens-100k", cache, url=server.url("/ml-100k.zip"), checksum=digest
    )
    assert folder == dataset_dir("movielens-100k", cache)
    assert load_log(folder).n_rows == synthetic_log.user.shape[0]
    assert sorted(p.name for p in _files(cache)) == ["u.data", "u.genre", "u.item"]
    # Already there: no second request is needed (the route may disappear).
    del server.routes["/ml-100k.zip"]
    assert download_dataset("movielens-100k", cache, url=server.url("/gone"), checksum=digest)


def test_md5_digests_are_accepted(
    tmp_path: Path, server: _Server, synthetic_log: SyntheticLog
) -> None:
    archive = _fixture_zip(tmp_path, synthetic_log)
    server.routes["/a.zip"] = archive
    digest = "md5:" + hashlib.md5(archive).hexdigest()  # noqa: S324 - GroupLens publishes md5
    folder = download_dataset(
        "movielens-100k", tmp_path / "c", url=server.url("/a.zip"), checksum=digest
    )
    assert (folder / "u.data").is_file()


def test_corrupted_download_is_rejected_and_removed(
    tmp_path: Path, server: _Server, synthetic_log: SyntheticLog
) -> None:
    archive = _fixture_zip(tmp_path, synthetic_log)
    digest = "sha256:" + hashlib.sha256(archive).hexdigest()
    corrupted = bytearray(archive)
    corrupted[len(corrupted) // 2] ^= 0xFF
    server.routes["/ml-100k.zip"] = bytes(corrupted)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="failed the checksum") as info:
        download_dataset("movielens-100k", cache, url=server.url("/ml-100k.zip"), checksum=digest)
    assert "\n" not in str(info.value) and "the file was removed" in str(info.value)
    assert _files(cache) == []
    assert not dataset_dir("movielens-100k", cache).exists()


def test_broken_archives_and_bad_requests_leave_nothing(tmp_path: Path, server: _Server) -> None:
    cache = tmp_path / "cache"
    not_zip = b"<html>not a zip</html>"
    server.routes["/page"] = not_zip
    digest = "sha256:" + hashlib.sha256(not_zip).hexdigest()
    with pytest.raises(DataError, match="not a zip archive"):
        download_dataset("movielens-100k", cache, url=server.url("/page"), checksum=digest)
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as bundle:
        bundle.writestr("other/readme.txt", "hello")
    server.routes["/empty.zip"] = empty.getvalue()
    digest = "sha256:" + hashlib.sha256(empty.getvalue()).hexdigest()
    with pytest.raises(DataError, match="has no ml-100k/u.data"):
        download_dataset("movielens-100k", cache, url=server.url("/empty.zip"), checksum=digest)
    with pytest.raises(DataError, match="failed"):
        download_dataset("movielens-100k", cache, url=server.url("/missing"), checksum=digest)
    assert _files(cache) == []


def test_download_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset 'movielens-5'"):
        download_dataset("movielens-5", tmp_path)
    with pytest.raises(DataError, match="no pinned checksum"):
        download_dataset("movielens-latest-small", tmp_path)
    with pytest.raises(DataError, match="is not valid"):
        download_dataset("movielens-100k", tmp_path, checksum="sha256:abc")
    with pytest.raises(DataError, match="must start with https:// or http://"):
        download_dataset("movielens-100k", tmp_path, url="file:///etc/passwd")
    assert DATASETS["movielens-100k"].url.startswith("https://files.grouplens.org/")


def test_cli_download_against_loopback(
    tmp_path: Path,
    server: _Server,
    synthetic_log: SyntheticLog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = _fixture_zip(tmp_path, synthetic_log)
    server.routes["/ml-100k.zip"] = archive
    cache = tmp_path / "cache"
    args = ["--download", "movielens-100k", "--cache-dir", str(cache)]
    args += ["--url", server.url("/ml-100k.zip")]
    bad = "sha256:" + "0" * 64
    assert main([*args, "--checksum", bad]) == 2
    assert "failed the checksum" in capsys.readouterr().err and _files(cache) == []
    good = "sha256:" + hashlib.sha256(archive).hexdigest()
    assert main([*args, "--checksum", good]) == 0
    assert str(dataset_dir("movielens-100k", cache)) in capsys.readouterr().out
