"""Names both sides of the LocalStack process boundary use: the harness sets them, the extensions read them.

Standard library only (nothing at all, in fact), so the extensions inside LocalStack and the harness
outside it import the same strings and cannot drift apart.
"""

OBSERVER_HEADER = "X-Harness-Observer"
"""Marks the harness's own requests: DynamoDB does not count them against a table's capacity."""

TABLE_OUTAGE_TAG = "harness:fault-outage-ms"
"""On a DynamoDB table, ``start,end`` (epoch ms): every item request in that window fails (HTTP 500)."""
TABLE_ERROR_RATE_TAG = "harness:fault-error-rate"
"""On a DynamoDB table, a share (e.g. ``0.01``) of item requests that fail at random (HTTP 500)."""
CAPACITY_RESET_TAG = "harness:capacity-reset"
"""Tagging a table with it starts its capacity accounting afresh; the value is the burst credit it starts with,
in seconds of its provisioned rate (``new``, or any other value: as a new table)."""
BURST_CREDIT_SECONDS = {"none": 0.0, "full": 300.0}
"""Credit values other than a new table's: nothing banked, or the whole 300 s window AWS banks."""

SEND_OUTAGE_TAG = "harness:fault-send-outage-ms"
"""On an SQS queue, ``start,end`` (epoch ms): SendMessage and SendMessageBatch answer 503 in that window."""

CRASH_AT_VARIABLE = "HARNESS_FAULT_CRASH_AT_MS"
"""In a function's environment (epoch ms): the Lambda executor kills the process of one invocation from then."""
CRASH_DELAY_VARIABLE = "HARNESS_FAULT_CRASH_DELAY_MS"
"""How far into that invocation (ms) the process is killed."""
CRASH_VARIABLES = (CRASH_AT_VARIABLE, CRASH_DELAY_VARIABLE)

API_ACCOUNT_RATE_LIMIT, API_ACCOUNT_BURST_LIMIT = 10_000.0, 5_000
"""API Gateway's account throttle per region (AWS: API Gateway quotas): what a stage without limits of its
own is held to, by the extension, and what the deployer sets when no limit is configured."""

EMULATION_NAMESPACE = "Harness/Emulation"
"""The CloudWatch namespace of what the emulation itself measures (HostCeilingHits, Pollers), beside AWS's."""
