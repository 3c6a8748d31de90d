"""Erasure by crypto-shredding that keeps the proof (docs/erasure.md), on every store: the
register, verify with and without kept digests, histories and exports without payload,
appends refused, look-ups empty, statistics unchanged (also after a rebuild), tampering with
the register detected, reruns idempotent."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TOKENS, MakeServices, bearer, tokens_json
from tests.factories import VALID_CODE, envelope, event, new_seeker
from timeline.api import create_app
from timeline.audit.checks import verify_store
from timeline.audit.export import export_seeker
from timeline.audit.verify_export import main as verify_export
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.domain.errors import NotFound, SeekerGone
from timeline.domain.zone import HELSINKI
from timeline.erasure import Eraser
from timeline.group_commit import GroupCommitter
from timeline.settings import Settings

MONTHS = ("2025-01", "2025-12")


def _seeker(services: Services, code: str | None = VALID_CODE, municipality: str = "398") -> str:
    seeker = new_seeker()
    data: dict[str, Any] = {"municipality": municipality, "labour_market_status": "unemployed"}
    if code:
        data["personal_identity_code"] = code
    services.app.append(
        [
            event("job_search_started", seeker, data, on="2025-06-02"),
            event("coach_assigned", seeker, on="2025-06-03"),
            event(
                "contact_made",
                seeker,
                {"channel": "phone", "direction": "outbound", "purpose": "Anna asked about pay"},
                on="2025-06-04",
            ),
            event("meeting_held", seeker, on="2025-06-05"),
        ]
    )
    return seeker


def _erase(services: Services, seeker: str) -> Any:
    eraser = Eraser(services.app, services.erasures, services.clock)
    return eraser.erase(seeker, reason="wrongly registered", authority="DPO decision 7", actor="t")


def _shown(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("event_id", "version", "position", "type", "occurred_on", "recorded_at", "digest")
    return [tuple(e[k] for k in (*keys, "hash")) for e in entries]


def test_erase_keeps_the_proof_and_hides_the_payload(
    make_services: MakeServices, clock: FixedClock, tmp_path: Path
) -> None:
    services = make_services()
    gone, kept = _seeker(services), _seeker(services, code=None)
    before = [e.to_dict() for e in services.app.history(gone)]
    assert services.app.lookup_person(VALID_CODE) == [gone]
    clock.advance(days=1)
    day = (clock() - timedelta(days=1)).astimezone(HELSINKI).date()
    sealed = [services.digests.seal(day).to_dict()]

    outcome = _erase(services, gone)
    assert (outcome.already, outcome.entry.events, outcome.entry.last_version) == (False, 4, 4)
    assert outcome.entry.last_position == before[-1]["position"]

    after = [e.to_dict() for e in services.app.history(gone)]
    assert _shown(after) == _shown(before)  # type, times, position, digest, hash kept
    assert all(e["erased"] is True and e["data"] is None for e in after)
    assert all(e["erased"] is False for e in (x.to_dict() for x in services.app.history(kept)))
    assert services.app.lookup_person(VALID_CODE) == []

    report = verify_store(services.app, services.access_log, services.digests)
    assert report.ok, report.to_dict()
    assert report.to_dict()["erasure_register"] == "ok"
    with_digests = verify_store(
        services.app, services.access_log, services.digests, kept_digests=sealed
    )
    assert with_digests.ok, with_digests.to_dict()
    # the day of the erasure is sealed with the register's head (format 3), and verifies
    clock.advance(days=1)
    sealed.append(services.digests.seal(day + timedelta(days=1)).to_dict())
    assert sealed[-1]["format"] == 3 and sealed[-1]["erasure_seq"] == 1
    assert services.digests.check(sealed) == []

    # the export: types, times and digests, no payload; its offline verifier passes
    out = tmp_path / "export"
    exported = export_seeker(services.app, services.obligations, gone, out)
    lines = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert exported.manifest["erased"] is True
    assert [(x["type"], x["digest"], x["erased"], x["data"]) for x in lines] == [
        (b["type"], b["digest"], True, None) for b in before
    ]
    assert "Anna" not in (out / "events.jsonl").read_text()
    assert "Anna" not in (out / "report.html").read_text()
    assert verify_export(str(out)) == 0


def test_an_export_that_marks_a_seeker_erased_without_the_manifest_saying_so_fails(
    make_services: MakeServices, tmp_path: Path
) -> None:
    services = make_services()
    seeker = _seeker(services)
    out = tmp_path / "export"
    export_seeker(services.app, services.obligations, seeker, out)
    lines = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    lines[2]["data"]["purpose"] = "altered"
    lines[2]["erased"] = True  # hiding an edit behind the erased mark
    body = "".join(json.dumps(x, sort_keys=True) + "\n" for x in lines).encode()
    (out / "events.jsonl").write_bytes(body)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["events.jsonl"] = __import__("hashlib").sha256(body).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert verify_export(str(out)) == 1


def test_appends_for_an_erased_seeker_are_refused_and_nothing_is_written(
    make_services: MakeServices,
) -> None:
    services = make_services()
    seeker, other = _seeker(services), _seeker(services, code=None)
    _erase(services, seeker)
    stored = len(services.app.index.index_for_seeker(seeker))
    with pytest.raises(SeekerGone):
        services.app.append([event("coach_assigned", seeker)])
    # a batch with another seeker's event: all refused, nothing written
    with pytest.raises(SeekerGone):
        services.app.append([event("coach_assigned", other), event("coach_assigned", seeker)])
    assert len(services.app.index.index_for_seeker(other)) == 4
    client = TestClient(create_app(services))
    r = client.post("/v1/events", json=envelope("coach_assigned", seeker), headers=bearer("admin"))
    assert r.status_code == 410
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (problem["seeker_id"], problem["errors"][0]["loc"]) == (seeker, "[0].seeker_id")
    assert len(services.app.index.index_for_seeker(seeker)) == stored


def test_an_erasure_is_idempotent_and_unknown_seekers_are_not_found(
    make_services: MakeServices,
) -> None:
    services = make_services()
    seeker = _seeker(services)
    first = _erase(services, seeker)
    again = _erase(services, seeker)
    assert (again.already, again.entry) == (True, first.entry)
    assert [e.seeker_id for e in services.erasures.entries()] == [seeker]
    with pytest.raises(NotFound):
        _erase(services, new_seeker())
    assert len(services.erasures.entries()) == 1


def test_the_admin_route_erases_once_and_lists_the_register(make_services: MakeServices) -> None:
    services = make_services()
    seeker = _seeker(services)
    client = TestClient(create_app(services))
    body = {"seeker_id": seeker, "reason": "wrongly registered", "authority": "DPO decision 7"}
    first = client.post("/v1/admin/erasures", json=body, headers=bearer("admin"))
    assert first.status_code == 201
    assert (first.json()["actor"], first.json()["events"]) == ("admin:admin", 4)
    again = client.post("/v1/admin/erasures", json=body, headers=bearer("admin"))
    assert (again.status_code, again.json()["already_erased"]) == (200, True)
    unknown = client.post(
        "/v1/admin/erasures", json={**body, "seeker_id": new_seeker()}, headers=bearer("admin")
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    blank = client.post(
        "/v1/admin/erasures", json={**body, "reason": "  "}, headers=bearer("admin")
    )
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["loc"] == "reason"
    listed = client.get("/v1/admin/erasures", headers=bearer("admin")).json()
    assert [e["seeker_id"] for e in listed["entries"]] == [seeker]
    history = client.get(f"/v1/seekers/{seeker}/events", headers=bearer("admin")).json()
    assert {(e["erased"], e["data"] is None) for e in history["events"]} == {(True, True)}
    # the web view: the timeline still drawn and verified, no payload shown
    client.post(
        "/ui/login",
        data={"token": TOKENS["admin"][0], "purpose": "check", "next": "/ui"},
        follow_redirects=False,
    )
    page = client.get(f"/ui/seekers/{seeker}?on=2025-06-12")
    assert page.status_code == 200
    assert "personal data of this seeker was destroyed" in page.text
    assert "verified" in page.text
    assert "Anna asked about pay" not in page.text


def test_statistics_are_the_same_after_erasure_and_after_a_rebuild(
    make_services: MakeServices,
) -> None:
    services = make_services()
    seekers = [_seeker(services, code=None) for _ in range(6)]
    services.outcomes.catch_up()
    published = services.outcomes.monthly(*MONTHS)
    assert published
    for seeker in seekers[:3]:
        _erase(services, seeker)
    services.outcomes.catch_up()
    assert services.outcomes.monthly(*MONTHS) == published
    services.outcomes.rebuild(online=services.db.can_shadow)
    services.obligations.rebuild(online=services.db.can_shadow)
    assert services.outcomes.monthly(*MONTHS) == published


def _tamper(services: Services, sql: str) -> None:
    """Run ``sql`` on the side database with the register's triggers out of the way."""
    db = services.db
    if db.dialect == "postgres":
        with db.connection() as conn:
            conn.execute("ALTER TABLE timeline_erasures DISABLE TRIGGER USER")
            conn.execute(sql)
        return
    with db.transaction() as tx:
        tx.execute("DROP TRIGGER IF EXISTS timeline_erasures_no_update")
        tx.execute("DROP TRIGGER IF EXISTS timeline_erasures_no_delete")
        tx.execute(sql)


def test_the_register_is_append_only_and_tampering_is_detected(
    make_services: MakeServices, clock: FixedClock
) -> None:
    services = make_services()
    a, b = _seeker(services), _seeker(services)
    _erase(services, a)
    _erase(services, b)
    clock.advance(days=1)
    day = services.erasures.entries()[0].erased_at[:10]
    kept = [services.digests.seal(date.fromisoformat(day)).to_dict()]
    with pytest.raises(Exception, match="append-only"), services.db.transaction() as tx:
        tx.execute("UPDATE timeline_erasures SET reason = 'x' WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"), services.db.transaction() as tx:
        tx.execute("DELETE FROM timeline_erasures")
    if services.db.dialect == "postgres":
        with pytest.raises(Exception, match="append-only"), services.db.connection() as conn:
            conn.execute("TRUNCATE timeline_erasures")
    assert verify_store(services.app, services.access_log, services.digests).ok
    # a removed tail leaves a sound chain: the kept digest shows it
    _tamper(services, "DELETE FROM timeline_erasures WHERE seq = 2")
    report = verify_store(services.app, services.access_log, services.digests, kept_digests=kept)
    assert report.erasure_register is None
    assert report.digest_problems == [
        f"{day}: the erasure register no longer matches the kept digest (it ended at entry 2 "
        "then; now at entry 1)"
    ]
    # an edited entry breaks the chain
    _tamper(services, "UPDATE timeline_erasures SET authority = 'none' WHERE seq = 1")
    report = verify_store(services.app, services.access_log, services.digests)
    assert report.erasure_register == "erasure register entry 1 was altered (hash chain broken)"
    assert not report.ok


def test_verify_accepts_a_cleared_person_ref_only_for_erased_seekers(
    make_services: MakeServices,
) -> None:
    services = make_services()
    erased, other = _seeker(services), _seeker(services)
    _erase(services, erased)
    if services.db.dialect == "postgres":
        sql = "UPDATE timeline_event_index SET person_ref = NULL WHERE seeker_id = %s::uuid"
    else:
        sql = "UPDATE timeline_event_index SET person_ref = NULL WHERE seeker_id = ?"
    if services.db.in_memory:
        services.app.index.clear_person_refs(other)  # type: ignore[attr-defined]
    else:
        with services.db.transaction() as tx:
            tx.execute(sql, [other])
    report = verify_store(services.app, services.access_log, services.digests)
    assert [(b.seeker_id, b.fields) for b in report.broken] == [(other, ("person_ref",))]


def test_digests_of_format_2_kept_from_before_still_verify(
    make_services: MakeServices, clock: FixedClock
) -> None:
    services = make_services()
    _seeker(services)
    clock.advance(days=1)
    day = (clock() - timedelta(days=1)).astimezone(HELSINKI).date()
    head = services.access_log.scan().head_at_end_of(day)
    old = services.digests.compute(day, format=2, access_log=head).to_dict()
    assert old["format"] == 2 and "erasure_seq" not in old  # exported as format 2 was
    _erase(services, _seeker(services))  # the register changes after: no matter to format 2
    assert services.digests.check([old]) == []
    altered = {**old, "events": old["events"] + 1}
    assert services.digests.check([altered]) == [
        f"{day}: the kept digest's signature does not verify (wrong key, or the kept copy was "
        "edited)"
    ]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_seeker_erased_by_another_process_is_refused_by_a_writer_that_kept_its_timeline(
    kind: str, url_for: Callable[[str], str], clock: FixedClock
) -> None:
    # Given a writer that has appended to a seeker (its timeline and key are kept in memory)
    # and a group committer in front of it, as `timeline serve` has
    url = url_for(kind)
    settings = Settings(database_url=url, environment="test", tokens=tokens_json())
    writer, other = bootstrap(settings, clock), bootstrap(settings, clock)
    try:
        with GroupCommitter(writer.app) as committer:
            seeker = _seeker(writer)
            [stored] = committer.submit([event("coach_assigned", seeker, on="2025-06-06")])
            before = len(writer.app.index.index_for_seeker(seeker))
            # When another process erases the seeker
            _erase(other, seeker)
            # Then the writer refuses a new event for it, and a retry of one stored before,
            # and writes nothing; another seeker's request of the same group lands
            kept = new_seeker()
            with ThreadPoolExecutor(3) as pool:
                new = pool.submit(committer.submit, [event("coach_assigned", seeker)])
                again = event("coach_assigned", seeker, on="2025-06-06", event_id=stored.event_id)
                retry = pool.submit(committer.submit, [again])
                fine = pool.submit(committer.submit, [event("job_search_started", kept)])
                with pytest.raises(SeekerGone):
                    new.result()
                with pytest.raises(SeekerGone):
                    retry.result()
                assert fine.result()[0].version == 1
            assert len(writer.app.index.index_for_seeker(seeker)) == before
    finally:
        writer.close()
        other.close()
