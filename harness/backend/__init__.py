"""The backend the pattern protects, seen from its own side: one ``Backend`` per kind (``base.py``).

``dynamodb.py`` is the reference stack's table, ``postgres.py`` the RDS of the original pattern. This
module is the one place that maps a kind (``HARNESS_BACKEND``, or a deployment's record) to its module;
everything else holds a ``Backend`` and never asks which one it is.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from harness.backend.base import Backend, ClientFactory, Hosting
from harness.backend.config import BACKENDS, BackendSettings
from harness.backend.pooler import running_pooler, stop_pooler

if TYPE_CHECKING:
    from harness.outputs import Outputs


def kinds() -> dict[str, type[Backend]]:
    """Every kind of backend, by the name settings and deployment records use."""
    from harness.backend.dynamodb import DynamoDBBackend
    from harness.backend.postgres import PostgresBackend

    found = {kind.kind: kind for kind in (DynamoDBBackend, PostgresBackend)}
    assert tuple(found) == BACKENDS, "harness.backend.config.BACKENDS names every kind"
    return found


def backend_for(settings: BackendSettings, hosting: Hosting, client: ClientFactory) -> Backend:
    """The backend ``settings`` name (behind the proxy they name), on the stack ``hosting`` and ``client`` reach."""
    if settings.backend_proxy != "none":
        from harness.backend.rds_proxy import ProxiedPostgresBackend

        return ProxiedPostgresBackend(settings, hosting, client)
    return kinds()[settings.backend](settings, hosting, client)


def deployed_settings(
    settings: BackendSettings, outputs: Outputs | None, hosting: Hosting, client: ClientFactory
) -> BackendSettings:
    """The backend settings a command acts on: what was given explicitly (flag, variable, config file), else
    what the recorded deployment used.

    After `HARNESS_BACKEND=postgres make up`, a plain `make compare` or `harness deploy` keeps using
    PostgreSQL (its port and capacity), and a PROVISIONED table keeps its units, as `make down` stops the
    stack that was started whatever HARNESS_STACK says later.
    """
    if outputs is None:
        return settings
    changes = {} if "backend" in settings.given else {"backend": outputs.backend}
    kind = changes.get("backend", settings.backend)
    if kind == outputs.backend:
        changes |= kinds()[kind].as_deployed(settings, outputs, hosting, client)
    changed = {name: value for name, value in changes.items() if getattr(settings, name) != value}
    if not changed:
        return settings
    # What the deployment says was not given by you: it stays as overrulable as a default.
    return dataclasses.replace(settings.replace(**changed), given=settings.given)


def deployed_backend(outputs: Outputs, hosting: Hosting, client: ClientFactory) -> Backend:
    """The backend a recorded deployment writes to (its kind, port and capacity), whatever is set now."""
    recorded = dataclasses.replace(BackendSettings.from_env(validate=False), given=frozenset())
    return backend_for(deployed_settings(recorded, outputs, hosting, client), hosting, client)


def running_servers(hosting: Hosting) -> list[str]:
    """What every kind, and the proxy, runs beside the stack (`harness status`)."""
    servers = [line for kind in kinds().values() for line in kind.running_servers(hosting)]
    pooler = running_pooler(hosting)
    if pooler:
        where = f"pid {pooler['pid']}" if pooler.get("pid") else "Compose service rds-proxy"
        servers.append(f"RDS Proxy (pgbouncer, {where}) on 127.0.0.1:{pooler['port']} in front of PostgreSQL")
    return servers


def stop_servers(hosting: Hosting) -> list[str]:
    """Stop what any kind runs beside the stack (`harness down`), the proxy before its database; what was stopped."""
    return stop_pooler(hosting) + [line for kind in kinds().values() for line in kind.stop_servers(hosting)]


__all__ = ["Backend", "Hosting", "backend_for", "deployed_backend", "deployed_settings", "kinds"]
