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


class StackStopped(StackError):
    """The stack under test stopped answering in the middle of a run: the run is void, not judged."""

    def __init__(self, at: float, why: str) -> None:
        super().__init__(f"LocalStack stopped answering ({why}); `make up` restarts it")
        self.at, self.why = at, why


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, a terminal closed), handled as Ctrl-C is: stop, keep what was collected."""
