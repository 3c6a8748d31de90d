"""What the HTTP service answers (and the body of ``POST /v1/events``), as pydantic models: the
OpenAPI document shows a schema for every route from these.

Times in answers are text exactly as the store and the hash chain hold them (``recorded_at``:
UTC with microseconds), so they are typed ``str`` with the ``date-time`` format here: a model
never rewrites what a client may hash. Event payloads (``data``) are the vocabulary's
(docs/events.md); the append body's schema is built from :data:`timeline.vocabulary.DATA_MODELS`
as one variant per event type, discriminated by ``type``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model

from timeline.domain.event_types import EventType
from timeline.vocabulary import (
    DATA_MODELS,
    Actor,
    CorrectionData,
    Count,
    Day,
    Instant,
    NonEmpty,
    RetractionData,
    Text,
)

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Date = Annotated[str, Field(json_schema_extra={"format": "date"})]
Uuid = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Cursor = Annotated[
    str | None,
    Field(description="pass as ?cursor= for the next page; null on the last page"),
]


# --- POST /v1/events -------------------------------------------------------------------------

#: A valid event the server accepts (tests/api/test_openapi.py appends it).
EXAMPLE_EVENT: dict[str, Any] = {
    "event_id": "0b7e1d52-5f3c-4a59-9d0e-2f8f6d4c1a10",
    "seeker_id": "5a3c2d1e-9b8f-4e7d-a6c5-b4a3f2e1d0c9",
    "type": "job_search_started",
    "occurred_on": "2025-06-02",
    "actor": {"id": "cw-1", "role": "caseworker", "organisation": "398"},
    "source": "example-backend",
    "data": {
        "municipality": "398",
        "labour_market_status": "unemployed",
        "birth_year": 1990,
    },
}


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Uuid
    seeker_id: Uuid
    occurred_at: Instant | None = Field(
        None, description="an instant with its UTC offset; give this or occurred_on"
    )
    occurred_on: Day | None = Field(None, description="a day; give this or occurred_at")
    actor: Actor
    source: NonEmpty | None = None
    expected_version: Count | None = Field(
        None, description="refuse (409) unless the seeker's timeline is at this version"
    )


def _title(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _variant(type_: EventType, data: type[BaseModel]) -> type[BaseModel]:
    wire: Any = Literal[type_.value]  # one literal per variant: the discriminator
    return create_model(
        f"{_title(type_.value)}Event",
        __base__=_Envelope,
        __doc__=f"An event of type {type_.value} (docs/events.md).",
        type=(wire, ...),
        data=(data, ...),
    )


_DATA: dict[EventType, type[BaseModel]] = {
    **DATA_MODELS,
    EventType.CORRECTION: CorrectionData,
    EventType.RETRACTION: RetractionData,
}
EVENT_VARIANTS: tuple[type[BaseModel], ...] = tuple(_variant(t, m) for t, m in _DATA.items())
#: One event envelope: its ``data`` by its ``type`` (documentation; the route validates with
#: :func:`timeline.vocabulary.parse_event`, which names every bad field).
EventIn = Annotated[Union[EVENT_VARIANTS], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007


class Appended(BaseModel):
    """One appended event (or a duplicate of an earlier append: ``duplicate``)."""

    event_id: Uuid
    seeker_id: Uuid
    version: int
    position: int
    recorded_at: DateTime
    hash: str
    duplicate: bool


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personal_identity_code: Text = Field(min_length=1, max_length=20)


class Lookup(BaseModel):
    """The seekers of the caller's scope with this identity code (through its keyed hash)."""

    seeker_ids: list[Uuid]


class ErasureRequest(BaseModel):
    """An erasure (docs/erasure.md): whose, why, and on whose decision or legal ground."""

    model_config = ConfigDict(extra="forbid")
    seeker_id: UUID
    reason: Text = Field(min_length=1, max_length=500)
    authority: Text = Field(min_length=1, max_length=500)


class ErasureEntry(BaseModel):
    """One entry of the erasure register (chained: ``hash`` covers ``prev_hash``)."""

    seq: int
    erased_at: DateTime
    seeker_id: Uuid
    reason: str
    authority: str
    actor: str
    events: int = Field(description="events of the seeker the erasure covered")
    last_version: int
    last_position: int | None
    prev_hash: str
    hash: str


class Erased(ErasureEntry):
    already_erased: bool = Field(
        description="the seeker was in the register before this request (200): the steps an "
        "interrupted erasure left undone were completed, nothing else changed"
    )
    key_destroyed_now: bool = Field(description="this request destroyed the seeker's data key")


class ErasurePage(BaseModel):
    entries: list[ErasureEntry]
    next_after: int | None = Field(
        description="pass as ?after= for the next page; null on the last page"
    )


# --- reads -----------------------------------------------------------------------------------


class HistoryEvent(BaseModel):
    """One event of a history, with both times and its audit status."""

    event_id: Uuid
    seeker_id: Uuid
    version: int
    position: int | None
    type: str
    occurred_at: str | None
    occurred_on: Date
    recorded_at: DateTime
    recorded_late_days: int
    actor: dict[str, Any]
    source: str | None
    data: dict[str, Any] | None = Field(
        description="the payload; null when the seeker was erased (`erased`)"
    )
    digest: str
    hash: str
    status: Literal["valid", "superseded", "void"]
    superseded_by: list[str]
    voided_by: str | None
    erased: bool = Field(
        False,
        description="the seeker's personal data was erased (docs/erasure.md): type, times, "
        "position, digest and hash are kept, the payload is not shown",
    )


class History(BaseModel):
    seeker_id: Uuid
    as_of: str | None
    events: list[HistoryEvent]
    next_after_version: int | None = Field(
        description="pass as ?after_version= for the next page; null on the last page"
    )


class Obligation(BaseModel):
    """One obligation (or flag) of a seeker, with the rule it comes from and its basis."""

    seeker_id: Uuid
    kind: str
    ruleset: str
    rule: str
    status: str
    due_on: str | None
    period_start: str | None
    period_end: str | None
    met_on: str | None
    days_late: int | None
    required: int | None
    counted: int | None
    basis_event_ids: list[str]
    confidence: str | None
    assumptions: list[Any]
    consequence: str | None


class Obligations(BaseModel):
    seeker_id: Uuid
    on: Date
    as_of: str | None
    position: int
    stale: str | None = Field(description="why these rows are not current (quarantined)")
    obligations: list[Obligation]


class WorklistItem(Obligation):
    municipality: str | None
    coach_id: str | None
    stale: str | None


class Worklist(BaseModel):
    on: Date
    position: int
    items: list[WorklistItem]
    next_cursor: Cursor = None


class FeedEvent(BaseModel):
    position: int
    event_id: Uuid
    seeker_id: Uuid
    version: int
    type: str
    occurred_at: str | None
    occurred_on: Date
    recorded_at: DateTime
    actor: dict[str, Any]
    source: str | None
    data: dict[str, Any] | None = Field(description="null when the seeker was erased")
    hash: str
    erased: bool = False


class Feed(BaseModel):
    events: list[FeedEvent]
    next_after: int = Field(description="pass as ?after= for the next page")


class AccessEntry(BaseModel):
    """One entry of the access log (chained: ``hash`` covers ``prev_hash``)."""

    seq: int
    at: DateTime
    actor: str
    role: str
    action: str
    seeker_id: str | None
    purpose: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AccessLogPage(BaseModel):
    entries: list[AccessEntry]
    next_cursor: Cursor = None


class QuarantineEntry(BaseModel):
    projection: str
    seeker_id: str
    stage: str
    error: str
    position: int | None
    event_id: str | None
    recorded_at: str | None


class ProjectionQuarantine(BaseModel):
    position: int
    count: int
    stale_seekers: int
    entries: list[QuarantineEntry]


class QuarantineReport(BaseModel):
    projections: dict[str, ProjectionQuarantine]


class StatsRow(BaseModel):
    month: str
    level: str
    area: str
    measure: str
    value: float | None
    base: int | None
    suppressed: bool
    provisional: bool
    position: int


class MonthlyStats(BaseModel):
    rows: list[StatsRow]
    count: int


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Any]


# --- refusals --------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    loc: str = Field(description="the field's path, e.g. [3].data.service_id")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document: every refusal, on every route."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
    errors_omitted: int | None = None
