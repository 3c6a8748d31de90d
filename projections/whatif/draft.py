"""A ruleset written by a user (``timeline whatif --ruleset-file draft.toml``): the schema of
``src/timeline/rulesets/*.toml``, checked key by key so that every problem is named with its key
and the reason, all at once, before anything is evaluated."""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, get_args

from timeline.domain.rules import TAGS, Ruleset
from timeline.vocabulary import ApplicationKind, LabourMarketStatus, MeetingKind, MissReason


class DraftError(ValueError):
    """A draft ruleset refused: ``problems`` are ``key: reason`` texts."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        shown = "".join(f"\n  {p}" for p in problems)
        super().__init__(f"{source} is not a usable ruleset ({len(problems)} problem(s)):{shown}")


_STATUSES = frozenset(get_args(LabourMarketStatus))
#: the words a parameter's list or text may hold
CHOICES: Mapping[str, Collection[str]] = {
    "supplementary_statuses": _STATUSES,
    "job_search_conversation_statuses": _STATUSES,
    "intensified_period_statuses": _STATUSES,
    "requirement_statuses": _STATUSES,
    "intensified_period_meeting_kinds": frozenset(get_args(MeetingKind)),
    "counted_application_kinds": frozenset(get_args(ApplicationKind)),
    "missed_appointment_reasons": frozenset(get_args(MissReason)),
    "intensified_period_anchor": ("spell_start", "initial_interview"),
    "review_period_anchor": ("plan", "calendar_month"),
}
#: whole-number parameters that count lengths of time: 0 would make a period or a chain empty
AT_LEAST_ONE = frozenset(
    {
        "supplementary_interval_days",
        "supplementary_window_months",
        "job_search_conversation_interval_months",
        "intensified_period_months",
        "default_period_months",
        "part_time_period_months",
    }
)
_TYPES = {f.name: str(f.type) for f in dataclasses.fields(Ruleset)}
_HEADER = ("id", "in_force_from", "basis", "parameters")


def parse_draft(text: str, source: str, shipped: Collection[str] = ()) -> Ruleset:
    """The ruleset of a draft's TOML ``text``; :class:`DraftError` naming every problem.
    ``shipped`` are the shipped rulesets' ids, which a draft may not take (what it judges would
    be mistaken for the law in force)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DraftError(source, [f"(file): not TOML: {exc}"]) from None
    problems = _header(doc, shipped)
    params = doc.get("parameters")
    if isinstance(params, dict):
        problems += _parameters(params)
    if problems:
        raise DraftError(source, problems)
    try:
        return Ruleset.from_mapping(doc)
    except (ValueError, KeyError, TypeError) as exc:  # checked above; kept as a last guard
        raise DraftError(source, [str(exc)]) from None


def _header(doc: Mapping[str, Any], shipped: Collection[str]) -> list[str]:
    problems = [
        f"{k}: unknown key (a ruleset has {', '.join(_HEADER)})" for k in doc if k not in _HEADER
    ]
    rid = doc.get("id")
    if not isinstance(rid, str) or not rid.strip():
        problems.append('id: missing or empty; name the draft, e.g. id = "DRAFT-2027-01"')
    elif rid in shipped:
        problems.append(
            f"id: {rid!r} is a shipped ruleset's id; give the draft its own (e.g. DRAFT-{rid})"
        )
    day = doc.get("in_force_from")
    if not isinstance(day, date):
        problems.append(
            "in_force_from: missing or not a date (write in_force_from = 2027-01-01); "
            "the what-if window decides where it applies"
        )
    if not isinstance(doc.get("basis"), str):
        problems.append('basis: missing or not text (e.g. basis = "proposal, not law")')
    if not isinstance(doc.get("parameters"), dict):
        problems.append("parameters: missing or not a table ([parameters])")
    return problems


def _parameters(params: Mapping[str, Any]) -> list[str]:
    names = Ruleset.parameter_names()
    problems = []
    for name in sorted(set(params) - set(names)):
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.append(f"parameters.{name}: unknown parameter{hint}")
    for name in names:
        key = f"parameters.{name}"
        if name not in params:
            problems.append(f"{key}: missing (every parameter is required)")
            continue
        entry = params[name]
        if not isinstance(entry, dict):
            problems.append(f'{key}: write {{ value = ..., tag = "P" }}, not {entry!r}')
            continue
        if extra := sorted(set(entry) - {"value", "tag"}):
            problems.append(f"{key}: unknown key(s) {', '.join(extra)} (only value and tag)")
        if entry.get("tag") not in TAGS:
            problems.append(
                f"{key}.tag: must be one of {', '.join(TAGS)}, not {entry.get('tag')!r}"
            )
        if "value" not in entry:
            problems.append(f"{key}.value: missing")
        elif (reason := _value_problem(name, entry["value"])) is not None:
            problems.append(f"{key}.value: {reason}")
    return problems


def _value_problem(name: str, value: Any) -> str | None:
    expected = _TYPES[name]
    allowed = CHOICES.get(name)
    if expected == "int":
        least = 1 if name in AT_LEAST_ONE else 0
        if type(value) is not int or value < least:
            return f"must be a whole number of at least {least}, not {value!r}"
        return None
    if expected == "bool":
        return None if type(value) is bool else f"must be true or false, not {value!r}"
    if expected == "str":
        if not isinstance(value, str):
            return f"must be text, not {value!r}"
        if allowed is not None and value not in allowed:
            return f"must be one of {', '.join(sorted(allowed))}, not {value!r}"
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"must be a list of text, not {value!r}"
    if allowed is not None and (bad := [v for v in value if v not in allowed]):
        return f"unknown {', '.join(map(repr, bad))}; known: {', '.join(sorted(allowed))}"
    return None
