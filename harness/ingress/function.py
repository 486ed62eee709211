"""The reference stack's way in: API Gateway (``AWS_PROXY``) invokes the publisher function, which
verifies signatures, picks the message id and sends the message (``functions/publisher``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.ingress.base import Ingress, Integration

if TYPE_CHECKING:
    from harness.topology.deploy import Deployer, Queue

INVOKE_PERMISSION_ID = "apigateway-invoke"


class FunctionIngress(Ingress):
    kind = "function"
    description = "API Gateway → publisher function → SQS"

    def ensure_sender(self, deployer: Deployer, queue: Queue, secret_arn: str) -> str:
        return deployer.ensure_publisher(queue, secret_arn)

    def integration(self, deployer: Deployer, queue: Queue, publisher: str) -> Integration:
        region, account = deployer.stack.region, deployer.account_id
        function_arn = f"arn:aws:lambda:{region}:{account}:function:{publisher}"
        uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        return Integration({"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": uri})

    def after_deploy(self, deployer: Deployer, api_id: str, publisher: str) -> None:
        from botocore.exceptions import ClientError  # here: describing a way in needs no AWS client

        region, account = deployer.stack.region, deployer.account_id
        try:
            deployer.client("lambda").add_permission(
                FunctionName=publisher,
                StatementId=INVOKE_PERMISSION_ID,
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*/*",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceConflictException":
                raise
