"""LocalStack's Lambda provider with scaling SQS pollers (``PROVIDER_OVERRIDE_LAMBDA=sqs_scaling``).

The stock provider builds each event-source mapping's ``EsmWorker`` and stores it in
``provider.esm_workers`` before starting it (on create and on update). That store is the seam: an SQS
worker's poller is replaced there by a ``ScalingSqsPoller`` before its first poll. Everything else —
validation, filters, update/disable/delete, state — stays LocalStack's.
"""

from __future__ import annotations

import logging

from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import SqsPoller
from localstack.services.lambda_.provider import LambdaProvider
from localstack.services.plugins import Service, aws_provider

from .config import ScalingConfig
from .poller import ScalingSqsPoller

LOG = logging.getLogger(__name__)


class _ScalingWorkers(dict):
    def __init__(self, config: ScalingConfig) -> None:
        super().__init__()
        self.config = config

    def __setitem__(self, uuid, worker) -> None:
        if isinstance(worker.poller, SqsPoller) and not isinstance(worker.poller, ScalingSqsPoller):
            worker.poller = ScalingSqsPoller.replacing(worker.poller, worker.esm_config, self.config)
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


@aws_provider(api="lambda", name="sqs_scaling")
def lambda_sqs_scaling() -> Service:
    return Service.for_provider(ScalingLambdaProvider())
