"""The obligations of a day as table rows: sorted by due date, coloured by status, each with
the events it rests on (drawn beside the timeline by ``templates/timeline.html``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

STATUS_COLOUR = {
    "met": "#2e7d32",
    "met_late": "#ef6c00",
    "overdue": "#c62828",
    "open": "#1565c0",
    "not_required": "#757575",
}


@dataclass
class ObligationRow:
    kind: str
    rule: str
    ruleset: str
    status: str
    colour: str
    due_on: str
    met_on: str
    days_late: str
    period: str
    basis: list[tuple[int | None, str]]  # (version if known, short event id)
    assumptions: list[str]
    consequence: str | None
    earlier: bool  # of a spell before ``since``
    anchor: str  # the row's id, which its mark on the time axis links to
    day: str  # the day it is drawn at: its due date, or a flag's period end


def obligation_rows(
    obligations: Sequence[Mapping[str, Any]],
    versions: Mapping[str, int],
    since: date | None = None,
) -> list[ObligationRow]:
    """Obligations sorted by due date (those without one last), each with its status colour and
    the events it rests on (as versions of the timeline shown, where known); those falling
    before ``since`` (the last spell's start) are marked ``earlier``."""

    def key(o: Mapping[str, Any]) -> tuple[str, str]:
        return (o.get("due_on") or o.get("period_end") or "9999", o["kind"])

    rows: list[ObligationRow] = []
    for o in sorted(obligations, key=key):
        period = (
            f"{o['period_start']} – {o['period_end']}"
            if o.get("period_start") and o.get("period_end")
            else ""
        )
        counted = f" ({o['counted']} of {o['required']})" if o.get("required") is not None else ""
        rows.append(
            ObligationRow(
                kind=o["kind"],
                rule=o["rule"],
                ruleset=o["ruleset"],
                status=o["status"],
                colour=STATUS_COLOUR.get(o["status"], "#37474f"),
                due_on=o.get("due_on") or "",
                met_on=o.get("met_on") or "",
                days_late="" if o.get("days_late") is None else str(o["days_late"]),
                period=period + counted,
                basis=[(versions.get(i), i[:8]) for i in o.get("basis_event_ids", [])],
                assumptions=list(o.get("assumptions", [])),
                consequence=o.get("consequence"),
                earlier=since is not None and key(o)[0] < since.isoformat(),
                anchor=f"o{len(rows) + 1}",
                day=o.get("due_on") or o.get("period_end") or "",
            )
        )
    return rows
