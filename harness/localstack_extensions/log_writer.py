"""LocalStack's log lines written by a thread of their own, not by the request threads that log them.

LocalStack logs a line per request (``localstack.request.http`` / ``.aws``) through the root logger's
stream handler, which writes under the handler's lock: the write is a system call that lets go of the GIL
while the lock is held, and with requests in flight the next thread to log blocks on the lock, lets go of
the GIL in turn, and waits for it again once the lock is free — a convoy in which, under a flood, a line
cost milliseconds of waiting. Here the request threads only put the record on a queue (the standard
library's ``QueueHandler``, without a lock of its own: it formats a copy and puts it on a ``SimpleQueue``,
both safe from any thread) and a ``QueueListener`` hands it to LocalStack's handlers, which write it as
before, in order. At shutdown the listener writes what is queued and the handlers go back in place.

``logged_only_when_enabled`` stands in for ``ResponseLogger._log`` (patched by ``patches``): LocalStack
builds each request line's extra fields (copies of the request's and the response's headers, the parsed
request) before it asks the logger, and for the requests LocalStack makes to itself (an integration's
SendMessage) that logger is off by default (``localstack.request.internal``: WARNING). The line is now
built only when its logger would write it.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from localstack.runtime import hooks


class UnlockedQueueHandler(QueueHandler):
    """A ``QueueHandler`` whose ``handle`` takes no lock (``Handler.acquire`` skips a ``None`` lock)."""

    def createLock(self) -> None:
        self.lock = None


class LogWriter:
    """The root logger's handlers moved behind a queue, and back."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger()
        self.handlers: list[logging.Handler] = []
        self.listener: QueueListener | None = None
        self.queued: UnlockedQueueHandler | None = None

    def start(self) -> None:
        if self.listener is not None or not self.logger.handlers:
            return
        self.handlers = list(self.logger.handlers)
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self.queued = UnlockedQueueHandler(records)
        self.listener = QueueListener(records, *self.handlers, respect_handler_level=True)
        self.listener.start()
        for handler in self.handlers:
            self.logger.removeHandler(handler)
        self.logger.addHandler(self.queued)

    def stop(self) -> None:
        """Write every queued line, then log straight through the handlers again."""
        if self.listener is None:
            return
        for handler in self.handlers:
            self.logger.addHandler(handler)
        self.logger.removeHandler(self.queued)
        self.listener.stop()  # writes what is queued, then ends its thread
        self.listener, self.queued = None, None


LOG_WRITER = LogWriter()


def logged_only_when_enabled(
    log: Callable[[Any, Any, Any], None], response_logger: Any, context: Any, response: Any
) -> None:
    """``ResponseLogger._log``, called only when the logger it would choose writes INFO lines."""
    if context.is_internal_call:
        logger = response_logger.internal_aws_logger if context.operation else response_logger.internal_http_logger
    else:
        logger = response_logger.aws_logger if context.operation else response_logger.http_logger
    if logger.isEnabledFor(logging.INFO):
        log(response_logger, context, response)


@hooks.on_infra_start()
def write_logs_off_the_request_threads() -> None:
    LOG_WRITER.start()


@hooks.on_infra_shutdown()
def write_the_queued_logs() -> None:
    LOG_WRITER.stop()
