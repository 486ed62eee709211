"""LocalStack's Lambda provider with scaling SQS pollers (``PROVIDER_OVERRIDE_LAMBDA=sqs_scaling``).

The stock provider builds each event-source mapping's ``EsmWorker`` and stores it in
``provider.esm_workers`` before starting it (on create and on update). That store is the seam: an SQS
worker's poller is replaced there by a ``ScalingSqsPoller`` before its first poll. The same kind of
seam, the Lambda service's store of starting versions, gives each function version a log handler that
ships in batches (``lambda_logs``). It also applies AWS's runtime rules of today
(``_validate_runtime``). Everything else — filters, update/disable/delete, state — stays LocalStack's.
"""

from __future__ import annotations

import logging

from localstack.aws.api.lambda_ import InvalidParameterValueException, PackageType
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.services.lambda_.invocation.lambda_service import LambdaService
from localstack.services.lambda_.provider import LambdaProvider

from ..lambda_executor import runtimes
from ..lambda_logs import BatchedLogVersions
from .config import ScalingConfig
from .poller import ScalingSqsPoller
from .scaler import provisioning_problem

LOG = logging.getLogger(__name__)


class _ScalingWorkers(dict):
    def __init__(self, config: ScalingConfig) -> None:
        super().__init__()
        self.config = config

    def __setitem__(self, uuid, worker) -> None:
        if isinstance(worker.poller, SqsPoller) and not isinstance(worker.poller, ScalingSqsPoller):
            worker.poller = ScalingSqsPoller.replacing(worker.poller, worker.esm_config, self.config)
        previous = self.get(uuid)
        if previous is not None and isinstance(previous.poller, ScalingSqsPoller) and worker.enabled:
            previous.poller.successor = worker.poller  # an update: what the old pollers still receive goes on
        super().__setitem__(uuid, worker)


class ScalingLambdaProvider(LambdaProvider):
    def __init__(self) -> None:
        super().__init__()
        config = ScalingConfig.from_environment()
        LOG.info(
            "SQS event-source mappings scale as on AWS: start %d, +%g/min, max %d, host ceiling %d",
            config.initial_concurrency,
            config.scale_up_per_minute,
            config.maximum_concurrency,
            config.host_ceiling,
        )
        self.esm_workers = _ScalingWorkers(config)

    @property
    def lambda_service(self) -> LambdaService:
        return self._lambda_service

    @lambda_service.setter
    def lambda_service(self, service: LambdaService) -> None:
        """Every service the stock provider creates (at start, on state reset and load)."""
        service.lambda_starting_versions = BatchedLogVersions(service.lambda_starting_versions)
        self._lambda_service = service

    def validate_event_source_mapping(self, context, request):
        """AWS's rules for provisioned pollers on SQS (LocalStack 4.8.1 stores the setting and checks none)."""
        if ":sqs:" in (request.get("EventSourceArn") or "") and (problem := provisioning_problem(request)):
            raise InvalidParameterValueException(problem, Type="User")
        return super().validate_event_source_mapping(context, request)

    def _validate_runtime(self, package_type, runtime):
        """AWS's runtime rules of today: deprecated Node.js runtimes are refused at create and update, with
        AWS's message (LocalStack 4.8.1 still accepts them); nodejs24.x, missing from its list, is offered."""
        if package_type == PackageType.Zip and (message := runtimes.blocked_message(runtime)):
            raise InvalidParameterValueException(message, Type="User")
        if runtime in runtimes.EXTRA_RUNTIMES:
            return
        super()._validate_runtime(package_type, runtime)
