"""The kernel's random bytes read a page at a time for LocalStack's process, not 16 at a time per id.

Every webhook asks for about eight random ids (request ids, trace ids, the message id), each an
``os.urandom`` call, each a ``getrandom`` system call that lets go of the GIL: under a flood, with ten
requests in flight, each of those is a hand-over of the interpreter to another thread and back. The
bytes are the same kernel CSPRNG's, each handed out once; a forked child starts with none of its
parent's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

PAGE = 4096
"""Bytes read from the kernel at once."""
LARGEST_SERVED = 256
"""Larger requests (keys, not ids) go to the kernel directly."""


class BufferedUrandom:
    """``os.urandom`` served from a page of the kernel's random bytes read ahead."""

    def __init__(self, urandom: Callable[[int], bytes], page: int = PAGE) -> None:
        self._urandom, self._page = urandom, page
        self._lock = threading.Lock()
        self._buffer = b""
        self._used = 0
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self, size: int) -> bytes:
        if size > LARGEST_SERVED:
            return self._urandom(size)
        if size < 0:
            raise ValueError("negative argument not allowed")
        with self._lock:
            if self._used + size > len(self._buffer):
                self._buffer, self._used = self._urandom(self._page), 0
            start = self._used
            self._used += size
            return self._buffer[start : self._used]

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._used = b"", 0
