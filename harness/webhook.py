"""Posting to a deployed webhook from this machine: what the fixtures, the benchmark and the tests send."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any


def post_webhook(
    url: str, path: str = "/hello", body: bytes | str | None = b"{}", headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    """POST to the webhook; (status, parsed JSON body). Error statuses are returned, not raised."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _parsed(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _parsed(error.read())


def _parsed(data: bytes) -> Any:
    """JSON where the webhook answers JSON (ours does), else the text (a publisher of your own may not)."""
    try:
        return json.loads(data or b"null")
    except ValueError:
        return data.decode(errors="replace")
