"""The ``local-process`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=local-process``)."""
