"""The kernel's random bytes read a page at a time for LocalStack's process, not 16 at a time per id.

Every webhook asks for about eight random ids (request ids, trace ids, the message id), each an
``os.urandom`` call, each a ``getrandom`` system call that lets go of the GIL: under a flood, with ten
requests in flight, each of those is a hand-over of the interpreter to another thread and back. The
bytes are the same kernel CSPRNG's, each handed out once; a forked child starts with none of its
parent's.

No lock: a thread the interpreter switches out while it holds one makes every other thread that asks for
an id block on it and give up the GIL in turn (a convoy that made ten threads asking for ids twice as slow
as with no buffer at all). Instead each page comes with an iterator over its slots, and ``next`` on it is
one step under the GIL: no two callers get the same slot. Two threads that find a page used up at the
same moment each read a new one; the slower one's page is dropped unused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

PAGE = 4096
"""Bytes read from the kernel at once."""
SLOT = 16
"""Bytes handed out per step (a UUID's worth); a larger request takes several slots."""
LARGEST_SERVED = 256
"""Larger requests (keys, not ids) go to the kernel directly."""


class BufferedUrandom:
    """``os.urandom`` served from a page of the kernel's random bytes read ahead."""

    def __init__(self, urandom: Callable[[int], bytes], page: int = PAGE) -> None:
        self._urandom, self._page = urandom, page
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self, size: int) -> bytes:
        if size > LARGEST_SERVED:
            return self._urandom(size)
        if size < 0:
            raise ValueError("negative argument not allowed")
        parts = []
        while size > 0:
            page, slots = self._current  # one read: a page and the iterator over its own slots
            start = next(slots, None)
            if start is None:
                self._current = (self._urandom(self._page), iter(range(0, self._page, SLOT)))
                continue
            parts.append(page[start : start + min(size, SLOT)])
            size -= SLOT
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _forget(self) -> None:
        self._current: tuple[bytes, Iterator[int]] = (b"", iter(()))
