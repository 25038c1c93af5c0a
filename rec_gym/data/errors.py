"""The one error class of the data layer: bad input files, settings or downloads."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A problem with user-supplied data, settings or a download.

    The message is always one line that names the file (and line) or parameter, the problem
    and the fix, e.g. ``ratings.csv:7: timestamp 'yesterday' is not ...; fix the value``.
    It subclasses ``ValueError`` so generic handlers still catch it.
    """


def file_error(path: Path | str, problem: str, line: int | None = None) -> DataError:
    """Builds a one-line :class:`DataError` that names a file and, if known, a line.

    Args:
        path: The offending file.
        problem: What is wrong and how to fix it (one line, no trailing period needed).
        line: 1-based line number, when the problem is on one line.

    Returns:
        The error (to be raised by the caller).

    Example:
        >>> str(file_error("u.data", "user id 'x' is not an integer", line=3))
        "u.data:3: user id 'x' is not an integer"
    """
    where = f"{path}:{line}" if line is not None else f"{path}"
    return DataError(f"{where}: {' '.join(problem.split())}")
