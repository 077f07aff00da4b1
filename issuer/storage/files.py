"""Output files written whole or not at all: a reader never sees a partial file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["TMP_SUFFIX", "atomic_write", "create_new", "remove_stale_temporaries", "temporary_name"]

#: The suffix of a temporary file (hidden: its name also starts with a dot).
TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (or what the callback writes) to a temporary file, then rename it in place.

    A reader never sees a partial file; a crash leaves at most a hidden ``.*.tmp`` file behind.
    """
    temporary = temporary_name(path)
    try:
        with os.fdopen(create_new(temporary), "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def temporary_name(path: Path) -> Path:
    """A hidden, random name beside ``path``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}{TMP_SUFFIX}")


def create_new(path: Path) -> int:
    """Create ``path`` (never an existing file), with permissions as ``open`` gives after umask."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def remove_stale_temporaries(*folders: Path) -> None:
    r"""Delete what interrupted :func:`atomic_write`\ s left in ``folders``."""
    for folder in folders:
        for leftover in folder.glob(f".*{TMP_SUFFIX}"):
            with contextlib.suppress(OSError):
                leftover.unlink()
