"""Opt-in download of public datasets into the cache, with a checksum check.

Nothing in rec-gym downloads on its own: only ``python -m rec_gym.calibrate --download
NAME`` (or :func:`download_dataset`) does. The archive is streamed to a temporary file in
the cache, its digest is checked, and only then is it unpacked (into a temporary folder
that is moved into place). A checksum mismatch, a broken archive or an interrupted
download leaves nothing behind.

The pinned digests are the MD5 sums GroupLens publishes next to each archive
(``<archive>.md5`` on files.grouplens.org); GroupLens publishes no SHA-256. Pass
``checksum="sha256:<hex>"`` to pin a stronger one. MovieLens "latest-small" is regenerated
from time to time, so it has no pinned digest: give one explicitly.

Mind the GroupLens terms: MovieLens 100K and 1M may not be redistributed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rec_gym.data.cache import TEMP_PREFIX, resolve_cache_dir, temporary_path
from rec_gym.data.errors import DataError


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset comes from.

    Attributes:
        url: Archive URL (a zip).
        checksum: ``"md5:<hex>"`` or ``"sha256:<hex>"``; None means it must be given.
        folder: Folder inside the archive (and in the cache) holding the files.
        required: Files that must be in that folder.
    """

    url: str
    checksum: str | None
    folder: str
    required: tuple[str, ...]


#: The downloadable datasets.
DATASETS: dict[str, DatasetSource] = {
    "movielens-100k": DatasetSource(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        checksum="md5:0e33842e24a9c977be4e0107933c0723",
        folder="ml-100k",
        required=("u.data", "u.item"),
    ),
    "movielens-1m": DatasetSource(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        checksum="md5:c4d9eecfca2ab87c1945afe126590906",
        folder="ml-1m",
        required=("ratings.dat", "movies.dat"),
    ),
    "movielens-latest-small": DatasetSource(
        url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        checksum=None,
        folder="ml-latest-small",
        required=("ratings.csv", "movies.csv"),
    ),
}

#: Largest archive accepted (bytes).
MAX_DOWNLOAD_BYTES = 1 << 30


def dataset_dir(name: str, cache_dir: Path | str | None = None) -> Path:
    """Where ``name`` lives (or will live) in the cache."""
    return resolve_cache_dir(cache_dir) / "datasets" / _source(name).folder


def download_dataset(
    name: str,
    cache_dir: Path | str | None = None,
    *,
    url: str | None = None,
    checksum: str | None = None,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """Downloads and unpacks a dataset into the cache (no-op when it is already there).

    Args:
        name: A key of :data:`DATASETS`.
        cache_dir: Cache directory (see :mod:`rec_gym.data.cache`).
        url: Override of the archive URL (e.g. a mirror or a test server).
        checksum: Override of the digest, ``"md5:<hex>"`` or ``"sha256:<hex>"``.
        timeout: Network timeout in seconds.
        force: Download again even when the folder exists.

    Returns:
        The dataset folder (pass it to ``--data``).

    Raises:
        DataError: Unknown name, network failure, checksum mismatch or a broken archive;
            nothing is left in the cache in those cases.
    """
    source = _source(name)
    algorithm, expected = _parse_checksum(checksum or source.checksum, name)
    target = dataset_dir(name, cache_dir)
    if not force and all((target / f).is_file() for f in source.required):
        return target
    datasets = target.parent
    address = url or source.url
    with temporary_path(datasets, suffix=".zip") as archive:
        digest = _fetch(address, archive, algorithm, timeout)
        if digest != expected:
            raise DataError(
                f"download of {name} from {address} failed the checksum: expected {algorithm} "
                f"{expected}, got {digest}; the file was removed (retry, or check the URL)"
            )
        _unpack(archive, source, target, address)
    return target


def _source(name: str) -> DatasetSource:
    if name not in DATASETS:
        raise DataError(f"--download: unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name]


def _parse_checksum(checksum: str | None, name: str) -> tuple[str, str]:
    if checksum is None:
        raise DataError(
            f"--download {name}: no pinned checksum (the archive changes over time); pass "
            "--checksum sha256:<hex> (or md5:<hex>)"
        )
    algorithm, _, digest = checksum.partition(":")
    algorithm = algorithm.lower()
    lengths = {"md5": 32, "sha256": 64}
    digest = digest.strip().lower()
    if algorithm not in lengths or len(digest) != lengths[algorithm] or not _is_hex(digest):
        raise DataError(
            f"--checksum {checksum!r} is not valid; use sha256:<64 hex digits> or "
            "md5:<32 hex digits>"
        )
    return algorithm, digest


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _fetch(url: str, path: Path, algorithm: str, timeout: float) -> str:
    """Streams ``url`` to ``path`` and returns its hex digest."""
    if not url.startswith(("https://", "http://")):
        raise DataError(f"--url {url!r} must start with https:// or http://")
    digest = hashlib.new(algorithm)
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise DataError(f"download from {url} exceeds {MAX_DOWNLOAD_BYTES} bytes")
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"download from {url} failed ({reason}); check the network/URL") from None
    return digest.hexdigest()


def _unpack(archive: Path, source: DatasetSource, target: Path, url: str) -> None:
    """Unpacks ``source.folder`` of the zip into ``target`` via a temporary folder."""
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (staging / member).resolve()
                    if not resolved.is_relative_to(staging.resolve()):
                        raise DataError(f"archive from {url} has an unsafe path {member!r}")
                bundle.extractall(staging)
        except zipfile.BadZipFile:
            raise DataError(f"download from {url} is not a zip archive; check the URL") from None
        found = staging / source.folder
        missing = [f for f in source.required if not (found / f).is_file()]
        if missing:
            raise DataError(
                f"archive from {url} has no {source.folder}/{missing[0]}; check the URL"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(found, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
