"""Where LocalStack runs: the embedded stack (a local process, the default) or Docker Compose.

Both implement one interface, ``harness.stack.base.Stack``: ``embedded.py`` and ``compose.py``. This module
picks one: the kind the state folder records as started, else the configured one.
"""

from __future__ import annotations

from harness.stack.base import (
    HEALTH_PATH,
    Stack,
    StackStatus,
    is_healthy,
    read_record,
    record_path,
    wait_until_healthy,
    write_record,
)
from harness.stack.config import StackSettings


def stack_for(settings: StackSettings, kind: str | None = None) -> Stack:
    """The stack of ``kind`` (default: HARNESS_STACK, which defaults to embedded)."""
    from harness.stack.compose import ComposeStack
    from harness.stack.embedded import EmbeddedStack

    kind = kind or settings.stack
    return ComposeStack(settings) if kind == "docker" else EmbeddedStack(settings)


def started_stack(settings: StackSettings) -> Stack:
    """The stack the state folder says was started; else the Compose project when its containers exist
    (started with plain `docker compose up`); else HARNESS_STACK's kind."""
    from harness.stack.compose import ComposeStack

    kind = read_record(settings).get("kind")
    if kind is None and ComposeStack(settings).containers(all_states=True):
        kind = ComposeStack.kind
    return stack_for(settings, kind)


__all__ = [
    "HEALTH_PATH",
    "Stack",
    "StackStatus",
    "is_healthy",
    "read_record",
    "record_path",
    "stack_for",
    "started_stack",
    "wait_until_healthy",
    "write_record",
]
