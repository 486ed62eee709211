"""Local emulation and load-test harness for the Scalable Webhook pattern.

Deliberately empty: LocalStack imports ``harness.localstack_extensions`` through this package, and
nothing beyond LocalStack and the standard library may load inside its process.
"""
