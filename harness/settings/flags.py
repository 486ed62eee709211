"""Command-line flags built from the settings' declarations: name, variable, default, bounds, help, choices.

A command lists the settings it uses; each becomes a flag of that command, ``--<variable without
HARNESS_>`` plus the declared spellings (Locust's ``-u``, ``-r``, ``-t``). A flag wins over the variable,
the variable over the config file (``SettingsGroup.from_env``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, get_args, get_type_hints

from harness.settings import SettingsGroup, bounds


def add_flags(parser: argparse.ArgumentParser, group: type[SettingsGroup], names: Iterable[str] | None = None) -> None:
    """One flag per setting of ``group`` (default: all of them), in a section of the help of its own."""
    section = parser.add_argument_group(f"{group.title} settings")
    hints = get_type_hints(group)
    for name in group.names() if names is None else names:
        declared = group.declaration(name)
        kind = [member for member in get_args(hints[name]) if member is not type(None)] or [hints[name]]
        described = f"{declared.help}{bounds(declared)} [{group.env_name(name)}; default {group.shown_default(name)}]"
        options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": described.replace("%", "%%")}
        if kind[0] is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif declared.separator is not None:
            options |= {"nargs": "+", "metavar": _metavar(name), "action": _Joined, "const": declared.separator}
        else:
            options["metavar"] = "{" + ",".join(declared.choices) + "}" if declared.choices else _metavar(name)
        section.add_argument(*group.flag_names(name), **options)


class _Joined(argparse.Action):
    """Several values of one flag, stored as the setting's one string (``const`` is the separator)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        setattr(namespace, self.dest, self.const.join(values))


def _metavar(name: str) -> str:
    return "SECONDS" if name.endswith("_s") else name.rsplit("_", 1)[-1].upper()


def given(args: argparse.Namespace, group: type[SettingsGroup]) -> dict[str, Any]:
    """The settings of ``group`` given as flags (as typed: the group converts and validates them)."""
    return {name: getattr(args, name) for name in group.names() if hasattr(args, name)}
