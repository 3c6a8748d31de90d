"""A draft ruleset (``--ruleset-file``): the shipped schema, every problem named by its key and
the reason, all at once."""

from __future__ import annotations

import re

import pytest

from projections.whatif import DraftError, parse_draft
from timeline.rulesets import RULESET_IDS, ruleset_text


def draft(**replace: str) -> str:
    """FI-2026-01's file as a draft named DRAFT-2027, with lines replaced by parameter name."""
    text = ruleset_text("FI-2026-01").replace('id = "FI-2026-01"', 'id = "DRAFT-2027"')
    for name, line in replace.items():
        text = re.sub(rf"(?m)^{name} = .*$", line, text)
    return text


def problems(text: str) -> list[str]:
    with pytest.raises(DraftError) as caught:
        parse_draft(text, "draft.toml", shipped=RULESET_IDS)
    assert str(caught.value).startswith("draft.toml is not a usable ruleset")
    return caught.value.problems


def test_a_copy_of_a_shipped_file_under_its_own_id_is_a_ruleset() -> None:
    text = draft(
        initial_interview_working_days='initial_interview_working_days = { value = 15, tag = "P" }'
    )
    ruleset = parse_draft(text, "draft.toml", shipped=RULESET_IDS)
    assert (ruleset.id, ruleset.initial_interview_working_days) == ("DRAFT-2027", 15)
    assert ruleset.tag("initial_interview_working_days") == "P"


def test_every_problem_is_named_with_its_key_and_reason() -> None:
    found = problems(
        draft(
            initial_interview_working_days=(
                'initial_interview_working_days = { value = "10", tag = "C" }'
            ),
            default_period_months='default_period_months = { value = 0, tag = "C" }',
            supplementary_statuses='supplementary_statuses = { value = ["jobless"], tag = "P" }',
            review_period_anchor='review_period_anchor = { value = "weekly", tag = "X" }',
            offered_jobs_count='offered_job_count = { value = false, tag = "C" }',
        )
    )
    assert found == [
        "parameters.offered_job_count: unknown parameter; did you mean offered_jobs_count?",
        "parameters.initial_interview_working_days.value: must be a whole number of at least "
        "0, not '10'",
        "parameters.supplementary_statuses.value: unknown 'jobless'; known: employed, laid_off, "
        "outside_labour_force, part_time, student, unemployed",
        "parameters.default_period_months.value: must be a whole number of at least 1, not 0",
        "parameters.review_period_anchor.tag: must be one of C, P, R, not 'X'",
        "parameters.review_period_anchor.value: must be one of calendar_month, plan, not 'weekly'",
        "parameters.offered_jobs_count: missing (every parameter is required)",
    ]


def test_a_shipped_id_is_refused_so_a_draft_is_never_taken_for_the_law() -> None:
    assert problems(ruleset_text("FI-2026-01")) == [
        "id: 'FI-2026-01' is a shipped ruleset's id; give the draft its own (e.g. DRAFT-FI-2026-01)"
    ]


def test_the_header_and_the_shape_of_an_entry() -> None:
    text = draft(neglect_scale="neglect_scale = 3")
    text = text.replace("in_force_from = 2026-01-01", 'in_force_from = "soon"')
    assert problems("owner = 'me'\n" + text) == [
        "owner: unknown key (a ruleset has id, in_force_from, basis, parameters)",
        "in_force_from: missing or not a date (write in_force_from = 2027-01-01); the what-if "
        "window decides where it applies",
        'parameters.neglect_scale: write { value = ..., tag = "P" }, not 3',
    ]


def test_text_that_is_not_toml_says_where() -> None:
    [problem] = problems("id = \n")
    assert problem.startswith("(file): not TOML: ") and "line 1" in problem


def test_no_parameters_table() -> None:
    assert problems('id = "D"\nin_force_from = 2027-01-01\nbasis = "x"\n') == [
        "parameters: missing or not a table ([parameters])"
    ]
