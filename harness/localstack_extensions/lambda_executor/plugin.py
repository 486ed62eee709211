"""plux entry point; loads the executor lazily, as LocalStack's own executor plugins do."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-process"

    def load(self, *args, **kwargs):
        from .executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor
