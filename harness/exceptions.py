"""Errors a user can act on: each message says what failed, what was expected and what to do."""


class HarnessError(Exception):
    """Base of every error the CLI prints without a traceback."""


class SettingsError(HarnessError):
    pass


class StackError(HarnessError):
    pass


class PortInUseError(StackError):
    pass


class AlreadyRunningError(StackError):
    pass


class StartupError(StackError):
    pass


class UnsafeEndpointError(HarnessError):
    pass


class DeployError(HarnessError):
    pass
