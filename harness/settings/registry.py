"""Every settings group, in the order `harness config` and the configuration page show them; the config file check.

The one module that knows all groups; the machinery (``harness.settings``) knows none, so the groups
and the machinery never import each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.backend.config import BackendSettings
from harness.bench.config import BenchSettings, SideBySideSettings
from harness.compare.config import CompareSettings
from harness.exceptions import SettingsError
from harness.load.config import LoadSettings, WebUISettings
from harness.settings import SettingsGroup, config_file
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings, TopologySettings


def all_groups() -> list[type[SettingsGroup]]:
    return [
        StackSettings, TopologySettings, TemplateSettings, BackendSettings, LoadSettings, CompareSettings,
        WebUISettings, BenchSettings, SideBySideSettings,
    ]  # fmt: skip


def check_config_file(environ: Mapping[str, str] | None = None) -> None:
    """A key of the config file that no group declares, or a value its setting cannot take, is an error at every
    entry point, whichever group the command uses: never a setting silently ignored, nor one found wrong later."""
    environ = os.environ if environ is None else environ
    values = config_file(environ)
    owners = {name: group for group in all_groups() for name in group.names()}
    unknown = sorted(set(values) - set(owners))
    if unknown:
        raise SettingsError(
            f"unknown setting(s) {', '.join(map(repr, unknown))} in the config file; `harness config` lists them all"
        )
    for name, value in values.items():
        owners[name].parsed(name, value, f"the config file's {name}")


def markdown_tables() -> str:
    """The settings tables (`harness config --markdown`)."""
    return "\n\n".join(group.markdown_table() for group in all_groups())


GENERATED_MARKER = (
    "<!-- Below: written by `harness config --docs docs/configuration.md` from the settings' declarations. "
    "Edit the text above this line, the declarations for the tables. -->"
)


def configuration_page(current: str) -> str:
    """The configuration page of the documentation: its text as written, then a section and a table per group,
    from the declarations (everything after ``GENERATED_MARKER`` is replaced)."""
    text = current.split(GENERATED_MARKER)[0].rstrip()
    sections = [f"## {group.title[0].upper()}{group.title[1:]}\n\n{group.markdown_table()}" for group in all_groups()]
    return f"{text}\n\n{GENERATED_MARKER}\n\n" + "\n\n".join(sections) + "\n"
