"""The on-disk cache: where it lives and how files get there without ever being half-written.

The cache directory is, in order: an explicit ``cache_dir`` argument, the ``REC_GYM_CACHE``
environment variable, ``$XDG_CACHE_HOME/rec_gym``, ``~/.cache/rec_gym``. Every file is
written under a temporary name in the same folder and moved into place with ``os.replace``
(atomic on POSIX and Windows), so a crash or an error leaves either the old file or none.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

#: Environment variable that overrides the default cache directory.
CACHE_ENV_VAR = "REC_GYM_CACHE"

#: Prefix of temporary files and folders (never read as cache entries).
TEMP_PREFIX = ".tmp-"


def default_cache_dir() -> Path:
    """The cache directory used when none is given (see the module docstring)."""
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rec_gym"


def resolve_cache_dir(cache_dir: Path | str | None) -> Path:
    """``cache_dir`` as a Path, or the default one."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Writes a file through ``write(handle)`` under a temporary name, then moves it into place.

    Args:
        path: Final location (its folder is created if needed).
        write: Callback that writes the content to a binary file handle.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=path.suffix, dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    return path


@contextlib.contextmanager
def temporary_path(folder: Path, suffix: str = "") -> Iterator[Path]:
    """A fresh temporary file path in ``folder`` that is removed on exit if still there."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
