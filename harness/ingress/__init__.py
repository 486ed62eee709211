"""The way in: how a webhook request reaches the queue (``HARNESS_INGRESS``), one ``Ingress`` per kind
(``base.py``).

``function.py`` is the reference stack's: API Gateway invokes a publisher function that sends the
message. ``direct.py`` is the design the reference stack's author recommends next: API Gateway sends to
SQS itself, with no function in between. This module is the one place that maps a kind to its module.
"""

from __future__ import annotations

from harness.ingress.base import Ingress, Integration, IntegrationAnswer

INGRESSES = ("function", "direct")
"""Every way in, by the name settings, variants and deployment records use (the first is the default)."""


def ingress_for(kind: str) -> Ingress:
    from harness.ingress.direct import DirectIngress
    from harness.ingress.function import FunctionIngress

    found = {ingress.kind: ingress for ingress in (FunctionIngress, DirectIngress)}
    assert tuple(found) == INGRESSES, "INGRESSES names every kind"
    return found[kind]()


__all__ = ["INGRESSES", "Ingress", "Integration", "IntegrationAnswer", "ingress_for"]
