"""The public event vocabulary, version 1 (../shared/domain/EVENTS.md), as pydantic models.

This is the edge: everything a backend sends is parsed here (unknown fields and types rejected,
identity codes and business ids validated) and turned into a plain :class:`ParsedEvent` that the
domain understands. API schemas never double as stored events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from timeline.domain.errors import FieldError
from timeline.domain.identity import (
    InvalidIdentifier,
    validate_business_id,
    validate_municipality_code,
    validate_personal_identity_code,
)

HELSINKI = ZoneInfo("Europe/Helsinki")

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

NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]
Municipality = Annotated[str, Field(pattern=r"^[0-9]{3}$", examples=["398"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data models, one per type -------------------------------------------------------------


class JobSearchStartedData(_Strict):
    municipality: Municipality
    labour_market_status: LabourMarketStatus
    personal_identity_code: str | None = Field(
        default=None, description="validated, turned into person_ref, never stored"
    )
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    language: Annotated[str, Field(min_length=2, max_length=8)] | None = None
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
    planned_at: AwareDatetime
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
    review_on: date | None = None
    services_planned: list[NonEmpty] | None = None


class JobSearchRequirementSetData(_Strict):
    applications_per_period: int = Field(ge=0, le=4)
    period: Literal["month", "three_months"]
    valid_from: date
    valid_until: date | None = None
    grounds: NonEmpty | None = None

    @model_validator(mode="after")
    def _grounds_when_reduced(self) -> JobSearchRequirementSetData:
        if self.period == "month" and self.applications_per_period < 4 and not self.grounds:
            raise ValueError("grounds are required when the requirement is below 4 a month")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ApplicationReportedData(_Strict):
    applied_on: date
    kind: ApplicationKind
    employer_name: NonEmpty | None = None
    employer_business_id: str | None = None
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
    basis_event_ids: list[UUID] = Field(min_length=1)
    text: Annotated[str, Field(max_length=10_000)] | None = None


class JobSearchEndedData(_Strict):
    reason: EndReason


class SeekerTransferredData(_Strict):
    to_municipality: Municipality

    @field_validator("to_municipality")
    @classmethod
    def _three_digits(cls, value: str) -> str:
        return validate_municipality_code(value)


DATA_MODELS: dict[str, type[_Strict]] = {
    "job_search_started": JobSearchStartedData,
    "coach_assigned": CoachAssignedData,
    "labour_market_status_changed": LabourMarketStatusChangedData,
    "contact_made": ContactMadeData,
    "meeting_scheduled": MeetingScheduledData,
    "meeting_held": MeetingHeldData,
    "meeting_missed": MeetingMissedData,
    "employment_plan_agreed": EmploymentPlanAgreedData,
    "job_search_requirement_set": JobSearchRequirementSetData,
    "application_reported": ApplicationReportedData,
    "service_referred": ServiceReferredData,
    "service_started": ServiceStartedData,
    "service_ended": ServiceEndedData,
    "decision_recorded": DecisionRecordedData,
    "job_search_ended": JobSearchEndedData,
    "seeker_transferred": SeekerTransferredData,
}
CORRECTION_TYPES = ("correction", "retraction")
EVENT_TYPES: tuple[str, ...] = (*DATA_MODELS, *CORRECTION_TYPES)


class Actor(_Strict):
    id: NonEmpty
    role: NonEmpty
    organisation: NonEmpty


class Replacement(_Strict):
    """What a correction puts in place of the corrected event: a full type + data + time."""

    type: Literal[tuple(DATA_MODELS)]  # type: ignore[valid-type]
    occurred_at: AwareDatetime | None = None
    occurred_on: date | None = None
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
    occurred_at: AwareDatetime | None = None
    occurred_on: date | None = None
    actor: Actor
    source: NonEmpty | None = None
    expected_version: int | None = Field(default=None, ge=0)
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
    type: str
    occurred_at: str | None
    occurred_on: str
    actor: dict[str, str]
    source: str | None
    data: dict[str, Any]
    expected_version: int | None = None
    personal_identity_code: str | None = field(default=None, repr=False)


class EventValidationError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in errors))
        self.errors = errors


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
    type_: str, raw: dict[str, Any], context: dict[str, Any], prefix: str
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
    if env.type == "correction":
        try:
            corr = CorrectionData.model_validate(env.data, context=context)
        except ValidationError as exc:
            raise EventValidationError(_field_errors(exc, "data")) from None
        rep = corr.replacement
        rep_data, rep_code = _data(rep.type, rep.data, context, "data.replacement.data")
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
    elif env.type == "retraction":
        try:
            ret = RetractionData.model_validate(env.data, context=context)
        except ValidationError as exc:
            raise EventValidationError(_field_errors(exc, "data")) from None
        data = ret.model_dump(mode="json")
    else:
        data, code = _data(env.type, env.data, context, "data")
    return ParsedEvent(
        event_id=str(env.event_id),
        seeker_id=str(env.seeker_id),
        type=env.type,
        occurred_at=env.occurred_at.isoformat() if env.occurred_at else None,
        occurred_on=_occurred_on(env.occurred_at, env.occurred_on),
        actor=env.actor.model_dump(),
        source=env.source,
        data=data,
        expected_version=env.expected_version,
        personal_identity_code=code,
    )
