"""Background processes the harness starts (LocalStack, PostgreSQL): their groups, signals and logs."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import psutil


def read_record(path: Path) -> dict:
    """A started process's record (JSON written beside it); empty when there is none or it is unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def live_record(path: Path, name: str) -> dict | None:
    """The record, while its ``pid`` is a live process whose name contains ``name`` (not a reused pid)."""
    record = read_record(path)
    pid = record.get("pid")
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid) if pid else None
        if process and process.status() != psutil.STATUS_ZOMBIE and name in process.name():
            return record
    return None


def group_members(pgid: int) -> list[psutil.Process]:
    """Every process in the process group ``pgid`` (a server and all it started)."""
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


def signal_and_wait(processes: list[psutil.Process], signum: int, timeout_s: float) -> list[psutil.Process]:
    """Signal every process, wait up to ``timeout_s``; the ones still alive."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signum)
    return psutil.wait_procs(processes, timeout=timeout_s)[1]


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
