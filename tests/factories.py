"""Envelope builders for tests: valid by default, every field overridable."""

from __future__ import annotations

import uuid
from typing import Any

from timeline.vocabulary import ParsedEvent, parse_event

ACTOR = {"id": "caseworker:4711", "role": "coach", "organisation": "398"}
VALID_CODE = "131052-308T"


def envelope(
    type_: str,
    seeker_id: str,
    data: dict[str, Any] | None = None,
    *,
    on: str | None = "2025-06-02",
    at: str | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "seeker_id": seeker_id,
        "type": type_,
        "actor": ACTOR,
        "source": "test-backend",
        "data": data if data is not None else default_data(type_),
    }
    if at is not None:
        env["occurred_at"] = at
    else:
        env["occurred_on"] = on
    env.update(extra)
    return env


def default_data(type_: str) -> dict[str, Any]:
    return {
        "job_search_started": {
            "municipality": "398",
            "labour_market_status": "unemployed",
            "personal_identity_code": VALID_CODE,
        },
        "meeting_held": {"kind": "initial_interview", "channel": "phone"},
        "coach_assigned": {"coach_id": "coach-1"},
        "application_reported": {
            "applied_on": "2025-06-02",
            "kind": "vacancy",
            "employer_business_id": "0737546-2",
        },
        "job_search_ended": {"reason": "employed_open_market"},
    }.get(type_, {})


def event(type_: str, seeker_id: str, data: dict[str, Any] | None = None, **kw: Any) -> ParsedEvent:
    return parse_event(envelope(type_, seeker_id, data, **kw), allow_test_identity_codes=True)


def new_seeker() -> str:
    return str(uuid.uuid4())
