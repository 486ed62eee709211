"""`make bench`'s summary: medians with their range, targets judged, curves printed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.bench.benchmark import Ingest, combined, table, webhook_ingest
from harness.bench.config import BenchSettings
from harness.exceptions import SettingsError


def test_the_table_shows_each_median_its_range_and_its_target():
    summary = {
        "rounds": 3,
        "ingest_ratio": 0.4,
        "ingest_ratio_range": [0.3, 0.45],
        "cold_start_ms": 50.0,
        "cold_start_ms_range": [48.0, 60.0],
        "curves": {"webhook_ingest_rps_by_senders": {"1": 40.0, "2": 70.0}},
    }
    lines = table(summary).splitlines()
    assert lines[1].split() == ["ingest_ratio", "0.40", "0.3-0.45", ">=", "0.5:", "MISSED"]
    assert lines[2].split() == ["cold_start_ms", "50.00", "48-60", "<=", "150:", "met"]
    assert lines[3] == "webhook_ingest_rps_by_senders: 1: 40, 2: 70"


def test_curve_points_are_positive_whole_numbers():
    assert BenchSettings.from_env({"HARNESS_BENCH_SENDERS": "1, 4,16"}).sender_counts() == [1, 4, 16]
    with pytest.raises(SettingsError, match="consumers='0,2': expected positive whole numbers"):
        BenchSettings.from_env({"HARNESS_BENCH_CONSUMERS": "0,2"})


def test_a_profile_is_summarised_by_concern_and_by_own_time(tmp_path):
    from harness.bench.profile import read_samples, summarise

    raw = tmp_path / "profile.txt"
    raw.write_text(
        "run (threading.py:1);run_log_loop (services/lambda_/invocation/logs.py:10);put (sqlite.py:5) 3\n"
        "run (threading.py:1);invoke (services/lambda_/api.py:20) 1\n"
        "garbage line\n"
    )
    summary = summarise(read_samples(raw))
    assert summary.splitlines()[0] == "4 busy samples; share of them by concern (a sample can count for several):"
    assert " 100.0%  Lambda service" in summary
    assert "  75.0%    of it, log shipping per invocation" in summary
    assert "   0.0%  SQS" in summary  # every concern is listed, in a fixed order
    assert "  75.0%  put (sqlite.py)" in summary


class _Accepting(BaseHTTPRequestHandler):
    """A webhook that accepts everything, on kept-alive connections, and notes who sent what."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[int, str]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.client_address[1], self.path))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def accepting_webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    server.daemon_threads = True
    _Accepting.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod", _Accepting.seen
    server.shutdown()
    server.server_close()


def test_ingest_warms_up_untimed_on_the_same_connections_then_times_the_rest(accepting_webhook):
    url, seen = accepting_webhook
    measured = webhook_ingest(url, senders=3, requests=30, warmup_per_sender=4)
    assert measured.accepted == 30 and measured.accepted_per_s > 0
    assert len(seen) == 3 * 4 + 30
    indexes = [int(path.rsplit("/", 1)[1]) for _, path in seen]
    assert sorted(indexes) == list(range(42))
    assert sorted(indexes[:12]) == list(range(12))  # the warm-up is done before the timed part starts
    assert len({port for port, _ in seen}) == 3  # one kept-alive connection per sender, warm-up and timed alike


def test_ingest_on_new_connections_counts_the_accepted_and_the_stacks_cpu_per_webhook(accepting_webhook):
    import os

    url, seen = accepting_webhook
    measured = webhook_ingest(url, senders=2, requests=20, kept_alive=False, pid=os.getpid())
    assert measured.accepted == 20 and len(seen) == 20
    assert len({port for port, _ in seen}) == 20  # a connection per webhook, as a plain urllib sender
    assert measured.gateway_cpu_ms_per_webhook is not None and measured.gateway_cpu_ms_per_webhook >= 0


def test_turns_of_one_measurement_combine_as_all_accepted_over_all_the_time():
    fast = Ingest(200.0, 400, 30.0, 2.0, 5.0, {202: 400})  # 2 s
    slow = Ingest(100.0, 200, 50.0, 4.0, 8.0, {202: 200, 0: 1})  # 2 s
    both = combined([fast, slow])
    assert both.accepted == 600 and both.accepted_per_s == 150.0  # 600 in 4 s, not the mean of the rates
    assert both.gateway_cpu_ms_per_webhook == round((2.0 * 400 + 4.0 * 200) / 600, 3)
    assert both.stack_cpu_ms_per_webhook == 6.0 and both.load_generator_cpu_percent == 50.0
    assert both.answers == {202: 600, 0: 1}
    assert combined([Ingest(50.0, 100, 10.0)]).gateway_cpu_ms_per_webhook is None  # measured without the pid
