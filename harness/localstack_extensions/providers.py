"""The providers this project registers, written as LocalStack writes its own
(``localstack/services/providers.py``): each factory imports its provider only when LocalStack loads
that service. Discovering the entry points at start-up then imports nothing heavy, and the gateway
answers sooner (docs/performance.md: start to healthy).
"""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    from .dynamodb import MotoDynamoDBProvider, serialized_moto_dispatcher

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=serialized_moto_dispatcher)


@aws_provider(api="cloudwatch", name="buffered")
def cloudwatch_buffered() -> Service:
    from .cloudwatch import BufferedCloudwatchProvider

    return Service.for_provider(BufferedCloudwatchProvider())


@aws_provider(api="lambda", name="sqs_scaling")
def lambda_sqs_scaling() -> Service:
    from .sqs_scaling.provider import ScalingLambdaProvider

    return Service.for_provider(ScalingLambdaProvider())


@aws_provider(api="sqs", name="faults")
def sqs_faults() -> Service:
    from .sqs import FaultySqsProvider

    return Service.for_provider(FaultySqsProvider())
