"""Correlation tokens: how a request is found again in a stack whose publisher and rows are not ours.

The load generator puts one token per logical request in its path, body and a header (``token_places``);
a row (or DLQ message) proves that request arrived when any of its attributes carries the token.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

PREFIX = "whtok"
PATTERN = re.compile(PREFIX + r"[0-9a-f]{24}")


def new_token() -> str:
    return PREFIX + uuid.uuid4().hex[:24]


def tokens_in(value: Any) -> set[str]:
    """Every token anywhere in ``value`` (a row, a message body): strings, nested maps and lists alike."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return set(PATTERN.findall(text))
