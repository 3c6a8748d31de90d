"""The timeline view of one seeker, as known at a moment: spells as bands and events as marks
by kind on a horizontal time axis (geometry here, drawn by ``templates/timeline.html``), the
events as table rows with corrections and retractions linked to what they change, and the
obligations of a day sorted by due date. Used by the web view (:mod:`timeline.api.ui`) and by the
exported ``report.html`` (:mod:`timeline.audit.export`): one implementation."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, Spell, effective_facts, spells
from timeline.domain.zone import HELSINKI
from timeline.render.axis import Axis, Tick, YearLabel
from timeline.render.obligations import ObligationRow, obligation_rows
from timeline.results import HistoryEntry

WIDTH, LEFT, RIGHT = 1180, 150, 1165
LANE_PX, TOP = 30, 8

#: lane, colour and shape of each event type (shapes: circle, square, diamond, up, down, bar)
STYLE: Mapping[str, tuple[str, str, str]] = {
    "job_search_started": ("Registration", "#2e7d32", "up"),
    "job_search_ended": ("Registration", "#6d4c41", "down"),
    "seeker_transferred": ("Registration", "#6a1b9a", "diamond"),
    "labour_market_status_changed": ("Registration", "#00838f", "circle"),
    "coach_assigned": ("Registration", "#ad1457", "square"),
    "contact_made": ("Meetings", "#64b5f6", "circle"),
    "meeting_scheduled": ("Meetings", "#90a4ae", "square"),
    "meeting_held": ("Meetings", "#1565c0", "circle"),
    "meeting_missed": ("Meetings", "#c62828", "diamond"),
    "employment_plan_agreed": ("Plans and decisions", "#2e7d32", "square"),
    "job_search_requirement_set": ("Plans and decisions", "#9e9d24", "diamond"),
    "decision_recorded": ("Plans and decisions", "#37474f", "up"),
    "application_reported": ("Applications", "#5d4037", "bar"),
    "service_referred": ("Services", "#ef6c00", "circle"),
    "service_started": ("Services", "#ef6c00", "up"),
    "service_ended": ("Services", "#ef6c00", "down"),
    "correction": ("Corrections", "#e65100", "diamond"),
    "retraction": ("Corrections", "#b71c1c", "down"),
}
LANES = (
    "Spells",
    "Obligations due",
    "Registration",
    "Meetings",
    "Plans and decisions",
    "Applications",
    "Services",
    "Corrections",
)
_HIDDEN_DATA = {"person_ref"}  # a keyed hash: no use to a reader


def shape_path(shape: str, x: float, y: float, r: float = 5.0) -> str:
    """An SVG path of a mark centred on (x, y)."""
    if shape == "square":
        return f"M{x - r + 1:.1f},{y - r + 1:.1f}h{2 * r - 2}v{2 * r - 2}h{2 - 2 * r}z"
    if shape == "diamond":
        return f"M{x:.1f},{y - r - 1:.1f}l{r + 1},{r + 1}l{-r - 1},{r + 1}l{-r - 1},{-r - 1}z"
    if shape == "up":
        return f"M{x:.1f},{y - r:.1f}l{r},{2 * r}h{-2 * r}z"
    if shape == "down":
        return f"M{x:.1f},{y + r:.1f}l{r},{-2 * r}h{-2 * r}z"
    if shape == "bar":
        return f"M{x - 1:.1f},{y - r - 2:.1f}h2v{2 * r + 4}h-2z"
    return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0z"


@dataclass(frozen=True)
class Mark:
    href: str
    type: str
    x: float
    y: float
    path: str
    colour: str
    status: str  # valid | superseded | void; due: an obligation
    changed: bool
    title: str


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    y: float
    label: str
    title: str
    open: bool


@dataclass(frozen=True)
class Link:
    """A dashed curve from a correction or retraction to the event it changes."""

    d: str
    colour: str


@dataclass(frozen=True)
class Marker:
    x: float
    label: str
    kind: str  # as_of | on


@dataclass
class EventRow:
    version: int
    event_id: str
    type: str
    occurred: str
    recorded: str
    late_days: int
    status: str
    what: str
    changes: int | None  # the version a correction or retraction changes
    superseded_by: list[int]
    voided_by: int | None
    hash: str
    changed: bool


@dataclass
class TimelineView:
    width: int
    height: int
    axis_y: float
    lanes: list[tuple[str, float]]
    bands: list[Band]
    marks: list[Mark]
    links: list[Link]
    ticks: list[Tick]
    years: list[YearLabel]
    markers: list[Marker]
    legend: list[tuple[str, str, str]]  # type, colour, path at the origin
    rows: list[EventRow]
    summary: dict[str, str] = field(default_factory=dict)
    #: the day the last spell shown started (obligations before it are history)
    spell_start: date | None = None
    obligations: list[ObligationRow] = field(default_factory=list)


def _occurred_day(entry: HistoryEntry) -> date:
    return entry.fact.occurred_on


def _what(type_: str, data: Mapping[str, Any], versions: Mapping[str, int]) -> str:
    """A line of what the event says (its data, with ids of the same timeline as versions)."""
    if type_ == "correction":
        rep = data.get("replacement", {})
        inner = _what(str(rep.get("type")), rep.get("data", {}), versions)
        return f"{rep.get('type')}: {inner} (reason: {data.get('reason')})"
    if type_ == "retraction":
        return f"reason: {data.get('reason')}"
    parts = []
    for key, raw in data.items():
        if key in _HIDDEN_DATA:
            continue
        value = raw
        if key == "basis_event_ids":
            value = ", ".join(f"v{versions[v]}" if v in versions else v[:8] for v in raw)
        elif isinstance(raw, list):
            value = ", ".join(str(v) for v in raw)
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def _summary(entries: Sequence[HistoryEntry]) -> dict[str, str]:
    """What the timeline says about the seeker (corrections and retractions applied)."""
    effective = effective_facts(e.fact for e in entries)
    out: dict[str, str] = {}
    found = spells(effective)
    if found:
        last = found[-1]
        out["spell"] = (
            f"open since {last.started_on}"
            if last.ended_on is None
            else f"{last.started_on} – {last.ended_on} ({last.end_reason})"
        )
    for fact in effective:
        if fact.type in (EventType.JOB_SEARCH_STARTED, EventType.SEEKER_TRANSFERRED):
            out["municipality"] = str(
                fact.data.get("municipality") or fact.data.get("to_municipality")
            )
        if "labour_market_status" in fact.data:
            out["labour market status"] = str(fact.data["labour_market_status"])
        if fact.type == EventType.COACH_ASSIGNED:
            out["coach"] = str(fact.data.get("coach_id"))
    return out


def build_timeline(
    entries: Sequence[HistoryEntry],
    *,
    until: date,
    as_of: datetime | None = None,
    on: date | None = None,
    changed: Collection[str] = (),
    obligations: Sequence[Mapping[str, Any]] = (),
    versions: Mapping[str, int] | None = None,
) -> TimelineView:
    """The view of ``entries`` (a history, as known at ``as_of`` when given) up to ``until``;
    ``changed``: ids of events whose status changed after ``as_of`` (highlighted);
    ``obligations``: those of the day ``on`` (rows, and marks at their due dates);
    ``versions``: event id → version for links (default: those of ``entries``)."""
    versions = versions or {e.index.event_id: e.index.version for e in entries}
    first = min((_occurred_day(e) for e in entries), default=until)
    last = max((_occurred_day(e) for e in entries), default=until)
    axis = Axis.covering(min(first, until), max(last, until), LEFT, RIGHT)
    lane_y = {name: TOP + i * LANE_PX + LANE_PX / 2 for i, name in enumerate(LANES)}
    axis_y = TOP + len(LANES) * LANE_PX + 4

    effective = effective_facts(e.fact for e in entries)
    found = spells(effective)
    bands = _bands(effective, found, axis, lane_y["Spells"])
    marks = _event_marks(entries, axis, lane_y, changed)
    links = _links(entries, marks)

    rows_due = obligation_rows(obligations, versions, found[-1].started_on if found else None)
    marks += _due_marks(rows_due, axis, lane_y["Obligations due"])

    markers = []
    if on is not None and axis.lo <= on < axis.hi:
        markers.append(Marker(axis.x(on), f"obligations on {on}", "on"))
    if as_of is not None:
        day = as_of.astimezone(HELSINKI).date()
        if axis.lo <= day < axis.hi:
            markers.append(Marker(axis.x(day), "as of", "as_of"))

    present = {e.index.type for e in entries}
    legend = [(t, s[1], shape_path(s[2], 7, 7)) for t, s in STYLE.items() if t in present]
    ticks, years = axis.ticks()
    rows = event_rows(entries, versions, changed)
    return TimelineView(
        width=WIDTH,
        height=int(axis_y + 44),
        axis_y=axis_y,
        lanes=[(name, lane_y[name]) for name in LANES],
        bands=bands,
        marks=marks,
        links=links,
        ticks=ticks,
        years=years,
        markers=markers,
        legend=legend,
        rows=rows,
        summary=_summary(entries),
        spell_start=found[-1].started_on if found else None,
        obligations=rows_due,
    )


def _bands(effective: Sequence[Fact], found: Sequence[Spell], axis: Axis, y: float) -> list[Band]:
    """A band per job-search spell (open ones run to the axis' end)."""
    bands = []
    for spell in found:
        start = next((f for f in effective if f.event_id == spell.start_event_id), None)
        municipality = str(start.data.get("municipality")) if start else "?"
        x0 = axis.x(spell.started_on)
        x1 = axis.x_end(spell.ended_on) if spell.ended_on else axis.right
        ends = f"ended {spell.ended_on} ({spell.end_reason})" if spell.ended_on else "open"
        label = f"{municipality} · {spell.started_on}" if x1 - x0 > 110 else ""
        title = f"job-search spell from {spell.started_on}, {ends}; municipality {municipality}"
        bands.append(Band(x0, max(x1 - x0, 2.0), y - 9, label, title, not spell.ended_on))
    return bands


def _event_marks(
    entries: Sequence[HistoryEntry],
    axis: Axis,
    lane_y: Mapping[str, float],
    changed: Collection[str],
) -> list[Mark]:
    """A mark per event, in its lane at the day it happened (a few stacked on one day)."""
    marks: list[Mark] = []
    taken: dict[tuple[str, int], int] = {}
    for e in entries:
        lane, colour, shape = STYLE.get(e.index.type, ("Registration", "#455a64", "circle"))
        x = (axis.x(e.fact.occurred_on) + axis.x_end(e.fact.occurred_on)) / 2
        slot = (lane, round(x / 4))
        nth = taken.get(slot, 0)
        taken[slot] = nth + 1
        y = lane_y[lane] + (0, -7, 7, -3, 3)[nth % 5]
        when = e.fact.occurred_at.isoformat() if e.fact.occurred_at else e.fact.occurred_on
        title = f"v{e.index.version} {e.index.type}, occurred {when}, recorded " + (
            e.index.recorded_at.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")
        )
        if e.status != "valid":
            title += f" ({e.status})"
        marks.append(
            Mark(
                f"#v{e.index.version}",
                e.index.type,
                round(x, 1),
                y,
                shape_path(shape, x, y),
                colour,
                e.status,
                e.index.event_id in changed,
                title,
            )
        )
    return marks


def _links(entries: Sequence[HistoryEntry], marks: Sequence[Mark]) -> list[Link]:
    """A dashed curve from each correction or retraction to the event it changes."""
    by_id = {e.index.event_id: m for e, m in zip(entries, marks, strict=True)}
    links = []
    for e, a in zip(entries, marks, strict=True):
        target = e.fact.data.get("corrects_event_id") or e.fact.data.get("retracts_event_id")
        b = by_id.get(str(target)) if target is not None else None
        if b is None:
            continue
        mid = min(a.y, b.y) - 14
        d = f"M{a.x},{a.y} Q{(a.x + b.x) / 2:.1f},{mid:.1f} {b.x},{b.y}"
        links.append(Link(d, STYLE[e.index.type][1]))
    return links


def _due_marks(rows: Sequence[ObligationRow], axis: Axis, y: float) -> list[Mark]:
    """A mark per obligation at its due date (a flag at its period's end), by status colour."""
    out = []
    for row in rows:
        if not row.day or not axis.lo <= date.fromisoformat(row.day) < axis.hi:
            continue
        x = axis.x(date.fromisoformat(row.day))
        title = f"{row.kind} due {row.day}: {row.status} ({row.rule})"
        out.append(
            Mark(
                f"#{row.anchor}",
                row.kind,
                x,
                y,
                shape_path("square", x, y, 4),
                row.colour,
                "due",
                False,
                title,
            )
        )
    return out


#: what an erased seeker's event says in the table (docs/erasure.md)
ERASED = "erased: the personal data of this seeker was destroyed"


def event_rows(
    entries: Sequence[HistoryEntry], versions: Mapping[str, int], changed: Collection[str]
) -> list[EventRow]:
    """Table rows of ``entries``; ``versions``: event id → version, for the links."""
    return [_row(e, versions, changed) for e in entries]


def _row(e: HistoryEntry, versions: Mapping[str, int], changed: Collection[str]) -> EventRow:
    d = e.to_dict()
    target = e.fact.data.get("corrects_event_id") or e.fact.data.get("retracts_event_id")
    return EventRow(
        version=e.index.version,
        event_id=e.index.event_id,
        type=e.index.type,
        occurred=str(d["occurred_at"] or d["occurred_on"]),
        recorded=str(d["recorded_at"]),
        late_days=int(d["recorded_late_days"]),
        status=e.status,
        what=ERASED if e.erased else _what(e.index.type, e.fact.data, versions),
        changes=versions.get(str(target)) if target is not None else None,
        superseded_by=[versions[i] for i in e.superseded_by if i in versions],
        voided_by=versions.get(e.voided_by) if e.voided_by else None,
        hash=e.index.hash,
        changed=e.index.event_id in changed,
    )
