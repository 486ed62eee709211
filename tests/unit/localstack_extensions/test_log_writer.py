"""LocalStack's log lines handed to a writer thread: the same lines, in order, none lost at shutdown."""

from __future__ import annotations

import io
import logging
import re
import threading

from localstack.logging.format import AddFormattedAttributes, DefaultFormatter

from harness.localstack_extensions.log_writer import LogWriter, UnlockedQueueHandler


def localstack_handler(stream: io.StringIO) -> logging.Handler:
    """A handler as LocalStack's ``create_default_handler`` makes it, writing to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.INFO)
    handler.setFormatter(DefaultFormatter())
    handler.addFilter(AddFormattedAttributes())
    return handler


def untimed(text: str) -> list[str]:
    return [re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+ ", "", line) for line in text.splitlines()]


def log_a_request_and_a_failure(logger: logging.Logger) -> None:
    logger.info("POST %s => %d", "/_aws/execute-api/api/prod/hello", 202)
    logger.debug("below the handler's level: not written")
    try:
        raise ValueError("the queue refused the message")
    except ValueError:
        logger.exception("a gateway worker failed")


def test_the_lines_written_through_the_queue_are_the_lines_written_directly():
    direct, queued = io.StringIO(), io.StringIO()
    logger = logging.getLogger("harness-test.direct")
    logger.propagate, logger.handlers = False, [localstack_handler(direct)]
    logger.setLevel(logging.DEBUG)
    log_a_request_and_a_failure(logger)

    logger = logging.getLogger("harness-test.direct")  # the same logger, its handler now behind the queue
    logger.handlers = [localstack_handler(queued)]
    writer = LogWriter(logger)
    writer.start()
    assert [type(handler) for handler in logger.handlers] == [UnlockedQueueHandler]
    log_a_request_and_a_failure(logger)
    writer.stop()

    assert untimed(queued.getvalue()) == untimed(direct.getvalue())  # the traceback too
    assert "POST /_aws/execute-api/api/prod/hello => 202" in queued.getvalue() and "below" not in queued.getvalue()
    assert [type(handler) for handler in logger.handlers] == [logging.StreamHandler]  # back in place


def test_lines_from_many_threads_all_arrive_each_threads_in_order_and_none_is_lost_at_stop():
    written = io.StringIO()
    logger = logging.getLogger("harness-test.threads")
    logger.propagate, logger.handlers = False, [localstack_handler(written)]
    logger.setLevel(logging.INFO)
    writer = LogWriter(logger)
    writer.start()

    def log(thread: int) -> None:
        for line in range(500):
            logger.info("thread %d line %d", thread, line)

    threads = [threading.Thread(target=log, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()  # right after the last line was queued: the listener writes the rest first
    lines = [line.rsplit(": ", 1)[1] for line in written.getvalue().splitlines()]
    assert len(lines) == 4000
    for number in range(8):
        assert [line for line in lines if line.startswith(f"thread {number} ")] == [
            f"thread {number} line {line}" for line in range(500)
        ]


def test_the_queue_handler_takes_no_lock_and_a_second_start_or_stop_changes_nothing():
    assert UnlockedQueueHandler(None).lock is None  # type: ignore[arg-type]
    logger = logging.getLogger("harness-test.idempotent")
    handler = localstack_handler(io.StringIO())
    logger.propagate, logger.handlers = False, [handler]
    writer = LogWriter(logger)
    writer.stop()  # never started: nothing to do
    writer.start()
    queued = logger.handlers
    writer.start()
    assert logger.handlers == queued
    writer.stop()
    writer.stop()
    assert logger.handlers == [handler]


def test_localstack_starts_and_stops_the_writer_through_its_hooks():
    from importlib.metadata import entry_points

    from harness.localstack_extensions import log_writer

    hooks = {
        group: {point.name: point.load() for point in entry_points(group=f"localstack.hooks.{group}")}
        for group in ("on_infra_start", "on_infra_shutdown")
    }
    started, stopped = hooks["on_infra_start"], hooks["on_infra_shutdown"]
    assert started["write_logs_off_the_request_threads"] is log_writer.write_logs_off_the_request_threads
    assert stopped["write_the_queued_logs"] is log_writer.write_the_queued_logs


def test_a_request_line_is_built_only_when_the_logger_localstack_chose_writes_it():
    from types import SimpleNamespace

    from localstack.aws.handlers.logging import ResponseLogger

    from harness.localstack_extensions.log_writer import logged_only_when_enabled

    response_logger, built = ResponseLogger(), []

    def log(_, context, __):
        built.append(context.name)

    internal = logging.getLogger("localstack.request.internal.aws")
    external = logging.getLogger("localstack.request.aws")
    levels = internal.level, external.level
    calls = {
        "to itself": SimpleNamespace(name="to itself", is_internal_call=True, operation="SendMessage"),
        "from a client": SimpleNamespace(name="from a client", is_internal_call=False, operation="SendMessage"),
    }
    try:
        internal.setLevel(logging.WARNING)  # LocalStack's default for its calls to itself
        external.setLevel(logging.INFO)
        for context in calls.values():
            logged_only_when_enabled(log, response_logger, context, None)
        assert built == ["from a client"]
        internal.setLevel(logging.INFO)  # as LocalStack's DEBUG=1 sets it: written
        logged_only_when_enabled(log, response_logger, calls["to itself"], None)
        assert built == ["from a client", "to itself"]
    finally:
        internal.setLevel(levels[0])
        external.setLevel(levels[1])
