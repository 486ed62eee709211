"""Deployment packages: Lambda zip archives built in memory."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

_SKIPPED = {"__pycache__", ".pytest_cache"}


def zip_sources(files: Mapping[str, str | bytes]) -> bytes:
    """A zip from ``{"app.py": source, ...}``: handy for tests and small inline functions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def zip_directory(root: Path) -> bytes:
    """A reproducible zip of a folder (fixed timestamps, sorted), so unchanged code zips identically."""
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _SKIPPED.intersection(path.relative_to(root).parts) and path.suffix != ".pyc"
    }
    return zip_sources(files)
