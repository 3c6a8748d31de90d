"""The public event vocabulary, version 1 (docs/events.md), as pydantic models.

This is the edge: everything a backend sends is parsed here (unknown fields and types rejected,
identity codes and business ids validated) and turned into a plain :class:`ParsedEvent` that the
domain understands. API schemas never double as stored events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from timeline.domain.errors import FieldError
from timeline.domain.event_types import RECORDING_TYPES, EventType
from timeline.domain.identity import (
    InvalidIdentifier,
    validate_business_id,
    validate_municipality_code,
    validate_personal_identity_code,
)
from timeline.domain.zone import HELSINKI

LabourMarketStatus = Literal[
    "unemployed", "laid_off", "part_time", "employed", "student", "outside_labour_force"
]
ContactChannel = Literal["phone", "video", "in_person", "message", "letter"]
MeetingKind = Literal[
    "initial_interview",
    "job_search_conversation",
    "supplementary_conversation",
    "intensified_period_conversation",
    "other",
]
MissReason = Literal["no_show", "cancelled_by_seeker", "cancelled_by_service", "illness", "other"]
PlanKind = Literal["employment_plan", "integration_plan", "activation_plan", "multisectoral_plan"]
ApplicationKind = Literal[
    "vacancy", "open_application", "agency_registration", "self_employment_step", "other_agreed"
]
ServiceType = Literal[
    "labour_market_training",
    "coaching",
    "work_trial",
    "pay_subsidy",
    "rehabilitative_work_activity",
    "startup_grant",
    "career_guidance",
    "other",
]
EndReason = Literal[
    "employed_open_market",
    "employed_subsidised",
    "self_employed",
    "studies",
    "moved_abroad",
    "not_renewed",
    "other",
]

# --- plausible ranges and the shared edge types (docs/events.md, "Ranges") -------------------

#: The earliest day anything in a timeline may be dated: registers of job seekers older than
#: the 1990s are not migrated, and every rule and statistic starts decades later.
EARLIEST_DAY = date(1990, 1, 1)
#: The latest day any date may name (a plan's review, a requirement's end, a planned meeting):
#: far beyond any plan made now, and far from the limits of the calendar arithmetic
#: (Python's year 9999) that the rules and statistics do on these dates. What has *happened*
#: (``occurred_at``/``occurred_on``) is bounded tighter, by the future tolerance of the
#: append (``timeline.decisions.Appender.prepare``, ``TIMELINE_FUTURE_TOLERANCE_SECONDS``).
LATEST_DAY = date(2099, 12, 31)
#: The longest individual job-search requirement (``valid_from`` … ``valid_until``): the plan
#: that sets it is reviewed in every job-search conversation, so five years is already far
#: beyond any real decision; longer is a typo.
MAX_REQUIREMENT_PERIOD = timedelta(days=5 * 365 + 1)
#: Every integer the API takes fits a signed 64-bit database column.
MAX_INT64 = 2**63 - 1

_EXAMPLE_INSTANT = "2025-06-01T12:00:00+03:00"
_DAY_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: C0 and C1 control characters (NUL included), DEL, and unpaired UTF-16 surrogates (which no
#: store can hold as text); free text may keep tab and line breaks.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(pattern: re.Pattern[str], value: str, allowed: str) -> str:
    found = pattern.search(value)
    if found is not None:
        code = ord(found.group())
        what = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
        raise PydanticCustomError(
            "control_character",
            f"must not contain control characters{allowed}: found {what}, U+{code:04X}, "
            f"at position {found.start()}",
        )
    return value


def _plain_text(value: str) -> str:
    return _refuse(_NOT_TEXT, value, "")


def _free_text(value: str) -> str:
    return _refuse(_NOT_FREE_TEXT, value, " other than tab and line breaks")


def _out_of_range(shown: str) -> PydanticCustomError:
    return PydanticCustomError(
        "out_of_range",
        f"{shown} is out of range: dates and times must lie between "
        f"{EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()} (Helsinki time)",
    )


def check_instant(moment: datetime, shown: str | None = None) -> datetime:
    """``moment`` if it carries a UTC offset and its Helsinki day is in range."""
    shown = repr(shown) if shown is not None else moment.isoformat()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PydanticCustomError(
            "no_offset", f"{shown} has no UTC offset; write e.g. {_EXAMPLE_INSTANT}"
        )
    # the year first: converting year 1 or 9999 to Helsinki time would overflow
    if not EARLIEST_DAY.year - 1 <= moment.year <= LATEST_DAY.year + 1:
        raise _out_of_range(shown)
    if not EARLIEST_DAY <= moment.astimezone(HELSINKI).date() <= LATEST_DAY:
        raise _out_of_range(shown)
    return moment


def parse_instant(text: str) -> datetime:
    """The one parser of instants, for HTTP and the CLI alike: ISO 8601 with a UTC offset
    (``Z`` or ``±hh:mm``), within the plausible range. Raises ``ValueError`` with a message
    meant for the user."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            "invalid_time",
            f"{text!r} is not an ISO 8601 time with a UTC offset; write e.g. {_EXAMPLE_INSTANT}",
        ) from None
    return check_instant(moment, text)


def _instant(value: object) -> datetime:
    if isinstance(value, str):
        return parse_instant(value)
    if isinstance(value, datetime):
        return check_instant(value)
    raise PydanticCustomError(
        "invalid_time", f"must be an ISO 8601 time with a UTC offset, e.g. {_EXAMPLE_INSTANT}"
    )


def parse_day(text: str) -> date:
    """A calendar day written ``YYYY-MM-DD``, within the plausible range."""
    if not _DAY_FORM.fullmatch(text):
        raise PydanticCustomError("invalid_date", f"{text!r} is not a date; write YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise PydanticCustomError("invalid_date", f"{text!r} is not a date: {exc}") from None
    return check_day(day, text)


def check_day(day: date, shown: str | None = None) -> date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _out_of_range(repr(shown) if shown is not None else day.isoformat())
    return day


def _day(value: object) -> date:
    if isinstance(value, str):
        return parse_day(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return check_day(value)
    raise PydanticCustomError("invalid_date", "must be a date written YYYY-MM-DD")


#: An instant: ISO 8601 text with a UTC offset (never assumed), in the plausible range.
Instant = Annotated[datetime, BeforeValidator(_instant)]
#: A calendar day: ``YYYY-MM-DD`` text, in the plausible range.
Day = Annotated[date, BeforeValidator(_day)]
#: Text without control characters (a name, an id, a code, a short reason).
Text = Annotated[str, AfterValidator(_plain_text)]
#: Free text: as :data:`Text`, but tab and line breaks are allowed.
FreeText = Annotated[str, AfterValidator(_free_text)]
#: A non-negative integer that fits the store's 64-bit columns (JSON numbers only).
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT64)]

NonEmpty = Annotated[Text, Field(min_length=1, max_length=200)]
Municipality = Annotated[Text, Field(pattern=r"^[0-9]{3}$", examples=["398"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data models, one per type -------------------------------------------------------------


class JobSearchStartedData(_Strict):
    municipality: Municipality
    labour_market_status: LabourMarketStatus
    personal_identity_code: Text | None = Field(
        default=None, description="validated, turned into person_ref, never stored"
    )
    birth_year: StrictInt | None = Field(default=None, ge=1900, le=2100)
    language: Annotated[Text, Field(min_length=2, max_length=8)] | None = None
    channel: NonEmpty | None = None

    @field_validator("personal_identity_code")
    @classmethod
    def _valid_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        allow = bool((info.context or {}).get("allow_test_identity_codes", False))
        try:
            return validate_personal_identity_code(value, allow_temporary=allow)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None


class CoachAssignedData(_Strict):
    coach_id: NonEmpty
    team: NonEmpty | None = None


class LabourMarketStatusChangedData(_Strict):
    labour_market_status: LabourMarketStatus


class ContactMadeData(_Strict):
    channel: ContactChannel
    direction: Literal["outbound", "inbound"]
    purpose: NonEmpty | None = None


class MeetingScheduledData(_Strict):
    meeting_id: NonEmpty
    kind: MeetingKind
    planned_at: Instant
    channel: ContactChannel | None = None


class MeetingHeldData(_Strict):
    kind: MeetingKind
    channel: ContactChannel
    meeting_id: NonEmpty | None = None


class MeetingMissedData(_Strict):
    meeting_id: NonEmpty | None = None
    kind: MeetingKind | None = None
    reason: MissReason

    @model_validator(mode="after")
    def _meeting_or_kind(self) -> MeetingMissedData:
        if self.meeting_id is None and self.kind is None:
            raise ValueError("either meeting_id or kind is required")
        return self


class EmploymentPlanAgreedData(_Strict):
    plan_kind: PlanKind
    review_on: Day | None = None
    services_planned: list[NonEmpty] | None = Field(default=None, max_length=100)


class JobSearchRequirementSetData(_Strict):
    applications_per_period: StrictInt = Field(ge=0, le=4)
    period: Literal["month", "three_months"]
    valid_from: Day
    valid_until: Day | None = None
    grounds: NonEmpty | None = None

    @field_validator("valid_until")
    @classmethod
    def _within_a_period(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is None or start is None:
            return value
        if value < start:
            raise ValueError("valid_until is before valid_from")
        if value - start > MAX_REQUIREMENT_PERIOD:
            raise ValueError(
                f"the requirement would last {(value - start).days} days; at most "
                f"{MAX_REQUIREMENT_PERIOD.days} (five years) from valid_from"
            )
        return value

    @model_validator(mode="after")
    def _grounds_when_reduced(self) -> JobSearchRequirementSetData:
        if self.period == "month" and self.applications_per_period < 4 and not self.grounds:
            raise ValueError("grounds are required when the requirement is below 4 a month")
        return self


class ApplicationReportedData(_Strict):
    applied_on: Day
    kind: ApplicationKind
    employer_name: NonEmpty | None = None
    employer_business_id: Text | None = None
    vacancy_ref: NonEmpty | None = None
    job_title: NonEmpty | None = None

    @field_validator("employer_business_id")
    @classmethod
    def _valid_business_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_business_id(value)
        except InvalidIdentifier as exc:
            raise ValueError(str(exc)) from None


class ServiceReferredData(_Strict):
    service_id: NonEmpty
    service_type: ServiceType
    provider: Literal["public", "private", "third_sector"] | None = None
    provider_name: NonEmpty | None = None


class ServiceStartedData(_Strict):
    service_id: NonEmpty


class ServiceEndedData(_Strict):
    service_id: NonEmpty
    end_reason: Literal["completed", "interrupted", "employed", "other"] | None = None


class DecisionRecordedData(_Strict):
    decision_type: NonEmpty
    basis_event_ids: list[UUID] = Field(min_length=1, max_length=1000)
    text: Annotated[FreeText, Field(max_length=10_000)] | None = None


class JobSearchEndedData(_Strict):
    reason: EndReason


class SeekerTransferredData(_Strict):
    to_municipality: Municipality

    @field_validator("to_municipality")
    @classmethod
    def _three_digits(cls, value: str) -> str:
        return validate_municipality_code(value)


#: the data model of each type that records something new (the amendments have their own below)
DATA_MODELS: dict[EventType, type[_Strict]] = {
    EventType.JOB_SEARCH_STARTED: JobSearchStartedData,
    EventType.COACH_ASSIGNED: CoachAssignedData,
    EventType.LABOUR_MARKET_STATUS_CHANGED: LabourMarketStatusChangedData,
    EventType.CONTACT_MADE: ContactMadeData,
    EventType.MEETING_SCHEDULED: MeetingScheduledData,
    EventType.MEETING_HELD: MeetingHeldData,
    EventType.MEETING_MISSED: MeetingMissedData,
    EventType.EMPLOYMENT_PLAN_AGREED: EmploymentPlanAgreedData,
    EventType.JOB_SEARCH_REQUIREMENT_SET: JobSearchRequirementSetData,
    EventType.APPLICATION_REPORTED: ApplicationReportedData,
    EventType.SERVICE_REFERRED: ServiceReferredData,
    EventType.SERVICE_STARTED: ServiceStartedData,
    EventType.SERVICE_ENDED: ServiceEndedData,
    EventType.DECISION_RECORDED: DecisionRecordedData,
    EventType.JOB_SEARCH_ENDED: JobSearchEndedData,
    EventType.SEEKER_TRANSFERRED: SeekerTransferredData,
}
assert tuple(DATA_MODELS) == RECORDING_TYPES, "a data model for every recording type, in order"
#: the wire names, as the envelope's ``type`` (and a replacement's) accepts them
EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
RECORDING_TYPE_NAMES: tuple[str, ...] = tuple(t.value for t in RECORDING_TYPES)


class Actor(_Strict):
    id: NonEmpty
    role: NonEmpty
    organisation: NonEmpty


class Replacement(_Strict):
    """What a correction puts in place of the corrected event: a full type + data + time."""

    type: Literal[RECORDING_TYPE_NAMES]  # type: ignore[valid-type]
    occurred_at: Instant | None = None
    occurred_on: Day | None = None
    data: dict[str, Any]

    @model_validator(mode="after")
    def _when(self) -> Replacement:
        _exactly_one_time(self.occurred_at, self.occurred_on)
        return self


class CorrectionData(_Strict):
    corrects_event_id: UUID
    reason: NonEmpty
    replacement: Replacement


class RetractionData(_Strict):
    retracts_event_id: UUID
    reason: NonEmpty


def _exactly_one_time(at: datetime | None, on: date | None) -> None:
    if at is None and on is None:
        raise ValueError(
            "one of occurred_at (instant with offset) or occurred_on (date) is required"
        )
    if at is not None and on is not None:
        raise ValueError("give occurred_at or occurred_on, not both")


class EnvelopeIn(_Strict):
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
