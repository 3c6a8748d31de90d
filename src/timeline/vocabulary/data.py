"""The ``data`` of each event type, one strict model per type (docs/events.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from timeline.domain.event_types import RECORDING_TYPES, EventType
from timeline.domain.identity import (
    InvalidIdentifier,
    validate_business_id,
    validate_municipality_code,
    validate_personal_identity_code,
)
from timeline.vocabulary.fields import (
    MAX_REQUIREMENT_PERIOD,
    ApplicationKind,
    ContactChannel,
    Day,
    EndReason,
    FreeText,
    Instant,
    LabourMarketStatus,
    MeetingKind,
    MissReason,
    Municipality,
    NonEmpty,
    PlanKind,
    ServiceType,
    StrictModel,
    Text,
)

# --- data models, one per type -------------------------------------------------------------


class JobSearchStartedData(StrictModel):
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


class CoachAssignedData(StrictModel):
    coach_id: NonEmpty
    team: NonEmpty | None = None


class LabourMarketStatusChangedData(StrictModel):
    labour_market_status: LabourMarketStatus


class ContactMadeData(StrictModel):
    channel: ContactChannel
    direction: Literal["outbound", "inbound"]
    purpose: NonEmpty | None = None


class MeetingScheduledData(StrictModel):
    meeting_id: NonEmpty
    kind: MeetingKind
    planned_at: Instant
    channel: ContactChannel | None = None


class MeetingHeldData(StrictModel):
    kind: MeetingKind
    channel: ContactChannel
    meeting_id: NonEmpty | None = None


class MeetingMissedData(StrictModel):
    meeting_id: NonEmpty | None = None
    kind: MeetingKind | None = None
    reason: MissReason

    @model_validator(mode="after")
    def _meeting_or_kind(self) -> MeetingMissedData:
        if self.meeting_id is None and self.kind is None:
            raise ValueError("either meeting_id or kind is required")
        return self


class EmploymentPlanAgreedData(StrictModel):
    plan_kind: PlanKind
    review_on: Day | None = None
    services_planned: list[NonEmpty] | None = Field(default=None, max_length=100)


class JobSearchRequirementSetData(StrictModel):
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


class ApplicationReportedData(StrictModel):
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


class ServiceReferredData(StrictModel):
    service_id: NonEmpty
    service_type: ServiceType
    provider: Literal["public", "private", "third_sector"] | None = None
    provider_name: NonEmpty | None = None


class ServiceStartedData(StrictModel):
    service_id: NonEmpty


class ServiceEndedData(StrictModel):
    service_id: NonEmpty
    end_reason: Literal["completed", "interrupted", "employed", "other"] | None = None


class DecisionRecordedData(StrictModel):
    decision_type: NonEmpty
    basis_event_ids: list[UUID] = Field(min_length=1, max_length=1000)
    text: Annotated[FreeText, Field(max_length=10_000)] | None = None


class JobSearchEndedData(StrictModel):
    reason: EndReason


class SeekerTransferredData(StrictModel):
    to_municipality: Municipality

    @field_validator("to_municipality")
    @classmethod
    def _three_digits(cls, value: str) -> str:
        return validate_municipality_code(value)


#: the data model of each type that records something new (the amendments have their own below)
DATA_MODELS: dict[EventType, type[StrictModel]] = {
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
