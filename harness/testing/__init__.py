"""Test support users can reuse: the pytest plugin (`harness.testing.pytest_plugin`) and helpers."""
