"""Deployment packages: Lambda zip archives built in memory, with a folder's requirements vendored in."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from harness.exceptions import DeployError

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


def function_package(folder: Path, cache_dir: Path) -> bytes:
    """The zip of ``folder`` with the packages of its requirements.txt vendored in (cached by content)."""
    requirements = folder / "requirements.txt"
    lines = (
        [line for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")]
        if requirements.is_file()
        else []
    )
    if not lines:
        return zip_directory(folder)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    vendored = cache_dir / f"vendored-{digest}"
    if not vendored.is_dir():
        staging = cache_dir / f".staging-{digest}"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        result = subprocess.run(
            [*pip, "--target", str(staging), "-r", str(requirements)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise DeployError(
                f"installing {requirements} failed (pip exit {result.returncode}):\n{result.stderr[-2000:]}"
            )
        staging.rename(vendored)
    merged = cache_dir / f"build-{folder.name}"
    shutil.rmtree(merged, ignore_errors=True)
    shutil.copytree(vendored, merged)
    shutil.copytree(folder, merged, dirs_exist_ok=True)  # the function's own files win
    return zip_directory(merged)


def code_sha256(package: bytes) -> str:
    """Lambda's CodeSha256 of a package: unchanged code is not uploaded again."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()
