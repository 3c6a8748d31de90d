"""The edge of the vocabulary, as a class: every date and time field has the documented plausible
range, every text field refuses control characters, every number is a JSON number. The fields
are found from the models themselves, so a field added later is held to the same rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from timeline.vocabulary import (
    DATA_MODELS,
    EARLIEST_DAY,
    EVENT_TYPES,
    LATEST_DAY,
    MAX_REQUIREMENT_PERIOD,
    Actor,
    CorrectionData,
    EnvelopeIn,
    JobSearchRequirementSetData,
    Replacement,
    RetractionData,
    parse_instant,
)

MODELS: list[type[BaseModel]] = [
    EnvelopeIn,
    Actor,
    Replacement,
    CorrectionData,
    RetractionData,
    *DATA_MODELS.values(),
]

BAD_DAYS = ["0001-01-01", "1989-12-31", "2100-01-01", "9999-12-31", 20250601, "2025-6-1"]
BAD_INSTANTS = [
    "0001-01-01T00:00:00+02:00",
    "9999-12-31T23:59:59-02:00",
    "1989-12-31T21:59:59+00:00",  # 23:59:59 on 31 Dec 1989 in Helsinki
    "2099-12-31T22:00:00+00:00",  # midnight of 1 Jan 2100 in Helsinki
    "2026-11-25T12:00:00",  # no offset
    "0001-01-01",
    1_700_000_000,
]
BAD_TEXT = ["\x00", "a\x00b", "\x07", "a\nb", "\t", "\x1b[31m", "\x7f", "\x85", "\ud800"]


def _fields(kind: str) -> Iterator[tuple[type[BaseModel], str, bool]]:
    """(model, field, is a list) for every field of ``kind`` (day, instant, text, integer)."""
    for model in MODELS:
        for name, prop in model.model_json_schema()["properties"].items():
            options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
            for option in options:
                many = option.get("type") == "array"
                item = option.get("items", {}) if many else option
                found = {
                    "date": "day",
                    "date-time": "instant",
                }.get(
                    item.get("format", ""),
                    {"string": "text", "integer": "integer"}.get(item.get("type", "")),
                )
                if found == kind:
                    yield model, name, many


def _errors_at(model: type[BaseModel], name: str, many: bool, value: Any) -> list[dict[str, Any]]:
    try:
        model.model_validate({name: [value] if many else value})
    except ValidationError as exc:
        loc = (name, 0) if many else (name,)
        return [dict(e) for e in exc.errors() if e["loc"] == loc]
    return []


def _ids(kind: str) -> list[str]:
    return [f"{m.__name__}.{n}" for m, n, _ in _fields(kind)]


def test_the_class_covers_every_field_a_reader_would_name() -> None:
    """A guard for the tests below: the walk finds the fields the issue names."""
    assert {
        "EnvelopeIn.occurred_on",
        "Replacement.occurred_on",
        "JobSearchRequirementSetData.valid_from",
        "JobSearchRequirementSetData.valid_until",
        "ApplicationReportedData.applied_on",
        "EmploymentPlanAgreedData.review_on",
    } <= set(_ids("day"))
    assert {
        "EnvelopeIn.occurred_at",
        "Replacement.occurred_at",
        "MeetingScheduledData.planned_at",
    } <= set(_ids("instant"))
    assert {
        "Actor.id",
        "Actor.role",
        "Actor.organisation",
        "EnvelopeIn.source",
        "CoachAssignedData.coach_id",
        "EmploymentPlanAgreedData.services_planned",
        "DecisionRecordedData.text",
        "CorrectionData.reason",
    } <= set(_ids("text"))
    assert {
        "EnvelopeIn.expected_version",
        "JobSearchRequirementSetData.applications_per_period",
        "JobSearchStartedData.birth_year",
    } <= set(_ids("integer"))


@pytest.mark.parametrize(("model", "name", "many"), list(_fields("day")), ids=_ids("day"))
def test_every_date_has_the_plausible_range(model: type[BaseModel], name: str, many: bool) -> None:
    for bad in BAD_DAYS:
        assert _errors_at(model, name, many, bad), f"{name} took {bad!r}"
    for good in (EARLIEST_DAY.isoformat(), "2025-06-01", LATEST_DAY.isoformat()):
        assert not _errors_at(model, name, many, good), f"{name} refused {good!r}"


@pytest.mark.parametrize(("model", "name", "many"), list(_fields("instant")), ids=_ids("instant"))
def test_every_time_has_an_offset_and_the_plausible_range(
    model: type[BaseModel], name: str, many: bool
) -> None:
    for bad in BAD_INSTANTS:
        assert _errors_at(model, name, many, bad), f"{name} took {bad!r}"
    for good in ("1989-12-31T22:00:00+00:00", "2025-06-01T12:00:00+03:00", "2025-06-01T09:00Z"):
        assert not _errors_at(model, name, many, good), f"{name} refused {good!r}"


@pytest.mark.parametrize(("model", "name", "many"), list(_fields("text")), ids=_ids("text"))
def test_every_text_refuses_control_characters(
    model: type[BaseModel], name: str, many: bool
) -> None:
    layout = model.__name__ == "DecisionRecordedData" and name == "text"  # free text
    for bad in BAD_TEXT:
        if layout and bad in ("a\nb", "\t"):
            continue
        assert _errors_at(model, name, many, bad), f"{name} took {bad!r}"
    for good in ("Äänekoski – ok", "x" if not layout else "line one\n\tline two\r\n"):
        kinds = {e["type"] for e in _errors_at(model, name, many, good)}
        assert "control_character" not in kinds, f"{name} refused {good!r}"


@pytest.mark.parametrize(("model", "name", "many"), list(_fields("integer")), ids=_ids("integer"))
def test_every_number_is_a_json_number_in_64_bits(
    model: type[BaseModel], name: str, many: bool
) -> None:
    least = model.model_json_schema()["properties"][name]
    least = next(o for o in least.get("anyOf", [least]) if o.get("type") == "integer")
    value = int(least.get("minimum", 0))  # a value in range, sent as another JSON type
    assert not _errors_at(model, name, many, value)
    for bad in (str(value), float(value), value == 1, 2**63):
        assert _errors_at(model, name, many, bad), f"{name} took {bad!r}"


def test_a_requirement_lasts_at_most_five_years() -> None:
    start = date(2025, 6, 1)

    def requirement(until: date) -> dict[str, Any]:
        return {
            "applications_per_period": 4,
            "period": "month",
            "valid_from": start.isoformat(),
            "valid_until": until.isoformat(),
        }

    JobSearchRequirementSetData.model_validate(requirement(start + MAX_REQUIREMENT_PERIOD))
    with pytest.raises(ValidationError, match="at most 1826"):
        JobSearchRequirementSetData.model_validate(
            requirement(start + MAX_REQUIREMENT_PERIOD + timedelta(days=1))
        )
    assert MAX_REQUIREMENT_PERIOD.days == 5 * 365 + 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2025-06-01T12:00:00", "has no UTC offset; write e.g. 2025-06-01T12:00:00+03:00"),
        ("0001-01-01T00:00:00+02:00", "is out of range"),
        ("soon", "is not an ISO 8601 time"),
    ],
)
def test_the_one_instant_parser_says_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_instant(text)


def test_the_vocabulary_document_names_every_type_field_and_range() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    for type_ in EVENT_TYPES:
        assert f"| `{type_}` |" in doc, type_
    for model in MODELS:
        for name in model.model_fields:
            assert f"`{name}`" in doc, f"{model.__name__}.{name}"
    for bound in (
        EARLIEST_DAY.isoformat(),
        LATEST_DAY.isoformat(),
        f"{MAX_REQUIREMENT_PERIOD.days:,}",
    ):
        assert bound in doc, bound


def test_every_relative_link_of_the_docs_stays_in_the_repository() -> None:
    """A reader who clones the repository has nothing outside it: every relative link of the
    README and docs/ leads to a file of the repository."""
    root = Path(__file__).parents[2].resolve()
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    links = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            links += 1
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(root) and resolved.exists(), (page.name, target)
    assert links > 10  # the pages do link to each other
