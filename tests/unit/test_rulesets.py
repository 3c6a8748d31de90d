"""Rulesets as data: the TOML files, the in-force look-up and [P]/[R] overrides."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from typing import Any

import pytest

from timeline.domain.errors import NoRuleset
from timeline.domain.rules import Ruleset, Rulesets
from timeline.rulesets import RULESET_IDS, default_rulesets, load_rulesets, ruleset_text


def test_the_five_rulesets_load_with_the_in_force_dates_of_rules_md() -> None:
    loaded = {r.id: r.in_force_from for r in load_rulesets()}
    assert loaded == {
        "FI-2022-05": date(2022, 5, 2),
        "FI-2022-07": date(2022, 7, 11),
        "FI-2025-01": date(2025, 1, 1),
        "FI-2026-01": date(2026, 1, 1),
        "FI-2026-03": date(2026, 3, 1),
    }
    assert tuple(loaded) == RULESET_IDS


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2022, 5, 1), None),
        (date(2022, 5, 2), "FI-2022-05"),
        (date(2022, 7, 10), "FI-2022-05"),
        (date(2022, 7, 11), "FI-2022-07"),
        (date(2024, 12, 31), "FI-2022-07"),
        (date(2025, 1, 1), "FI-2025-01"),
        (date(2025, 12, 31), "FI-2025-01"),
        (date(2026, 1, 1), "FI-2026-01"),
        (date(2026, 2, 28), "FI-2026-01"),
        (date(2026, 3, 1), "FI-2026-03"),
        (date(2040, 1, 1), "FI-2026-03"),
    ],
)
def test_the_ruleset_in_force_on_a_day_is_the_latest_started_on_or_before_it(
    day: date, expected: str | None
) -> None:
    found = default_rulesets().in_force_on(day)
    assert (found.id if found else None) == expected


def _values(name: str) -> list[Any]:
    return [getattr(r, name) for r in load_rulesets()]


def test_headline_parameters_follow_the_rules_table() -> None:
    assert _values("initial_interview_working_days") == [5, 5, 5, 10, 10]
    assert _values("supplementary_conversations") == [5, 5, 5, 0, 0]
    assert _values("intensified_period_every_months") == [6, 6, 6, 0, 0]
    assert _values("job_search_conversation_interval_months") == [3, 3, 3, 3, 3]
    assert _values("laid_off_requires_conversation") == [False, True, True, True, True]
    assert _values("part_time_applications_per_period") == [1, 1, 1, 4, 4]
    assert _values("part_time_period_months") == [3, 3, 3, 1, 1]
    assert _values("offered_jobs_count") == [True, True, True, False, False]
    assert _values("missed_appointment_ends_search") == [False, False, False, False, True]
    assert _values("default_applications_per_period") == [4, 4, 4, 4, 4]
    assert _values("neglect_scale")[-1] == ("7 days", "6-week work requirement")


@pytest.mark.parametrize("ruleset_id", RULESET_IDS)
def test_every_parameter_has_a_comment_with_its_source_and_the_same_tag(ruleset_id: str) -> None:
    lines = ruleset_text(ruleset_id).splitlines()
    params = tomllib.loads("\n".join(lines))["parameters"]
    assert set(params) == set(Ruleset.parameter_names())
    for i, line in enumerate(lines):
        match = re.match(r"^(\w+) = \{ value = .*, tag = \"([CPR])\" \}$", line)
        if not match:
            continue
        comment = re.match(r"^# \[([CPR])\] (.{10,})$", lines[i - 1])
        assert comment, f"{ruleset_id}: {match[1]} has no source comment"
        assert comment[1] == match[2], f"{ruleset_id}: {match[1]} tags differ"


def test_a_partly_confirmed_parameter_can_be_overridden_in_every_ruleset() -> None:
    rulesets = Rulesets(load_rulesets(), {"supplementary_interval_days": 10})
    assert {r.supplementary_interval_days for r in rulesets.all} == {10}


def test_a_plain_override_skips_rulesets_where_the_parameter_is_confirmed() -> None:
    rulesets = Rulesets(load_rulesets(), {"supplementary_conversations": 6})
    assert [r.supplementary_conversations for r in rulesets.all] == [6, 6, 6, 0, 0]


def test_an_override_can_name_one_ruleset() -> None:
    rulesets = Rulesets(
        load_rulesets(), {"FI-2022-05.intensified_period_anchor": "initial_interview"}
    )
    assert rulesets.by_id("FI-2022-05").intensified_period_anchor == "initial_interview"
    assert rulesets.by_id("FI-2025-01").intensified_period_anchor == "spell_start"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"initial_interview_working_days": 7}, "confirmed"),
        ({"FI-2026-01.initial_interview_working_days": 7}, "confirmed"),
        ({"FI-1999-01.supplementary_interval_days": 7}, "no known ruleset"),
        ({"no_such_parameter": 1}, "unknown"),
        ({"supplementary_interval_days": "14"}, "must be int"),
        ({"supplementary_statuses": "unemployed"}, "list of strings"),
        ({"laid_off_requires_conversation": 1}, "confirmed"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rulesets(load_rulesets(), overrides)


def test_assumptions_name_only_partly_confirmed_or_recalled_parameters_with_values() -> None:
    rs = default_rulesets().by_id("FI-2022-05")
    assert rs.assumptions(["initial_interview_working_days", "supplementary_interval_days"]) == (
        "FI-2022-05.supplementary_interval_days=14 [P]",
    )


def _doc(**parameters: Any) -> dict[str, Any]:
    doc = tomllib.loads(ruleset_text("FI-2022-05"))
    doc["parameters"].update(parameters)
    return doc


def test_a_ruleset_missing_a_parameter_is_refused() -> None:
    doc = _doc()
    del doc["parameters"]["offered_jobs_count"]
    with pytest.raises(ValueError, match="missing parameters"):
        Ruleset.from_mapping(doc)


def test_a_ruleset_with_an_unknown_parameter_or_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown parameters"):
        Ruleset.from_mapping(_doc(extra={"value": 1, "tag": "C"}))
    with pytest.raises(ValueError, match="needs a tag"):
        Ruleset.from_mapping(_doc(offered_jobs_count={"value": True, "tag": "X"}))


def test_an_empty_registry_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Rulesets([])


def test_a_day_before_the_first_ruleset_is_refused_naming_the_first_one() -> None:
    rulesets = default_rulesets()
    assert rulesets.covering(date(2022, 5, 2)).id == "FI-2022-05"
    with pytest.raises(NoRuleset) as refused:
        rulesets.covering(date(2022, 5, 1))
    assert refused.value.earliest == date(2022, 5, 2)
    assert str(refused.value) == (
        "no ruleset covers 2022-05-01: obligations are known from 2022-05-02 "
        "(FI-2022-05, the first ruleset in force) on"
    )
