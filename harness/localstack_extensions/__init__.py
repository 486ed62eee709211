"""LocalStack extensions that make the embedded stack work with no Docker and no internet.

Loaded inside the LocalStack process through plux entry points (see pyproject.toml), so these
modules import only LocalStack and the standard library:

- ``gateway``: a twisted runtime server that really binds to the host in GATEWAY_LISTEN.
- ``dynamodb``: a DynamoDB provider served by moto (bundled with localstack-core), no Java.
- ``cloudwatch``: CloudWatch that batches the metrics LocalStack writes per Lambda invocation.
- ``lambda_executor``: a Lambda runtime executor running each environment as a local process.
- ``providers``: the provider entry points; each imports its provider only when LocalStack loads it.
"""
