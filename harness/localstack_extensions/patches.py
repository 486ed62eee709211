"""Every patch the harness applies to LocalStack's internals, in one place, applied at infra start.

LocalStack's own extensions extend it this way (``localstack.utils.patch``) where no plugin point
reaches; with 4.8.1 pinned the patched code is stable, and ``tests/unit/localstack_extensions/
test_patches.py`` fails when its shape changes.

- ``RestApiGateway.__init__``: the REST API gateway's handler chain gains the handlers of
  ``apigateway_limits``: a start time first, the throttle after the API key is validated, timing around
  the integration, and the metrics among the response handlers (LocalStack offers ``preprocess_request``
  for a request handler, but it runs before the API key is known, and there is no response-side point).
"""

from __future__ import annotations

from localstack.runtime import hooks
from localstack.services.apigateway.next_gen.execute_api import handlers
from localstack.services.apigateway.next_gen.execute_api.gateway import RestApiGateway
from localstack.utils.patch import Patch, Patches

from . import apigateway_limits


def insert_after(chain: list, anchor: object, handler: object) -> None:
    chain.insert(chain.index(anchor) + 1, handler)


def _rest_api_gateway_with_limits_and_metrics(init, self) -> None:
    init(self)
    self.request_handlers.insert(0, apigateway_limits.started)
    insert_after(self.request_handlers, handlers.api_key_validation_handler, apigateway_limits.enforce_limits)
    self.request_handlers.insert(
        self.request_handlers.index(handlers.integration_handler), apigateway_limits.integration_started
    )
    insert_after(self.request_handlers, handlers.integration_handler, apigateway_limits.integration_ended)
    self.response_handlers.append(apigateway_limits.record_metrics)


PATCHES = Patches([Patch.function(RestApiGateway.__init__, _rest_api_gateway_with_limits_and_metrics)])


@hooks.on_infra_start()
def apply_patches() -> None:
    PATCHES.apply()  # idempotent: a patch applied once is not applied again
