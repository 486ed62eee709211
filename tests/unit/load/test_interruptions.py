"""What ends a run early: the stack watch, and stopping the processes a run started."""

import subprocess
import sys
import time

import pytest

from harness.exceptions import StackStopped
from harness.load.run import StackWatch, stop_all


def test_the_watch_notices_a_stack_process_that_is_gone_and_checks_only_every_few_seconds():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(StackStopped, match=f"its process {gone.pid} is gone"):
        StackWatch("http://127.0.0.1:1", gone.pid).check()
    alive = StackWatch("http://127.0.0.1:1", None, every_s=60, misses=2)
    alive.check()  # one miss of the health endpoint: not yet
    alive.check()  # checked less than 60 s ago: not checked again
    alive.every_s = 0
    with pytest.raises(StackStopped, match="did not answer 2 times in a row"):
        alive.check()


def test_stop_all_stops_every_process_and_kills_what_does_not_stop():
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]),
        subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, text=True),
    ]
    assert processes[1].stdout.readline() == "ready\n"  # its handler is in place
    started = time.monotonic()
    stop_all(processes, grace_s=1)
    assert all(process.poll() is not None for process in processes)
    assert time.monotonic() - started < 5


def test_the_progress_line_counts_accepted_requests_as_the_verdict_does(tmp_path):
    import json

    from harness.load.run import accepted_so_far

    records = [
        {"id": "a", "event": "e1", "kind": "new"},
        {"id": "a", "event": "e1", "kind": "sender-retry"},  # the same request delivered again
        {"id": "b", "event": "e2", "kind": "new"},
        {"kind": "unanswered", "event": "e3"},
        {"kind": "throttled", "event": "e4", "status": 429},
    ]
    (tmp_path / "accepted-1.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records) + '{"id": "c"')
    assert accepted_so_far(tmp_path) == "2 accepted, 1 delivered again, 1 answered 429"
    assert accepted_so_far(tmp_path / "empty") == "0 accepted"
