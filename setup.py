"""The project is declared in pyproject.toml; this only adds the bundled folders to built wheels."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("functions", "locustfiles")


class BuildWithBundled(build_py):
    """A wheel carries the reference functions and the Locust file inside the package (harness/_bundled):
    an installed `harness load` and the pytest plugin's defaults need them. Editable installs use the checkout's."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in BUNDLED:
            if Path(name).is_dir():
                shutil.copytree(
                    name,
                    Path(self.build_lib, "harness", "_bundled", name),
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"),
                )


setup(cmdclass={"build_py": BuildWithBundled})
