"""Canonical forms, content digest and the per-seeker hash chain.

The chain is over *digests* of the content, not over stored bytes, so a payload can later be
crypto-shredded and the chain still verifies (ARCHITECTURE.md, "tamper evidence that survives
erasure").

Each event's digest names its algorithm in its stored text (docs/audit.md, ADR 0009 addendum):

- algorithm 1 (:data:`LEGACY`), events stored before RFC 8785: 64 hex digits, the SHA-256 of the
  project's own canonical JSON (:func:`canonical_bytes`);
- algorithm 2 (:data:`JCS`): ``jcs:`` and 64 hex digits, the SHA-256 of the RFC 8785 (JSON
  Canonicalization Scheme) bytes, made by the ``rfc8785`` package, so anyone can recompute it
  with a standard JCS tool.

The chain hash covers the digest text as stored (with its prefix)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import rfc8785

from timeline.domain.event_types import EventType

GENESIS_HASH = "0" * 64

#: digest algorithm 1: SHA-256 of :func:`canonical_bytes` (bare hex)
LEGACY = 1
#: digest algorithm 2: SHA-256 of RFC 8785 (JCS) bytes (``jcs:`` + hex)
JCS = 2
DIGEST_ALGORITHMS = (LEGACY, JCS)
JCS_PREFIX = "jcs:"
#: the largest integer RFC 8785 represents exactly (numbers are IEEE 754 doubles)
JCS_MAX_INT = 2**53 - 1

_HEX64 = re.compile(r"[0-9a-f]{64}")


def canonical_bytes(content: Mapping[str, Any]) -> bytes:
    """Algorithm 1's form: sorted keys, no insignificant white space, UTF-8."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def jcs_bytes(content: Mapping[str, Any]) -> bytes:
    """Algorithm 2's form: RFC 8785 (raises a ValueError for a value JCS cannot represent,
    such as an integer beyond 2**53 - 1).

    Made by the ``rfc8785`` package, except for content of the vocabulary's kind (ASCII keys,
    no fractions, integers within 2**53 - 1): for it RFC 8785's bytes are exactly
    :func:`canonical_bytes`, made several times faster by the standard library's C encoder —
    or, when the content is made of the exact built-in types only (``dict``, ``list``,
    ``str``, ``int``, ``bool``, None, :class:`EventType`: every event the import and the
    append parse), by
    ``orjson``, faster still and the same bytes (the same escapes; its sorted keys are ASCII
    here; a text it cannot encode, a lone surrogate, falls back to :func:`canonical_bytes`).
    The package stays the authority: the unit tests compare the three on generated values."""
    kind = _plain_kind(content)
    if kind == _EXACT:
        try:
            return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # (orjson.JSONEncodeError is one)
            return canonical_bytes(content)
    if kind:
        return canonical_bytes(content)
    return rfc8785.dumps(dict(content))


#: :func:`_plain_kind`'s answers
_NOT_PLAIN, _PLAIN, _EXACT = 0, 1, 2


def _plain(value: object) -> bool:
    """Whether ``value`` is of the kind whose RFC 8785 form :func:`canonical_bytes` writes."""
    return _plain_kind(value) != _NOT_PLAIN


def _plain_kind(value: object) -> int:
    """:data:`_EXACT` if ``value`` is of the kind whose RFC 8785 form :func:`canonical_bytes`
    writes and made of the exact built-in types only, :data:`_PLAIN` if of that kind
    otherwise, :data:`_NOT_PLAIN` if not of it.

    Plain or not: the same answer as :func:`_plain_any`, without a call per value: the exact
    built-in types an event's content is made of are walked with a stack (this runs for every
    digest of the import and the append); any other type is judged by :func:`_plain_any`."""
    exact = True
    todo: list[Any] = [value]
    while todo:
        item = todo.pop()
        kind = type(item)
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str or not key.isascii():
                    if not _plain_any(item):
                        return _NOT_PLAIN
                    exact = False
                    break
                if type(inner) is not str and inner is not None:
                    todo.append(inner)
        elif kind is list:
            todo.extend(item)
        elif kind is int:
            if not -JCS_MAX_INT <= item <= JCS_MAX_INT:
                return _NOT_PLAIN
        elif kind is bool or kind is EventType:  # (an event's type: its value is its text)
            pass
        elif kind is not str and item is not None:
            if not _plain_any(item):
                return _NOT_PLAIN
            exact = False
    return _EXACT if exact else _PLAIN


def _plain_any(value: object) -> bool:
    """:func:`_plain` for a value of any type (subclasses and other mappings included)."""
    if isinstance(value, str) or value is None:
        return True
    if isinstance(value, int):  # bool included: true/false either way
        return -JCS_MAX_INT <= value <= JCS_MAX_INT
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and k.isascii() and _plain_any(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_any(v) for v in value)
    return False


def content_digest(content: Mapping[str, Any], *, algorithm: int) -> str:
    """The digest of an event's content as stored: bare hex (1) or ``jcs:`` + hex (2)."""
    if algorithm == JCS:
        return JCS_PREFIX + hashlib.sha256(jcs_bytes(content)).hexdigest()
    if algorithm == LEGACY:
        return hashlib.sha256(canonical_bytes(content)).hexdigest()
    msg = f"digest algorithm {algorithm!r} is not one of {DIGEST_ALGORITHMS}"
    raise ValueError(msg)


def digest_algorithm(digest: str) -> int:
    """The algorithm a stored digest names (ValueError for text that is neither form)."""
    if digest.startswith(JCS_PREFIX) and _HEX64.fullmatch(digest, len(JCS_PREFIX)):
        return JCS
    if _HEX64.fullmatch(digest):
        return LEGACY
    msg = f"digest {digest!r} is neither 64 hex digits (algorithm 1) nor 'jcs:' and 64 (2)"
    raise ValueError(msg)


def chain_hash(
    prev_hash: str, *, digest: str, seeker_id: str, version: int, recorded_at: str
) -> str:
    """hash(n) = SHA-256(prev_hash | seeker | version | recorded_at | content digest as stored)."""
    link = f"{prev_hash}|{seeker_id}|{version}|{recorded_at}|{digest}".encode("ascii")
    return hashlib.sha256(link).hexdigest()


def iso_utc(moment: datetime) -> str:
    """The one text form of a recorded time: UTC, microseconds always present, sortable."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
