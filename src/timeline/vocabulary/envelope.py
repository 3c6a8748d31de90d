"""The envelope every event comes in, corrections and retractions, and parsing a raw value into
a :class:`ParsedEvent` with every problem named (field and reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    TypeAdapter,
    ValidationError,
    model_validator,
)

from timeline.domain.errors import FieldError
from timeline.domain.event_types import EventType
from timeline.domain.zone import HELSINKI
from timeline.vocabulary.data import DATA_MODELS, EVENT_TYPES, RECORDING_TYPE_NAMES
from timeline.vocabulary.fields import Count, Day, Instant, NonEmpty, StrictModel


class Actor(StrictModel):
    id: NonEmpty
    role: NonEmpty
    organisation: NonEmpty


class Replacement(StrictModel):
    """What a correction puts in place of the corrected event: a full type + data + time."""

    type: Literal[RECORDING_TYPE_NAMES]  # type: ignore[valid-type]
    occurred_at: Instant | None = None
    occurred_on: Day | None = None
    data: dict[str, Any]

    @model_validator(mode="after")
    def _when(self) -> Replacement:
        _exactly_one_time(self.occurred_at, self.occurred_on)
        return self


class CorrectionData(StrictModel):
    corrects_event_id: UUID
    reason: NonEmpty
    replacement: Replacement


class RetractionData(StrictModel):
    retracts_event_id: UUID
    reason: NonEmpty


def _exactly_one_time(at: datetime | None, on: date | None) -> None:
    if at is None and on is None:
        raise ValueError(
            "one of occurred_at (instant with offset) or occurred_on (date) is required"
        )
    if at is not None and on is not None:
        raise ValueError("give occurred_at or occurred_on, not both")


class EnvelopeIn(StrictModel):
    """One event as a backend sends it. Recorded time, position, version and hash are set by the
    store and never accepted from the caller (they are unknown fields here)."""

    event_id: UUID
    seeker_id: UUID
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    occurred_at: Instant | None = None
    occurred_on: Day | None = None
    actor: Actor
    source: NonEmpty | None = None
    expected_version: Count | None = None
    data: dict[str, Any]

    @model_validator(mode="after")
    def _when(self) -> EnvelopeIn:
        _exactly_one_time(self.occurred_at, self.occurred_on)
        return self


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEvent:
    """A validated event in plain, JSON-ready form: what the application hands the domain."""

    event_id: str
    seeker_id: str
    type: EventType
    occurred_at: str | None
    occurred_on: str
    actor: dict[str, str]
    source: str | None
    data: dict[str, Any]
    expected_version: int | None = None
    personal_identity_code: str | None = field(default=None, repr=False)


class EventValidationError(ValueError):
    """Every bad field of an event or batch; ``omitted`` more were found but not kept (see
    :data:`MAX_REPORTED_ERRORS`)."""

    def __init__(self, errors: list[FieldError], omitted: int = 0) -> None:
        more = f" (and {omitted} more)" if omitted else ""
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in errors) + more)
        self.errors = errors
        self.omitted = omitted


#: How many field errors a refusal reports; the rest are counted, not listed, so a body of
#: thousands of bad fields cannot produce an answer many times its own size.
MAX_REPORTED_ERRORS = 100


def _loc(parts: tuple[int | str, ...], prefix: str = "") -> str:
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(
            FieldError(
                loc=_loc(tuple(err["loc"]), prefix) or prefix or "(body)",
                msg=msg,
                kind=str(err["type"]),
            )
        )
    return out


def _occurred_on(at: datetime | None, on: date | None) -> str:
    if at is not None:
        return at.astimezone(HELSINKI).date().isoformat()
    assert on is not None
    return on.isoformat()


def _data(
    type_: EventType, raw: dict[str, Any], context: dict[str, Any], prefix: str
) -> tuple[dict[str, Any], str | None]:
    model = DATA_MODELS[type_]
    try:
        parsed = model.model_validate(raw, context=context)
    except ValidationError as exc:
        raise EventValidationError(_field_errors(exc, prefix)) from None
    data = parsed.model_dump(mode="json", exclude_none=True)
    code = data.pop("personal_identity_code", None)
    return data, code


_ENVELOPE = TypeAdapter(EnvelopeIn)


def parse_event(raw: Any, *, allow_test_identity_codes: bool = False) -> ParsedEvent:
    """Validate one envelope; raise :class:`EventValidationError` naming every bad field."""
    context = {"allow_test_identity_codes": allow_test_identity_codes}
    try:
        env = _ENVELOPE.validate_python(raw, context=context)
    except ValidationError as exc:
        raise EventValidationError(_field_errors(exc)) from None
    code: str | None = None
    type_ = EventType(env.type)
    if type_ == EventType.CORRECTION:
        try:
            corr = CorrectionData.model_validate(env.data, context=context)
        except ValidationError as exc:
            raise EventValidationError(_field_errors(exc, "data")) from None
        rep = corr.replacement
        rep_data, rep_code = _data(EventType(rep.type), rep.data, context, "data.replacement.data")
        if rep_code is not None:
            raise EventValidationError(
                [
                    FieldError(
                        "data.replacement.data.personal_identity_code",
                        "an identity code cannot be changed by a correction; start a new timeline",
                        "not_allowed",
                    )
                ]
            )
        data: dict[str, Any] = {
            "corrects_event_id": str(corr.corrects_event_id),
            "reason": corr.reason,
            "replacement": {
                "type": rep.type,
                "occurred_at": rep.occurred_at.isoformat() if rep.occurred_at else None,
                "occurred_on": _occurred_on(rep.occurred_at, rep.occurred_on),
                "data": rep_data,
            },
        }
    elif type_ == EventType.RETRACTION:
        try:
            ret = RetractionData.model_validate(env.data, context=context)
        except ValidationError as exc:
            raise EventValidationError(_field_errors(exc, "data")) from None
        data = ret.model_dump(mode="json")
    else:
        data, code = _data(type_, env.data, context, "data")
    return ParsedEvent(
        event_id=str(env.event_id),
        seeker_id=str(env.seeker_id),
        type=type_,
        occurred_at=env.occurred_at.isoformat() if env.occurred_at else None,
        occurred_on=_occurred_on(env.occurred_at, env.occurred_on),
        actor=env.actor.model_dump(),
        source=env.source,
        data=data,
        expected_version=env.expected_version,
        personal_identity_code=code,
    )
