"""The realtime benchmark: its matching of frames to what was sent, its /proc readings, and one short real run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import msgspec
import pytest

from instamini.bench.procstats import cpu_times, rss_kb, worker_pid
from instamini.bench.realtime import LikeWatch, heartbeat_for
from instamini.bench.realtime_messages import Deliveries
from instamini.bench.realtime_plan import latency_summary, message_frame, sequence
from instamini.bench.wsclient import decode_frame
from instamini.cli import main


class FakePeer:
    """Stands in for a socket: the trackers only compare peers and read `user`."""

    def __init__(self, user: str) -> None:
        self.user = user


def frame(**fields) -> object:
    return decode_frame(msgspec.json.encode(fields))


def like(post: str) -> object:
    return frame(type="notification", notification={"kind": "like", "post_id": post}, unread=3)


def test_latency_summary_uses_the_open_loop_percentiles():
    summary = latency_summary([0.001 * i for i in range(1, 101)])
    assert summary == {"count": 100, "p50_ms": 51.0, "p99_ms": 100.0, "p999_ms": 100.0, "max_ms": 100.0}
    assert latency_summary([]) == {"count": 0, "p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0, "max_ms": 0.0}


def test_a_message_frame_carries_its_sequence_number_in_text_and_client_id():
    sent = msgspec.json.decode(message_frame("123", 42))
    assert sent == {"type": "message", "thread_id": "123", "text": "bench 42", "client_id": "42"}
    assert sequence(sent["text"]) == sequence(sent["client_id"]) == 42
    assert sequence("hello there") is None and sequence("") is None


def test_deliveries_count_the_recipients_frame_and_the_senders_ack_once_each():
    tracker = Deliveries()
    alice, bob = FakePeer("alice"), FakePeer("bob")
    first, second = tracker.sent(10.0, bob), tracker.sent(10.5, alice)
    message = frame(type="message", thread_id="1", message={"id": "9", "text": "bench 0", "sender": {}})
    tracker.on_frame(bob, message, 10.02)
    tracker.on_frame(bob, message, 10.03)  # the same message again: a stray, not a second delivery
    tracker.on_frame(bob, frame(type="message", message={"text": "bench 1"}), 10.6)  # alice's: a stray on bob's
    tracker.on_frame(alice, frame(type="ack", client_id=str(first), message={"text": "bench 0"}), 10.01)
    tracker.on_frame(bob, frame(type="notification", notification={"kind": "message"}, unread=1), 10.04)
    tracker.on_frame(bob, frame(type="error", code="rate_limited", detail="slow down"), 10.05)
    assert tracker.delivery.latencies == [pytest.approx(0.02)] and tracker.ack.latencies == [pytest.approx(0.01)]
    assert tracker.strays == 2 and tracker.notifications == 1 and tracker.errors == {"rate_limited": 1}
    tracker.sending = False
    tracker.give_up(12.5)  # the second was never delivered nor acked: errors, with their wait so far
    assert tracker.delivery.errors == tracker.ack.errors == 1 and tracker.delivery.sent == 2
    assert tracker.delivery.latencies[-1] == pytest.approx(12.5 - 10.5) and not tracker.complete.is_set()
    tracker.on_frame(alice, frame(type="message", message={"text": "bench 1"}), 13.0)  # after the drain: still lost
    assert tracker.late == 1 and tracker.delivery.answered == 1
    assert second == 1


def test_the_tracker_completes_when_every_message_is_delivered_and_acked():
    tracker = Deliveries()
    bob = FakePeer("bob")
    tracker.sent(1.0, bob)
    tracker.sending = False
    tracker.on_frame(bob, frame(type="message", message={"text": "bench 0"}), 1.1)
    assert not tracker.complete.is_set()
    tracker.on_frame(FakePeer("alice"), frame(type="ack", client_id="0"), 1.2)
    assert tracker.complete.is_set()


def test_a_like_is_timed_to_the_authors_notification_about_that_post():
    watch = LikeWatch({"7": "ann", "8": "ann"}, expected=2)
    watch.origins.update({"7": 1.0, "8": 2.0})
    watch.on_frame(FakePeer("bob"), like("7"), 1.5)  # not the author's socket
    watch.on_frame(FakePeer("ann"), frame(type="notification", notification={"kind": "follow"}), 1.5)
    watch.on_frame(FakePeer("ann"), like("7"), 1.25)
    assert watch.latencies == [0.25] and list(watch.origins) == ["8"] and not watch.done.is_set()
    watch.on_frame(FakePeer("ann"), like("8"), 2.5)
    assert watch.done.is_set()


def test_the_heartbeat_fires_at_least_twice_within_the_hold():
    assert heartbeat_for(10) == 4 and heartbeat_for(2) == 1 and heartbeat_for(0.5) == 1


def only_child(pid: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return worker_pid(pid)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # the child is not started yet


def test_proc_readings_find_the_only_child_and_its_memory_and_cpu():
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess; subprocess.run(['sleep', '30'])"])
    try:
        child = only_child(parent.pid)
        stat = open(f"/proc/{child}/stat").read().rpartition(")")[2].split()
        assert int(stat[1]) == parent.pid  # its parent (the command line may not be exec'd yet)
        os.kill(child, signal.SIGKILL)
    finally:
        parent.kill()
        parent.wait()
    assert rss_kb(os.getpid()) > 1000
    user, system = cpu_times(os.getpid())
    assert user > 0 and system >= 0


def test_the_cli_refuses_options_of_another_scenario(capsys):
    assert main(["bench", "foundation", "--sockets", "3"]) == 2
    assert main(["bench", "realtime", "--strategy", "push"]) == 2
    assert "takes no strategy" in capsys.readouterr().err


def bench_report(tmp_path, scenario: str, **options) -> dict:
    """Run `python -m instamini bench SCENARIO --option value ...` and read its JSON report."""
    out = tmp_path / f"{scenario}.json"
    flags = [word for name, value in options.items() for word in (f"--{name}", str(value))]
    subprocess.run(
        [sys.executable, "-m", "instamini", "bench", scenario, *flags, "--out", str(out)],
        check=True, timeout=120, stdout=subprocess.DEVNULL,
    )
    return msgspec.json.decode(out.read_bytes())


def test_a_short_run_holds_every_socket_and_loses_no_message(tmp_path):
    report = bench_report(tmp_path, "realtime", users=100, sockets=200, rate=100, seconds=2, likes=30, hold=2)
    assert report["command"].startswith("python -m instamini bench realtime --users 100 --sockets 200")
    sockets = report["sockets"]
    assert sockets["opened"] == sockets["still_open_after_hold"] == 200 and sockets["failed"] == 0
    assert sockets["sockets_pinged"] == 200  # the heartbeat fired and every socket answered
    assert sockets["server_rss_kb"]["after_hold"] > sockets["server_rss_kb"]["before"] > 0
    assert sockets["healthz_all_open"]["errors"] == 0 and sockets["healthz_all_open"]["count"] > 0
    messages = report["messages"]
    assert messages["sent"] > 100 and messages["lost"] == messages["acks_missing"] == 0
    assert messages["error_frames"] == {} and messages["sockets_closed_by_server"] == 0
    for figure in ("delivery", "ack"):
        assert 0 < messages[figure]["p50_ms"] <= messages[figure]["p99_ms"] <= messages[figure]["max_ms"]
    assert messages["message_notification_frames"] > 0  # the notifications module tells of messages too
    likes = report["likes"]
    assert likes["missing"] == 0 and likes["http_like"]["errors"] == 0
    notified = likes["notification"]
    assert notified["count"] == 30 and 0 < notified["p50_ms"] <= notified["p99_ms"]
    assert all(server["alive_at_end"] and server["log_errors"] == [] for server in report["servers"])
    assert all(limit["open_files_limit"] >= 1000 for limit in report["servers"] + report["clients"])
