"""How settings are declared, read and validated: the machinery, which knows no group.

Each option is declared once, with its variable, flag, default, bounds and help (``option(...)``), in the
settings group of the component that uses it (``harness.stack.config.StackSettings`` and the others that
``harness.settings.registry`` lists). A group reads defaults, then the config file, then ``HARNESS_*``
variables, then command-line flags (``harness.settings.flags`` builds them from the same declarations),
and validates itself where it is used, so `harness status` never trips over a load setting.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, get_args, get_type_hints

from harness.exceptions import SettingsError


@dataclass(frozen=True)
class Declaration:
    """What a person needs to know about one option; also drives parsing and validation."""

    help: str
    env: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    duration: bool = False
    """Also accepts Locust-style durations: 30s, 5m, 1h30m (plain numbers are seconds)."""
    shown_default: str | None = None
    """How the default reads in tables when the value itself is machine-specific."""
    flags: tuple[str, ...] = ()
    """Other spellings of its flag beside ``--<variable without HARNESS_>``, e.g. Locust's ``-u``."""
    separator: str | None = None
    """A list in one string (``Key=Value Key2=Value2``): its flag takes several values, joined by this."""


def option(
    default: Any,
    help: str,
    *,
    env: str | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[str] = (),
    duration: bool = False,
    shown_default: str | None = None,
    flags: Sequence[str] = (),
    separator: str | None = None,
) -> Any:
    declaration = Declaration(help, env, low, high, tuple(choices), duration, shown_default, tuple(flags), separator)
    return field(default=default, metadata={"declaration": declaration})


ENV_PREFIX = "HARNESS_"


@dataclass(frozen=True)
class SettingsGroup:
    """Base of the frozen dataclasses that hold one component's settings."""

    title: ClassVar[str] = "settings"
    given: frozenset[str] = field(default=frozenset(), kw_only=True, compare=False, repr=False)
    """The settings given explicitly (config file, variable, flag or ``replace``), not left at their default:
    what a recorded deployment may not overrule."""

    @classmethod
    def _declared(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if "declaration" in f.metadata]

    @classmethod
    def declaration(cls, name: str) -> Declaration:
        return next(f for f in cls._declared() if f.name == name).metadata["declaration"]

    @classmethod
    def env_name(cls, name: str) -> str:
        return cls.declaration(name).env or f"{ENV_PREFIX}{name.upper()}"

    @classmethod
    def flag_name(cls, name: str) -> str:
        """``--<variable>``: the flag and the variable always share their name (``--users``, HARNESS_USERS)."""
        return "--" + cls.env_name(name).removeprefix(ENV_PREFIX).lower().replace("_", "-")

    @classmethod
    def flag_names(cls, name: str) -> list[str]:
        """Short forms first, as Locust lists them (``-u, --users``)."""
        return sorted([cls.flag_name(name), *cls.declaration(name).flags], key=lambda flag: flag.startswith("--"))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in cls._declared()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, validate: bool = True, **overrides: Any) -> Self:
        """Defaults, then the config file, then ``HARNESS_*`` variables, then explicit overrides (CLI flags).

        The config file is ``HARNESS_CONFIG`` or, when that is unset, ``harness.toml`` if it exists: a
        TOML table of setting names, e.g. ``reserved_concurrency = 5``. Overrides of ``None`` are ignored.
        """
        environ = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        names = set(cls.names())
        values: dict[str, Any] = {}
        for name, value in config_file(environ).items():
            if name in names:
                values[name] = _coerce(cls, name, f"config file key {name}", value, hints[name])
        for name in cls.names():
            raw = environ.get(cls.env_name(name))
            optional = type(None) in get_args(hints[name])
            if raw is not None and (raw != "" or optional):  # empty: unset, or None where allowed
                values[name] = _parse(cls, name, cls.env_name(name), raw, hints[name])
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in names:
                raise SettingsError(f"unknown setting {name!r}; `harness config` lists them all")
            values[name] = _coerce(cls, name, cls.flag_name(name), value, hints[name])
        settings = cls(**values, given=frozenset(values))
        if validate:
            settings.validate()
        return settings

    @classmethod
    def parsed(cls, name: str, value: Any, source: str) -> Any:
        """``value`` as this group's setting ``name`` takes it; a SettingsError naming ``source`` when it cannot."""
        return _coerce(cls, name, source, value, get_type_hints(cls)[name])

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (converted to each setting's type), validated."""
        hints = get_type_hints(type(self))
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise SettingsError(f"unknown {self.title} setting(s) {unknown}; `harness config` lists them all")
        converted = {name: _coerce(type(self), name, name, value, hints[name]) for name, value in changes.items()}
        settings = dataclasses.replace(self, **converted, given=self.given | frozenset(converted))
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = self._declared_problems() + self.problems()
        if problems:
            raise SettingsError(
                f"invalid {self.title} settings: " + "; ".join(f"{p} ({self._where_to_set(p)})" for p in problems)
            )

    def _where_to_set(self, problem: str) -> str:
        name = re.split(r"[=:]", problem, maxsplit=1)[0].strip()
        if name not in self.names():
            return "see `harness config`"
        return f"set {self.flag_name(name)} or {self.env_name(name)}"

    def problems(self) -> list[str]:
        """Rules across several options, as ``name=value: what was expected``; the bounds are declared."""
        return []

    def warnings(self) -> list[str]:
        """Legal but risky choices."""
        return []

    def _declared_problems(self) -> list[str]:
        problems = []
        for name in self.names():
            declared, value = self.declaration(name), getattr(self, name)
            if value is None:
                continue
            if declared.choices and value not in declared.choices:
                problems.append(f"{name}={value!r}: expected one of {', '.join(declared.choices)}")
            low, high = declared.low, declared.high
            if low is not None and high is not None and not low <= value <= high:
                problems.append(f"{name}={value}: expected {_number(low)}-{_number(high)}")
            elif low is not None and value < low:
                problems.append(f"{name}={value}: expected >= {_number(low)}")
            elif high is not None and value > high:
                problems.append(f"{name}={value}: expected <= {_number(high)}")
        return problems

    def to_environment(self) -> dict[str, str]:
        """HARNESS_* variables that recreate these settings in another process (Locust, workers)."""
        return {
            self.env_name(name): "" if getattr(self, name) is None else str(getattr(self, name))
            for name in self.names()
        }

    def describe(self) -> list[tuple[str, Any, str, str]]:
        """(name, value, env var, help) for every setting, for `harness config`."""
        return [(name, getattr(self, name), self.env_name(name), self.declaration(name).help) for name in self.names()]

    @classmethod
    def markdown_table(cls) -> str:
        """This group's table on the configuration page: the same declarations `harness config` prints."""
        lines = [f"| {cls.title} variable | flag | default | meaning (bounds) |", "| --- | --- | --- | --- |"]
        for f in cls._declared():
            declared = f.metadata["declaration"]
            flags = ", ".join(f"`{flag}`" for flag in cls.flag_names(f.name))
            lines.append(f"| `{cls.env_name(f.name)}` | {flags} | {cls.shown_default(f.name)} | {declared.help}"
                         f"{bounds(declared)} |")  # fmt: skip
        return "\n".join(lines)

    @classmethod
    def shown_default(cls, name: str) -> str:
        declared, default = cls.declaration(name), next(f.default for f in cls._declared() if f.name == name)
        return declared.shown_default or ("(unset)" if default is None else str(default) or "(empty)")


def bounds(declared: Declaration) -> str:
    if declared.choices:
        return ""  # the help names them
    if declared.low is not None and declared.high is not None:
        return f" ({_number(declared.low)}-{_number(declared.high)})"
    if declared.low is not None:
        return f" (≥ {_number(declared.low)})"
    return ""


def _number(value: float) -> str:
    return f"{value:g}"


_DURATION = re.compile(r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?")


def parse_duration(raw: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h30m`` -> seconds, as Locust's ``--run-time`` reads them."""
    text = raw.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(raw)
    return sum(float(match[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1)))


CONFIG_FILE = "harness.toml"


def config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    """The config file's settings: ``HARNESS_CONFIG``, or ``harness.toml`` where it exists ({} without one).

    A group takes the keys it declares; ``harness.settings.registry.check_config_file`` refuses a key no
    group declares (a typo would be ignored), at every entry point."""
    explicit = environ.get("HARNESS_CONFIG")
    path = Path(explicit) if explicit else Path(CONFIG_FILE)
    if not path.is_file():
        if explicit:
            raise SettingsError(f"HARNESS_CONFIG={explicit!r}: no such file")
        return {}
    try:
        with open(path, "rb") as handle:
            values = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    return values


def _coerce(group: type[SettingsGroup], name: str, source: str, value: Any, kind: Any) -> Any:
    base = _base_type(kind)
    if value is None or (isinstance(value, base) and not (base is int and isinstance(value, bool))):
        return value
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return _parse(group, name, source, str(value), kind)


def _base_type(kind: Any) -> Any:
    """``int | None`` -> int."""
    members = [member for member in get_args(kind) if member is not type(None)]
    return members[0] if members else kind


def _parse(group: type[SettingsGroup], name: str, env: str, raw: str, kind: Any) -> Any:
    optional = type(None) in get_args(kind)
    kind = _base_type(kind)
    if optional and raw.strip().lower() in {"", "none", "null"}:
        return None
    duration = group.declaration(name).duration
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if duration and kind in (int, float):
            seconds = parse_duration(raw)
            if kind is int and seconds != int(seconds):
                raise ValueError(raw)
            return kind(seconds)
        if kind in (int, float, str, Path):
            return kind(raw)
    except ValueError:
        expected = getattr(kind, "__name__", kind)
        if duration:
            expected = "duration (seconds, or 30s, 5m, 1h30m" + (", whole seconds)" if kind is int else ")")
        raise SettingsError(f"{env}={raw!r} is not a valid {expected} for setting {name!r}") from None
    raise SettingsError(f"setting {name!r} has an unsupported type {kind}")  # pragma: no cover
