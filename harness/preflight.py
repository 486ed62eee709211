"""What this machine must offer before a command starts anything: folders the harness can write, and room
on their disk. Checked first, so a bad environment ends in one sentence and exit 2, with nothing
half-started (no LocalStack process, no record, no report folder)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness.exceptions import SettingsError

MIB = 2**20


def check_writable(folder: Path, what: str, setting: str) -> None:
    """``folder`` exists (or can be made) and takes a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".harness-write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SettingsError(
            f"{what} {folder} cannot be written ({reason}): point {setting} at a folder you can write, "
            "or fix that one's permissions"
        ) from None


def check_free_space(folder: Path, minimum_mb: int, setting: str) -> None:
    """At least ``minimum_mb`` MiB free on the disk that holds ``folder``."""
    free_mb = shutil.disk_usage(folder).free / MIB
    if free_mb < minimum_mb:
        raise SettingsError(
            f"only {free_mb:.0f} MiB free on the disk of {folder}, below the {minimum_mb} MiB the harness keeps as a "
            f"margin (LocalStack's data, function packages, logs and reports grow during a run): free some space, "
            f"or lower {setting} if you know the run is small"
        )


def check_environment(state: Path, minimum_mb: int, reports: Path | None = None) -> None:
    """The state folder (and, for a command that writes runs, the reports folder) writable, with room."""
    check_writable(state, "the state folder", "HARNESS_STATE_DIR")
    check_free_space(state, minimum_mb, "HARNESS_MIN_FREE_DISK_MB")
    if reports is not None:
        check_writable(reports, "the reports folder", "HARNESS_REPORTS_DIR")
        check_free_space(reports, minimum_mb, "HARNESS_MIN_FREE_DISK_MB")
