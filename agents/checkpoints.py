"""Checkpoints that survive crashes: atomic writes and a checksummed manifest.

Layout of a run folder::

    RUN_DIR/
      config.yml                 fully resolved run configuration
      manifest.json              sha256 of every saved file, newest checkpoint last
      model.zip                  final model (when training finished)
      checkpoints/step_<N>/      model.zip [, vecnormalize.pkl] [, replay_buffer.pkl]
      events.out.tfevents.*      TensorBoard

Every file is written under a temporary name and renamed into place with ``os.replace``,
and the manifest is rewritten (atomically) only after all of a checkpoint's files exist:
a crash mid-write can never make a truncated file the latest checkpoint.

SB3 model files contain pickled Python objects: loading one can run code. Checksums guard
against corruption, not against a malicious file: never load models from untrusted sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
_UMASK = os.umask(0)
os.umask(_UMASK)
CHECKPOINTS = "checkpoints"


class CheckpointError(ValueError):
    """A missing, truncated or corrupted checkpoint (the message names the file)."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Calls ``write(tmp_path)`` then renames the result to ``path`` atomically.

    Args:
        path: Final location.
        write: Writes the complete file at the temporary path it is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600 files; use the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Writes a text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class Checkpoint:
    """One entry of the manifest.

    Attributes:
        step: Environment steps (``num_timesteps``) at save time.
        reason: ``periodic``, ``interrupt``, ``crash`` or ``final``.
        files: Paths relative to the run folder -> sha256.
    """

    step: int
    reason: str
    files: dict[str, str]

    def path(self, run_dir: Path, name: str) -> Path | None:
        """Absolute path of a file of this checkpoint by base name, or None."""
        for relative in self.files:
            if Path(relative).name == name:
                return run_dir / relative
        return None


def read_manifest(run_dir: Path) -> list[Checkpoint]:
    """Checkpoints recorded in a run folder, oldest first (empty if none)."""
    path = run_dir / MANIFEST
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Checkpoint(int(e["step"]), str(e["reason"]), dict(e["files"])) for e in data]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"{path} is corrupted ({error}); restore it or start a new run"
        ) from None


def record_checkpoint(run_dir: Path, checkpoint: Checkpoint) -> None:
    """Appends a checkpoint (whose files all exist) to the manifest, atomically."""
    entries = [c for c in read_manifest(run_dir) if c.files.keys() != checkpoint.files.keys()]
    entries.append(checkpoint)
    payload = [{"step": c.step, "reason": c.reason, "files": c.files} for c in entries]
    atomic_write_text(run_dir / MANIFEST, json.dumps(payload, indent=2) + "\n")


def save_checkpoint(
    run_dir: Path,
    step: int,
    reason: str,
    writers: dict[str, Callable[[Path], object]],
    folder: str | None = None,
) -> Checkpoint:
    """Writes a checkpoint's files atomically, then records them in the manifest.

    Args:
        run_dir: The run folder.
        step: Environment steps so far.
        reason: Why it was saved.
        writers: File name -> function writing that file at a given path.
        folder: Folder relative to the run (default ``checkpoints/step_<step>``).

    Returns:
        The recorded checkpoint.
    """
    relative_folder = Path(folder) if folder is not None else Path(CHECKPOINTS) / f"step_{step:09d}"
    files: dict[str, str] = {}
    for name, write in writers.items():
        target = run_dir / relative_folder / name
        atomic_write(target, write)
        files[str(relative_folder / name)] = sha256_file(target)
    checkpoint = Checkpoint(step, reason, files)
    record_checkpoint(run_dir, checkpoint)
    return checkpoint


def verify(run_dir: Path, checkpoint: Checkpoint) -> None:
    """Checks every file of a checkpoint against its recorded checksum.

    Raises:
        CheckpointError: A file is missing, truncated or modified.
    """
    for relative, expected in checkpoint.files.items():
        path = run_dir / relative
        if not path.exists():
            raise CheckpointError(f"checkpoint file {path} is missing")
        if sha256_file(path) != expected:
            raise CheckpointError(
                f"checkpoint file {path} is truncated or corrupted (checksum differs from "
                f"{run_dir / MANIFEST})"
            )


def latest_valid_checkpoint(run_dir: Path, warn: Callable[[str], Any] = print) -> Checkpoint:
    """The newest checkpoint whose files verify, warning about any skipped.

    Args:
        run_dir: The run folder.
        warn: Called with a one-line message for each corrupt checkpoint skipped.

    Raises:
        CheckpointError: No checkpoint verifies.
    """
    entries = read_manifest(run_dir)
    if not entries:
        raise CheckpointError(
            f"{run_dir} has no checkpoints ({MANIFEST} missing or empty); "
            "pass a run folder written by train.py"
        )
    problems = []
    for checkpoint in sorted(entries, key=lambda c: c.step, reverse=True):
        try:
            verify(run_dir, checkpoint)
        except CheckpointError as error:
            problems.append(str(error))
            warn(f"warning: {error}; falling back to an earlier checkpoint")
            continue
        return checkpoint
    raise CheckpointError(f"no valid checkpoint in {run_dir}: {problems[0]}")
