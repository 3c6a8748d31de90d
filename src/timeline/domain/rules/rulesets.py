"""Rulesets: the effective-dated parameters of the obligation rules, as data.

A :class:`Ruleset` is built from a plain mapping (the TOML files under ``timeline/rulesets`` are
read by the loader there; the domain does no I/O). Every parameter carries its confidence tag:
[C] confirmed, [P] partly confirmed, [R] recalled. [P]/[R] parameters may be overridden
(:meth:`Rulesets.with_overrides`), and obligations list the [P]/[R] parameters they used.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from timeline.domain.errors import NoRuleset

TAGS = ("C", "P", "R")
_HEADER = ("id", "in_force_from", "basis")


@dataclass(frozen=True)
class Ruleset:
    """The parameters in force from ``in_force_from`` until the next ruleset starts."""

    id: str
    in_force_from: date
    basis: str
    initial_interview_working_days: int
    initial_interview_repeat_after_months: int
    supplementary_conversations: int
    supplementary_interval_days: int
    supplementary_window_months: int
    supplementary_statuses: tuple[str, ...]
    job_search_conversation_interval_months: int
    job_search_conversation_statuses: tuple[str, ...]
    intensified_period_every_months: int
    intensified_period_months: int
    intensified_period_conversations: int
    intensified_period_anchor: str
    intensified_period_statuses: tuple[str, ...]
    intensified_period_meeting_kinds: tuple[str, ...]
    default_applications_per_period: int
    default_period_months: int
    requirement_statuses: tuple[str, ...]
    review_period_anchor: str
    laid_off_grace_months: int
    laid_off_requires_conversation: bool
    part_time_applications_per_period: int
    part_time_period_months: int
    counted_application_kinds: tuple[str, ...]
    offered_jobs_count: bool
    missed_appointment_ends_search: bool
    missed_appointment_reasons: tuple[str, ...]
    neglect_scale: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in (*_HEADER, "tags"))

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any]) -> Ruleset:
        """Build from ``{id, in_force_from, basis, parameters: {name: {value, tag}}}``; refuse
        missing or unknown parameters and unknown tags."""
        params: Mapping[str, Any] = doc["parameters"]
        names = set(cls.parameter_names())
        if missing := names - set(params):
            raise ValueError(f"ruleset {doc.get('id')}: missing parameters {sorted(missing)}")
        if unknown := set(params) - names:
            raise ValueError(f"ruleset {doc.get('id')}: unknown parameters {sorted(unknown)}")
        values: dict[str, Any] = {}
        tags: dict[str, str] = {}
        for name in sorted(names):
            entry = params[name]
            if entry.get("tag") not in TAGS:
                raise ValueError(f"ruleset {doc.get('id')}: {name} needs a tag in {TAGS}")
            tags[name] = str(entry["tag"])
            values[name] = _coerce(name, entry["value"])
        in_force = doc["in_force_from"]
        return cls(
            id=str(doc["id"]),
            in_force_from=in_force if isinstance(in_force, date) else date.fromisoformat(in_force),
            basis=str(doc["basis"]),
            tags=MappingProxyType(tags),
            **values,
        )

    def tag(self, name: str) -> str:
        return self.tags.get(name, "C")

    def assumptions(self, names: Iterable[str]) -> tuple[str, ...]:
        """``name=value [P]`` for each [P]/[R] parameter among ``names``. (Remembered by
        ``names`` on the ruleset, a frozen value: every obligation asks.)"""
        key = names if isinstance(names, tuple) else tuple(names)
        memo: dict[tuple[str, ...], tuple[str, ...]] | None = self.__dict__.get("_assumptions")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_assumptions", memo)  # a memo on a frozen value
        found = memo.get(key)
        if found is None:
            found = memo[key] = tuple(
                f"{self.id}.{n}={_show(getattr(self, n))} [{self.tag(n)}]"
                for n in key
                if self.tag(n) != "C"
            )
        return found

    def with_overrides(self, overrides: Mapping[str, Any]) -> Ruleset:
        """A copy with [P]/[R] parameters replaced; overriding a [C] parameter is refused."""
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in self.parameter_names():
                raise ValueError(f"unknown ruleset parameter {name!r}")
            if self.tag(name) == "C":
                raise ValueError(f"{self.id}.{name} is confirmed [C] and cannot be overridden")
            changes[name] = _coerce(name, value)
        return dataclasses.replace(self, **changes)


def _coerce(name: str, value: Any) -> Any:
    expected = {f.name: f.type for f in dataclasses.fields(Ruleset)}[name]
    if expected == "tuple[str, ...]":
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be a list of strings")
        return tuple(value)
    kinds: dict[str, type] = {"int": int, "bool": bool, "str": str}
    kind = kinds[str(expected)]
    if type(value) is not kind:
        raise ValueError(f"{name} must be {kind.__name__}, not {value!r}")
    return value


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value).lower()


class Rulesets:
    """The rulesets known, sorted by date, with "the ruleset in force on day D".

    ``overrides`` maps ``name`` (every ruleset) or ``"<ruleset id>.<name>"`` (one ruleset) to a
    value for a [P]/[R] parameter."""

    def __init__(
        self, rulesets: Iterable[Ruleset], overrides: Mapping[str, Any] | None = None
    ) -> None:
        items = sorted(rulesets, key=lambda r: r.in_force_from)
        if not items:
            raise ValueError("at least one ruleset is required")
        overrides = overrides or {}
        ids = {r.id for r in items}
        for key in overrides:
            if "." in key and key.split(".", 1)[0] not in ids:
                raise ValueError(f"override {key!r} names no known ruleset")
        for key in (k for k in overrides if "." not in k):
            if key in Ruleset.parameter_names() and all(r.tag(key) == "C" for r in items):
                raise ValueError(f"{key} is confirmed [C] in every ruleset; not overridable")
        self._items: tuple[Ruleset, ...] = tuple(
            r.with_overrides(_overrides_for(r, overrides)) for r in items
        )
        self._starts = [r.in_force_from for r in self._items]

    @property
    def all(self) -> tuple[Ruleset, ...]:
        return self._items

    def by_id(self, ruleset_id: str) -> Ruleset:
        for r in self._items:
            if r.id == ruleset_id:
                return r
        raise KeyError(ruleset_id)

    def in_force_on(self, day: date) -> Ruleset | None:
        """The ruleset in force on ``day``; None before the first one."""
        i = bisect.bisect_right(self._starts, day)
        return self._items[i - 1] if i else None

    def covering(self, day: date) -> Ruleset:
        """The ruleset in force on ``day``; :class:`NoRuleset` (naming the first ruleset's
        day) before the first one."""
        found = self.in_force_on(day)
        if found is None:
            first = self._items[0]
            raise NoRuleset(day, first.in_force_from, first.id)
        return found


def _overrides_for(ruleset: Ruleset, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Plain names apply where the parameter is [P]/[R]; ``id.name`` applies to that ruleset
    (and is refused for a [C] parameter)."""
    plain = {
        k: v
        for k, v in overrides.items()
        if "." not in k and not (k in Ruleset.parameter_names() and ruleset.tag(k) == "C")
    }
    prefix = ruleset.id + "."
    plain.update({k[len(prefix) :]: v for k, v in overrides.items() if k.startswith(prefix)})
    return plain


def as_rulesets(rulesets: Rulesets | Sequence[Ruleset]) -> Rulesets:
    return rulesets if isinstance(rulesets, Rulesets) else Rulesets(rulesets)


def in_force_instead(rulesets: Rulesets, ruleset: Ruleset, first: date, last: date) -> Rulesets:
    """``rulesets`` as if ``ruleset`` had been in force from ``first`` to ``last`` (both
    included) instead of the rulesets that were; before ``first`` and after ``last`` the
    rulesets that were in force apply, the one in force on the day after ``last`` resuming
    then. ``ruleset``'s own ``in_force_from`` is ignored; it keeps its ``id``, so what it
    judges names it. For the what-if replay (docs/whatif.md)."""
    if last < first:
        raise ValueError(f"the window ends ({last}) before it starts ({first})")
    after = last + timedelta(days=1)
    items = [r for r in rulesets.all if r.in_force_from < first]
    items.append(dataclasses.replace(ruleset, in_force_from=first))
    resumes = rulesets.in_force_on(after)
    if resumes is not None and resumes.in_force_from <= last:
        items.append(dataclasses.replace(resumes, in_force_from=after))
    items.extend(r for r in rulesets.all if r.in_force_from > last)
    return Rulesets(items)
