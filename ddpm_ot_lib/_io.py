"""File handling for every script and runner: one atomic write, one resumable partial file.

* :func:`atomic_write` / :func:`atomic_open`: a result file is never half-written. The
  data go to a temporary file in the same folder (``.<name>.<random>.tmp``), are flushed
  and fsync'ed, and the file is renamed over the target (``os.replace``, atomic on
  POSIX); on any error the temporary file is removed and the target is untouched. The
  result gets the permissions of an ordinary new file (umask), not mkstemp's 0600.
* :func:`check_writable`: fail before any work when the output folder cannot be
  created or written.
* :func:`append_record` / :func:`read_partial`: a JSON-lines file ``<out>.partial`` to
  which a long run appends one record per finished task (fsync'ed), so that a run
  killed at any moment resumes where it stopped: a torn last line is ignored and that
  task simply runs again. Records are ``{"config": ...}`` (first), ``{"row": ...}`` and
  ``{"session": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_write",
    "atomic_open",
    "check_writable",
    "partial_path",
    "append_record",
    "read_partial",
    "json_default",
]


@contextlib.contextmanager
def atomic_open(path, mode: str = "w"):
    """Context manager yielding a file opened on a temporary name, renamed to ``path`` on success.

    mode : "w" (UTF-8 text, newline as written) or "wb" (bytes). Creates the parent folders.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, mode, **({"newline": "", "encoding": "utf-8"} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path, data) -> Path:
    """Write ``data`` (str or bytes) to ``path`` atomically (module docstring). Returns the path."""
    if not isinstance(data, (str, bytes)):
        raise TypeError(f"data must be str or bytes, got {type(data).__name__}")
    with atomic_open(path, "w" if isinstance(data, str) else "wb") as fh:
        fh.write(data)
    return Path(path)


def check_writable(path, name: str = "out") -> Path:
    """``path`` as a Path after checking that its folder can be created and written (ValueError)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} must be a file path, got the folder {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} is not writable: {str(path)!r} ({exc.strerror or exc})") from None
    return path


def partial_path(out) -> Path:
    """The resumable partial file of a result ``out``: ``<out>.partial`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def json_default(value):
    """``json.dumps(default=...)`` for NumPy scalars and arrays."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def append_record(path, record: dict) -> None:
    """Append one JSON line to ``path`` and fsync it (the line is whole or torn, never mixed)."""
    with open(path, "a") as fh:
        fh.write(json.dumps(record, default=json_default) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_partial(path):
    """(config, rows, sessions) of a partial file; (None, [], []) when it does not exist.

    ``config`` is the first ``{"config": ...}`` record, ``rows`` the ``{"row": ...}``
    records in order, ``sessions`` the ``{"session": ...}`` ones. A line that does not
    parse (a write interrupted by a crash) is skipped.
    """
    config, rows, sessions = None, [], []
    path = Path(path)
    if not path.exists():
        return config, rows, sessions
    with open(path) as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict):
                continue
            if "config" in rec and config is None:
                config = rec["config"]
            elif "session" in rec:
                sessions.append(rec["session"])
            elif "row" in rec:
                rows.append(rec["row"])
    return config, rows, sessions
