"""A DynamoDB provider served entirely by moto, which localstack-core already bundles.

LocalStack's default provider forwards to DynamoDB Local, a Java jar it downloads at first use; offline
and without Java that cannot work. Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto``.

moto's backend is not thread-safe (a conditional put is a check followed by a write, and a scan
iterates a dict other requests change), while LocalStack serves requests on many threads. Every
operation therefore runs under one lock, which makes ``attribute_not_exists`` conditions atomic as on
AWS.
"""

import threading

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.skeleton import DispatchTable
from localstack.services.moto import MotoFallbackDispatcher
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Implements nothing itself: every operation falls through to moto."""


def serialized_moto_dispatcher(provider: object) -> DispatchTable:
    table = MotoFallbackDispatcher(provider)
    lock = threading.RLock()

    def serialize(handler):
        def locked(context, request):
            with lock:
                return handler(context, request)

        return locked

    return {operation: serialize(handler) for operation, handler in table.items()}


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=serialized_moto_dispatcher)
