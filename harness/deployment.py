"""What a command acts on: the harness's own topology or a recorded template stack, and its backend.

The state folder records the last deployment (``outputs.json``). `make up` restores it; a setting given
explicitly (flag, variable, config file) that the record contradicts is either applied (the harness's
topology is redeployed with it) or, where it cannot be (your own stack has its own backend and code),
refused with the way back: `harness destroy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.backend import Backend, Hosting, backend_for, deployed_backend, deployed_settings
from harness.backend.config import BackendSettings
from harness.exceptions import DeployError, SettingsError
from harness.outputs import Outputs, load_outputs, outputs_path
from harness.settings import SettingsGroup
from harness.stack import started_stack
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings, TopologySettings

HANDLER_SETTINGS = frozenset(
    {"publisher_dir", "subscriber_dir", "publisher_handler", "subscriber_handler", "publisher_runtime",
     "subscriber_runtime"}
)  # fmt: skip
"""The harness's functions: a template stack brings its own."""


def recorded(stack: StackSettings) -> Outputs | None:
    """The deployment the state folder records, if any."""
    try:
        return load_outputs(stack)
    except DeployError:
        return None


@dataclass(frozen=True)
class Target:
    """The deployment a command acts on, as the settings and the record decide together."""

    template: TemplateSettings
    """Your own stack to (re)deploy; its ``template`` is empty for the harness's topology."""
    backend: BackendSettings
    record: Outputs | None

    @property
    def ours(self) -> bool:
        return not self.template.template

    @property
    def own_record(self) -> Outputs | None:
        """The record, where it is of the harness's topology (what its backend follows)."""
        return self.record if self.record is not None and self.record.ours else None

    def describe(self, stack: StackSettings, backend: Backend) -> str:
        """What `make up` acts on, in one sentence."""
        if not self.ours:
            name = self.template.stack_name or "its stack"
            return (
                f"acting on your stack {name} (from {self.template.template}), as recorded in "
                f"{outputs_path(stack)}; `harness destroy` deletes it and returns to the harness's topology"
            )
        before = self.own_record.backend if self.own_record else None
        switched = (
            f" (the recorded deployment used {before}; redeploying)" if before not in (None, backend.kind) else ""
        )
        return f"acting on the harness's topology: backend {backend.describe()}{switched}"


def target(
    stack: StackSettings,
    template: TemplateSettings,
    topology: TopologySettings,
    backend: BackendSettings,
    restore: bool,
) -> Target:
    """``restore`` (`make up`): with no template given, the recorded one is deployed again, and settings it
    cannot take are refused. Otherwise the template given, or the harness's topology, is what is deployed."""
    record = recorded(stack)
    if restore and not template.template and record is not None and not record.ours:
        refuse_contradictions(record, topology, backend)
        template = template.replace(template=record.template, stack_name=template.stack_name or record.stack_name)
    return Target(template, backend, record)


def acting_on_own_stack(record: Outputs | None, topology: TopologySettings, backend: BackendSettings) -> bool:
    """Whether a command that uses the recorded deployment (compare) acts on your own stack; refused when
    settings of the harness's topology are given that your stack would silently not have."""
    if record is None or record.ours:
        return False
    refuse_contradictions(record, topology, backend)
    return True


def refuse_contradictions(record: Outputs, topology: TopologySettings, backend: BackendSettings) -> None:
    given = _named(backend, backend.given) + _named(topology, topology.given & HANDLER_SETTINGS)
    if given:
        raise SettingsError(
            f"{', '.join(given)} set the harness's own topology, but the recorded deployment is your stack "
            f"{record.stack_name} (from {record.template}), which brings its own backend and functions: run "
            "`harness destroy` to delete it and return to the harness's topology, or unset them"
        )


def _named(group: SettingsGroup, names: frozenset[str]) -> list[str]:
    return [f"{group.env_name(name)}={getattr(group, name)}" for name in sorted(names)]


def resolved_backend(
    stack: StackSettings, settings: BackendSettings, hosting: Hosting, client: Callable[[str], Any]
) -> Backend:
    """The backend the harness's topology uses: as given, else as the recorded deployment of it had it."""
    record = recorded(stack)
    return backend_for(deployed_settings(settings, record if record and record.ours else None, hosting, client),
                       hosting, client)  # fmt: skip


def recorded_backend(stack: StackSettings, outputs: Outputs, client: Callable[[str], Any]) -> Backend:
    """The backend ``outputs`` writes to, beside the stack that runs."""
    return deployed_backend(outputs, started_stack(stack).hosting(), client)
