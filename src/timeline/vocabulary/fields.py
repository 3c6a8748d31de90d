"""The vocabulary's shared edge types: the closed sets of codes, the plausible ranges of dates and
times (docs/events.md, "Ranges"), text without control characters, and the strict base model."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
)
from pydantic_core import PydanticCustomError

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


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
