"""AWS-faithful SQS -> Lambda scaling for LocalStack's event-source mappings.

Stock LocalStack 4.8 runs one poller per mapping: consumer concurrency is always 1. Here a mapping's
poller is a bounded pool of concurrent pollers driven by a scaler with AWS's documented behaviour
(``scaler.py``), installed through a Lambda provider override (``provider.py``,
``PROVIDER_OVERRIDE_LAMBDA=sqs_scaling``).
"""
