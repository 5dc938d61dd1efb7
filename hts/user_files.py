"""Text files that users hand to hts (campaign YAML, CIF, POSCAR): read with a size bound, as UTF-8, no NUL."""

from __future__ import annotations

from pathlib import Path

__all__ = ["UserFileError", "read_text"]


class UserFileError(ValueError):
    """A file that cannot be read as bounded UTF-8 text (one-line message)."""


def read_text(path: str | Path, max_bytes: int) -> str:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise UserFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not raw:
        raise UserFileError(f"{path} is empty")
    if len(raw) > max_bytes:
        size = f"{max_bytes >> 20} MiB" if max_bytes >= 1 << 20 else f"{max_bytes >> 10} KiB"
        raise UserFileError(f"{path} is larger than {size}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserFileError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise UserFileError(f"{path} contains a NUL byte")
    return text
