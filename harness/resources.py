"""What the commands need beside the package: the reference functions and the Locust file.

In a checkout (and an editable install) they are the repository's own ``functions/`` and ``locustfiles/``;
a wheel carries a copy inside the package (``harness/_bundled``, made by setup.py), so an installed
`harness load` and the pytest plugin's defaults work from the user's project.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from shutil import which

PACKAGE = Path(__file__).resolve().parent
BUNDLED = ("functions", "locustfiles")


def bundled(name: str) -> Path:
    """``functions`` or ``locustfiles``: the wheel's copy when installed, else the checkout's folder."""
    shipped = PACKAGE / "_bundled" / name
    return shipped if shipped.is_dir() else PACKAGE.parent / name


def ensure_node_sdk(progress: Callable[[str], None] = lambda _: None) -> None:
    """The AWS SDK Node.js functions find provided (`make venv` installs it in a checkout; an installed
    wheel has its lock file only): `npm ci` once, where npm exists."""
    from harness.localstack_extensions.lambda_executor.runtimes import PROVIDED_NODE_MODULES

    folder = PROVIDED_NODE_MODULES.parent
    if PROVIDED_NODE_MODULES.is_dir() or not (folder / "package-lock.json").is_file() or which("npm") is None:
        return
    progress("installing the AWS SDK for JavaScript v3 that Node.js functions find provided (npm ci, once) ...")
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, capture_output=True, text=True
    )
    if result.returncode != 0:
        progress(f"warning: npm ci failed in {folder}; Node.js functions will lack the SDK:\n{result.stderr[-1000:]}")
