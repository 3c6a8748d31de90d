"""Export one seeker's history for an auditor: ``events.jsonl`` (every event with both times,
position, digest and chain hash), ``report.html`` (the timeline on a time axis, with
obligations), ``verify_export.py`` (the standalone verifier, a copy of
:mod:`timeline.audit.verify_export`) and ``manifest.json`` (what was exported, the chain head
and the SHA-256 of every other file in the folder). ``python verify_export.py .`` inside the
folder verifies it offline with nothing but Python; the manifest's own SHA-256 is returned so
the caller can record it (the CLI puts it in the access log entry of the export)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
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
from timeline.render import render
from timeline.render.timeline import build_timeline
from timeline.results import HistoryEntry

VERIFIER = "verify_export.py"

CHAIN = (
    "per seeker: digest = SHA-256(canonical JSON of {event_id, seeker_id, type, occurred_at, "
    "occurred_on, actor, source, data}) as hex, prefixed 'jcs:' when the canonical JSON is RFC "
    "8785 (JCS, algorithm 2); bare hex (algorithm 1, older events): sorted keys, separators "
    "(',', ':'), UTF-8; hash(n) = SHA-256(hash(n-1) | seeker_id | version | recorded_at (UTC, "
    "microseconds) | digest as written, prefix included), hash(0) = 64 zeros; an event marked "
    "erased (the seeker's personal data was erased) has no payload: its link is recomputed "
    "from its digest as written"
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
        # the seeker's personal data was erased: events carry no payload (docs/erasure.md)
        "erased": any(e.erased for e in entries),
        "obligations_on": day.isoformat(),
    }
    report = render_report(manifest, entries, obligations)
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


def render_report(
    manifest: dict[str, Any],
    entries: Sequence[HistoryEntry],
    obligations: list[dict[str, Any]] | str,
) -> str:
    """The HTML report, self-contained (styles inline): the web view's timeline on a time
    axis, the events and the obligations of the day (:mod:`timeline.render`, one
    implementation); ``obligations`` is the list, or why there is none (no ruleset)."""
    on = date.fromisoformat(manifest["obligations_on"])
    as_of = datetime.fromisoformat(manifest["as_of"]) if manifest["as_of"] else None
    listed = [] if isinstance(obligations, str) else obligations
    view = build_timeline(entries, until=on, as_of=as_of, on=on, obligations=listed)
    return render(
        "report.html",
        manifest=manifest,
        view=view,
        obligations=view.obligations,
        no_obligations=obligations if isinstance(obligations, str) else None,
    )
