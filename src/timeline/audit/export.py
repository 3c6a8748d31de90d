"""Export one seeker's history for an auditor: ``events.jsonl`` (every event with both times,
position, digest and chain hash), ``report.html`` (the timeline on a time axis, with
obligations), ``verify_export.py`` (the standalone verifier, a copy of
:mod:`timeline.audit.verify_export`) and ``manifest.json`` (what was exported, the chain head
and the SHA-256 of every other file in the folder). ``python verify_export.py .`` inside the
folder verifies it offline with nothing but Python; the manifest's own SHA-256 is returned so
the caller can record it (the CLI puts it in the access log entry of the export)."""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from projections.obligations import ObligationsView
from timeline.application import TimelineApp
from timeline.domain.canonical import iso_utc
from timeline.domain.errors import NoRuleset
from timeline.domain.zone import HELSINKI

VERIFIER = "verify_export.py"

CHAIN = (
    "per seeker: digest = SHA-256(canonical JSON of {event_id, seeker_id, type, occurred_at, "
    "occurred_on, actor, source, data}); hash(n) = SHA-256(hash(n-1) | seeker_id | version | "
    "recorded_at (UTC, microseconds) | digest), hash(0) = 64 zeros; canonical JSON = sorted "
    "keys, separators (',', ':'), UTF-8"
)


@dataclass(frozen=True)
class Exported:
    directory: Path
    manifest: dict[str, Any]
    #: SHA-256 of manifest.json: record it where the reader can check it (the access log)
    manifest_sha256: str


def verifier_source() -> bytes:
    """The standalone verifier, as copied into every export folder."""
    return files("timeline.audit").joinpath(VERIFIER).read_bytes()


def export_seeker(
    app: TimelineApp,
    obligations_view: ObligationsView,
    seeker_id: str,
    out: Path,
    *,
    as_of: datetime | None = None,
    on: date | None = None,
) -> Exported:
    entries = app.history(seeker_id, as_of=as_of)
    lines = []
    for e in entries:
        item = e.to_dict()
        item["recorded_at"] = iso_utc(e.index.recorded_at)
        lines.append(json.dumps(item, ensure_ascii=False, sort_keys=True))
    body = ("\n".join(lines) + "\n").encode("utf-8")
    day = on or (as_of or app.clock()).astimezone(HELSINKI).date()
    obligations: list[dict[str, Any]] | str
    try:
        obligations = obligations_view.for_seeker(seeker_id, day, as_of=as_of)
    except NoRuleset as exc:  # a day before the first ruleset: say so in the report
        obligations = str(exc)
    manifest: dict[str, Any] = {
        "seeker_id": seeker_id,
        "as_of": iso_utc(as_of) if as_of else None,
        "generated_at": iso_utc(app.clock()),
        "events": len(entries),
        "first_position": entries[0].index.position if entries else None,
        "last_position": entries[-1].index.position if entries else None,
        "chain_head": entries[-1].index.hash if entries else None,
        "chain": CHAIN,
        "obligations_on": day.isoformat(),
    }
    report = render_report(manifest, [e.to_dict() for e in entries], obligations)
    contents = {
        "events.jsonl": body,
        "report.html": report.encode("utf-8"),
        VERIFIER: verifier_source(),
    }
    manifest["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    out.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (out / name).write_bytes(data)
    written = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    (out / "manifest.json").write_bytes(written)
    return Exported(out, manifest, hashlib.sha256(written).hexdigest())


_STATUS_COLOUR = {
    "met": "#2e7d32",
    "met_late": "#ef6c00",
    "overdue": "#c62828",
    "open": "#1565c0",
    "not_required": "#757575",
    "valid": "#37474f",
    "superseded": "#ef6c00",
    "void": "#9e9e9e",
}


def _when(e: dict[str, Any]) -> datetime:
    if e["occurred_at"]:
        return datetime.fromisoformat(e["occurred_at"])
    return datetime.fromisoformat(e["occurred_on"]).replace(tzinfo=HELSINKI)


def _axis(events: list[dict[str, Any]]) -> str:
    """An SVG time axis: each event a dot at its occurred time, a line to its recorded time."""
    if not events:
        return "<p>No events.</p>"
    times = [_when(e) for e in events] + [datetime.fromisoformat(e["recorded_at"]) for e in events]
    lo, hi = min(times), max(times)
    span = max((hi - lo).total_seconds(), 1.0)
    width, row = 1000, 18

    def x(t: datetime) -> float:
        return 120 + (t - lo).total_seconds() / span * (width - 140)

    parts = [
        f'<svg width="{width}" height="{row * len(events) + 40}" role="img" '
        'aria-label="events on a time axis: dot = occurred, bar end = recorded">'
    ]
    for year in range(lo.year, hi.year + 2):
        t = datetime(year, 1, 1, tzinfo=HELSINKI)
        if lo <= t <= hi:
            parts.append(
                f'<line x1="{x(t):.0f}" x2="{x(t):.0f}" y1="0" '
                f'y2="{row * len(events) + 20}" stroke="#ddd"/><text x="{x(t) + 2:.0f}" '
                f'y="{row * len(events) + 34}" font-size="11">{year}</text>'
            )
    for i, e in enumerate(events):
        y = 14 + i * row
        occurred, recorded = _when(e), datetime.fromisoformat(e["recorded_at"])
        colour = _STATUS_COLOUR.get(e["status"], "#37474f")
        parts.append(
            f'<text x="0" y="{y + 4}" font-size="11">{html.escape(e["type"])}</text>'
            f'<line x1="{x(occurred):.1f}" x2="{x(recorded):.1f}" y1="{y}" y2="{y}" '
            f'stroke="#90a4ae" stroke-width="2"/><circle cx="{x(occurred):.1f}" '
            f'cy="{y}" r="4" fill="{colour}"><title>{html.escape(e["type"])} '
            f"occurred {html.escape(str(e['occurred_at'] or e['occurred_on']))}, "
            f"recorded {html.escape(e['recorded_at'])}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_report(
    manifest: dict[str, Any],
    events: list[dict[str, Any]],
    obligations: list[dict[str, Any]] | str,
) -> str:
    """The HTML report; ``obligations`` is the list, or why there is none (no ruleset)."""

    def cell(v: object) -> str:
        return f"<td>{html.escape('' if v is None else str(v))}</td>"

    rows = "".join(
        "<tr>"
        + cell(e["version"])
        + cell(e["type"])
        + cell(e["occurred_at"] or e["occurred_on"])
        + cell(e["recorded_at"])
        + cell(f"{e['recorded_late_days']} d")
        + f'<td style="color:{_STATUS_COLOUR.get(e["status"], "#000")}">{e["status"]}'
        + (f" by {', '.join(x[:8] for x in e['superseded_by'])}" if e["superseded_by"] else "")
        + (f" by {e['voided_by'][:8]}" if e["voided_by"] else "")
        + "</td>"
        + cell(e["hash"][:16] + "…")
        + "</tr>"
        for e in events
    )
    obls = (
        f'<tr><td colspan="6">{html.escape(obligations)}</td></tr>'
        if isinstance(obligations, str)
        else "".join(
            "<tr>" + cell(o["kind"]) + cell(o["due_on"]) + f'<td style="color:'
            f'{_STATUS_COLOUR.get(o["status"], "#000")}">{o["status"]}</td>'
            + cell(o["met_on"])
            + cell(o["days_late"])
            + cell(o["rule"])
            + "</tr>"
            for o in obligations
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Timeline {manifest["seeker_id"]}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#263238}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #cfd8dc;padding:3px 8px;
font-size:13px;text-align:left}}th{{background:#eceff1}}code{{font-size:12px}}</style></head>
<body><h1>Job seeker's timeline</h1>
<p>Seeker <code>{manifest["seeker_id"]}</code> — {manifest["events"]} events, as known at
{html.escape(str(manifest["as_of"] or manifest["generated_at"]))}. Chain head
<code>{manifest["chain_head"]}</code>.</p>
<h2>Checking this folder</h2><p>The folder holds <code>events.jsonl</code> (every event with
both times, position, digest and chain hash), this <code>report.html</code>,
<code>verify_export.py</code> (the verifier) and <code>manifest.json</code> (the SHA-256 of each
of the other files and the chain head). In the folder, run <code>python verify_export.py
.</code> (Python 3.11 or later, nothing else): it checks that every file is the one the
manifest lists and that nothing was added, recomputes every event's digest and the hash chain
up to the chain head, and prints the manifest's SHA-256. Then compare that SHA-256 with the
access log entry of this export, and the chain head with the service (<code>timeline
verify</code>) or the daily digests kept outside it. For independence, run a copy of the
verifier you obtained yourself (the timeline repository's <code>ops/verify_export.py</code>).
Times: occurred as the source gave it; recorded in UTC.</p>
<h2>Events on a time axis</h2><p>Dot: when it happened; grey bar to the right: until it was
recorded (backdated entries have long bars).</p>{_axis(events)}
<h2>Events</h2><table><tr><th>ver</th><th>type</th><th>occurred</th><th>recorded</th>
<th>late</th><th>status</th><th>hash</th></tr>{rows}</table>
<h2>Obligations as on {manifest["obligations_on"]}</h2><p>Calendar days late: to the day
they were met, to this day, or to the end of the job-search spell, whichever came first.</p>
<table><tr><th>kind</th><th>due</th>
<th>status</th><th>met</th><th>days late</th><th>rule</th></tr>{obls}</table>
</body></html>
"""
