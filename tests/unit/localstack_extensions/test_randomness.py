"""Random bytes read ahead from the kernel: each handed out once, asked sizes exact, a forked child's own."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from harness.localstack_extensions.randomness import LARGEST_SERVED, BufferedUrandom


class CountingUrandom:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.calls.append(size)
        return os.urandom(size)


def test_small_requests_are_served_from_one_read_ahead_page_each_byte_once():
    kernel = CountingUrandom()
    buffered = BufferedUrandom(kernel, page=64)
    parts = [buffered(16) for _ in range(8)]
    assert [len(part) for part in parts] == [16] * 8
    assert kernel.calls == [64, 64]  # two pages for 128 bytes
    assert b"".join(parts[:4]) != b"".join(parts[4:]) and len(set(parts)) == 8
    assert buffered(0) == b""


def test_a_request_takes_whole_slots_across_pages_and_large_ones_go_straight_through():
    kernel = CountingUrandom()
    buffered = BufferedUrandom(kernel, page=64)
    assert len(buffered(60)) == 60 and kernel.calls == [64]  # four slots of 16
    assert len(buffered(8)) == 8 and kernel.calls == [64, 64]  # a slot of the next page, half used
    assert len(buffered(40)) == 40 and kernel.calls == [64, 64]  # its next three slots
    assert len(buffered(LARGEST_SERVED + 1)) == LARGEST_SERVED + 1 and kernel.calls[-1] == LARGEST_SERVED + 1
    with pytest.raises(ValueError):
        buffered(-1)


def test_threads_asking_at_once_never_get_the_same_bytes():
    kernel = CountingUrandom()
    buffered = BufferedUrandom(kernel, page=256)
    handed: list[list[bytes]] = [[] for _ in range(8)]

    def ask(mine: list[bytes]) -> None:
        for _ in range(2000):
            mine.append(buffered(16))

    threads = [threading.Thread(target=ask, args=(mine,)) for mine in handed]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can: races, if any, show
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    every = [part for mine in handed for part in mine]
    assert len(every) == 16_000 and len(set(every)) == 16_000
    assert len(kernel.calls) >= 16_000 * 16 // 256  # at least a page per 16 ids; a race may drop one


def test_a_forked_child_never_reuses_its_parents_bytes():
    buffered = BufferedUrandom(os.urandom, page=4096)
    buffered(16)  # the parent now holds a page
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side
        os.write(write, buffered(16))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 16)
    os.close(read)
    assert len(from_child) == 16 and from_child != buffered(16)  # the parent's next bytes
