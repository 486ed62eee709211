"""LocalStack inside the Compose `localstack` service, configured exactly as the embedded stack.

The one difference is where the gateway listens: on loopback (where the function processes call it)
and on the container's own interface (where Docker's port mapping and the Compose network reach it),
never on 0.0.0.0. The Compose file publishes that port on the host's 127.0.0.1 only.
Run as ``python -m harness.stack.container``; it replaces itself with LocalStack.
"""

from __future__ import annotations

import os
import sys

from harness.network import LOOPBACK_HOST, own_addresses
from harness.stack.config import StackSettings
from harness.stack.embedded import localstack_environment


def main() -> None:
    settings = StackSettings.from_env()
    for folder in ("filesystem", "tmp"):
        (settings.state_path / folder).mkdir(parents=True, exist_ok=True)
    hosts = [LOOPBACK_HOST, *own_addresses()]
    env = localstack_environment(settings, listen_hosts=hosts)
    print(f"harness: LocalStack listens on {env['GATEWAY_LISTEN']}", file=sys.stderr, flush=True)
    os.chdir(settings.state_path)
    os.execve(sys.executable, [sys.executable, "-m", "localstack.runtime.main"], env)


if __name__ == "__main__":
    main()
