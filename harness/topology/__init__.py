"""The webhook topology: its settings, the idempotent deployer and the function packages."""
