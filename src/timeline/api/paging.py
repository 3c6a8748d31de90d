"""Opaque cursors for the paged lists (worklists, the access log): ``?cursor=`` takes what the
previous page answered as ``next_cursor``. A cursor carries the first request's filters and
where the next page starts, as base64url JSON; clients treat it as a token."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from timeline.api.problems import BadRequest

T = TypeVar("T")


def encode_cursor(route: str, **fields: Any) -> str:
    text = json.dumps({"r": route, **fields}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, route: str, shape: TypeAdapter[T]) -> T:
    """The fields of a cursor this route gave, as ``shape``; 422 naming ``cursor`` for
    anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        if isinstance(fields, dict) and fields.pop("r", None) == route:
            return shape.validate_python(fields)
    except (binascii.Error, ValueError, ValidationError):
        pass
    raise BadRequest(
        f"not a cursor of {route}: pass next_cursor from the previous page as it was",
        status=422,
        title="Invalid request",
        loc="query.cursor",
    )
