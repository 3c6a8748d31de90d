"""Scope is decided by whose seeker it is now (the municipality of its latest effective start or
transfer, read from the store inside the append's decision), never by what a request claims.

The four escapes of issue 10 §4 first, then the rules around them: transfers, corrections, new
spells, batches and retries. Each runs on SQLite and PostgreSQL, through the plain append (one
transaction per request) and through the group committer that ``timeline serve`` uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import MakeServices, bearer
from tests.factories import VALID_CODE, envelope, event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services
from timeline.group_commit import GroupCommitter
from timeline.vocabulary import parse_event

LAHTI, TAMPERE, HELSINKI = "398", "837", "091"
#: the actor every envelope of tests.factories claims: a Lahti coach
CLAIMS_LAHTI = {"id": "caseworker:4711", "role": "coach", "organisation": LAHTI}


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, url_for: Any) -> str:
    return str(url_for(request.param))


@dataclass
class Served:
    client: TestClient
    services: Services

    def start(self, municipality: str, code: str | None = None, on: str = "2025-06-02") -> str:
        """A seeker started by an operator (unscoped): their id."""
        seeker = new_seeker()
        data = {"municipality": municipality, "labour_market_status": "unemployed"}
        if code:
            data["personal_identity_code"] = code
        self.services.app.append([event("job_search_started", seeker, data, on=on)])
        return seeker

    def post(self, who: str, body: Any) -> Response:
        return self.client.post("/v1/events", json=body, headers=bearer(who))

    def read(self, who: str, seeker: str) -> Response:
        return self.client.get(f"/v1/seekers/{seeker}/events", headers=bearer(who))

    def versions(self, seeker: str) -> int:
        return len(self.services.app.facts(seeker))


@pytest.fixture(params=["one-transaction", "group-commit"])
def served(request: pytest.FixtureRequest, make_services: MakeServices) -> Iterator[Served]:
    services = make_services()
    committer = GroupCommitter(services.app) if request.param == "group-commit" else None
    try:
        with TestClient(create_app(services, append=committer)) as client:
            yield Served(client, services)
    finally:
        if committer is not None:
            committer.close()


def _assert_scope_refusal(r: Response, index: int, loc: str) -> dict[str, Any]:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["detail"].startswith(f"event [{index}]: ")
    assert "scope" in body["detail"]
    assert [e["loc"] for e in body["errors"]] == [f"[{index}].{loc}"]
    return body


# -- the four escapes ---------------------------------------------------------------------------


def test_escape_1_claiming_an_organisation_does_not_open_another_municipalitys_seeker(
    served: Served,
) -> None:
    helsinki = served.start(HELSINKI)
    body = envelope("coach_assigned", helsinki, actor=CLAIMS_LAHTI)
    r = served.post("writer-lahti", body)
    _assert_scope_refusal(r, 0, "seeker_id")
    assert served.versions(helsinki) == 1
    # the same claim is accepted from the side whose seeker it is: the claim is only recorded
    assert served.post("writer-helsinki", body).status_code == 201
    assert served.services.app.facts(helsinki)[-1].actor == CLAIMS_LAHTI


def test_escape_2_a_writer_cannot_start_a_seeker_in_another_municipality(
    served: Served,
) -> None:
    seeker = new_seeker()
    body = envelope(
        "job_search_started",
        seeker,
        {"municipality": HELSINKI, "labour_market_status": "unemployed"},
        actor=CLAIMS_LAHTI,
    )
    r = served.post("writer-lahti", body)
    _assert_scope_refusal(r, 0, "data.municipality")
    assert served.services.app.feed(0, 10) == []


def test_escape_3_a_writer_cannot_pull_another_municipalitys_seeker_by_a_transfer(
    served: Served,
) -> None:
    tampere = served.start(TAMPERE)
    served.services.obligations.catch_up()
    body = envelope("seeker_transferred", tampere, {"to_municipality": LAHTI}, actor=CLAIMS_LAHTI)
    r = served.post("writer-lahti", body)
    _assert_scope_refusal(r, 0, "seeker_id")
    served.services.obligations.catch_up()
    assert served.read("caseworker-lahti", tampere).status_code == 403
    assert served.read("caseworker-tampere", tampere).status_code == 200
    assert served.versions(tampere) == 1


def test_escape_4_a_look_up_finds_only_seekers_in_the_callers_scope(served: Served) -> None:
    helsinki = served.start(HELSINKI, code=VALID_CODE)
    code = {"personal_identity_code": VALID_CODE}
    lookup = "/v1/seekers/lookup"
    r = served.client.post(lookup, json=code, headers=bearer("writer-lahti", "registration"))
    assert r.status_code == 200
    assert r.json() == {"seeker_ids": []}  # as if unknown: no hint that it exists elsewhere
    r = served.client.post(lookup, json=code, headers=bearer("writer-helsinki", "registration"))
    assert r.json() == {"seeker_ids": [helsinki]}
    # an unscoped writer finds it, and every caller names a purpose
    r = served.client.post(lookup, json=code, headers=bearer("writer", "registration"))
    assert r.json() == {"seeker_ids": [helsinki]}
    r = served.client.post(lookup, json=code, headers=bearer("writer-helsinki", purpose=None))
    assert r.status_code == 403
    assert "purpose" in r.json()["detail"]


# -- transfers: the receiving side sees the seeker, the sending side no longer ------------------


def test_after_a_transfer_only_the_receiving_side_may_read_and_write(served: Served) -> None:
    seeker = served.start(LAHTI)
    served.services.obligations.catch_up()  # the projection says 398 and is not caught up again
    out = envelope("seeker_transferred", seeker, {"to_municipality": HELSINKI})
    assert served.post("writer-lahti", out).status_code == 201  # the target may be anywhere
    # at once, from the store: the sender may no longer write or read
    later = envelope("coach_assigned", seeker)
    _assert_scope_refusal(served.post("writer-lahti", later), 0, "seeker_id")
    assert served.read("caseworker-lahti", seeker).status_code == 403
    # the receiving side writes, and passes it on
    assert served.post("writer-helsinki", later).status_code == 201
    on = envelope("seeker_transferred", seeker, {"to_municipality": TAMPERE})
    assert served.post("writer-helsinki", on).status_code == 201
    assert served.read("caseworker-tampere", seeker).status_code == 200
    assert served.read("caseworker-lahti", seeker).status_code == 403


def test_a_back_dated_transfer_counts_by_when_it_happened(served: Served) -> None:
    # Given a seeker of Lahti transferred to Tampere on 10 June
    seeker = served.start(LAHTI, on="2025-06-02")
    served.services.app.append(
        [event("seeker_transferred", seeker, {"to_municipality": TAMPERE}, on="2025-06-10")]
    )
    # When Helsinki's writer records a transfer dated 5 June: refused, not theirs
    early = envelope("seeker_transferred", seeker, {"to_municipality": HELSINKI}, on="2025-06-05")
    _assert_scope_refusal(served.post("writer-helsinki", early), 0, "seeker_id")
    # and a transfer to Helsinki back-dated before the one to Tampere leaves the seeker Tampere's
    served.services.app.append([parse_event(early, allow_test_identity_codes=True)])
    assert served.read("caseworker-tampere", seeker).status_code == 200
    _assert_scope_refusal(
        served.post("writer-helsinki", envelope("coach_assigned", seeker)), 0, "seeker_id"
    )


# -- batches, retries and what a refusal reveals ------------------------------------------------


def test_a_batch_with_one_event_outside_the_scope_writes_nothing(served: Served) -> None:
    lahti, helsinki = served.start(LAHTI), served.start(HELSINKI)
    batch = [envelope("coach_assigned", lahti), envelope("coach_assigned", helsinki)]
    _assert_scope_refusal(served.post("writer-lahti", batch), 1, "seeker_id")
    assert (served.versions(lahti), served.versions(helsinki)) == (1, 1)


def test_each_event_of_a_batch_is_judged_after_the_ones_before_it(served: Served) -> None:
    fresh = new_seeker()
    started = [envelope("job_search_started", fresh, actor=CLAIMS_LAHTI)]
    ok = served.post("writer-lahti", [*started, envelope("coach_assigned", fresh)])
    assert ok.status_code == 201
    gone = [
        envelope("seeker_transferred", fresh, {"to_municipality": HELSINKI}),
        envelope("coach_assigned", fresh),
    ]
    _assert_scope_refusal(served.post("writer-lahti", gone), 1, "seeker_id")
    assert served.versions(fresh) == 2


def test_a_stale_expected_version_of_another_municipalitys_seeker_is_not_revealed(
    served: Served,
) -> None:
    helsinki = served.start(HELSINKI)
    body = envelope("coach_assigned", helsinki, expected_version=7)
    body = _assert_scope_refusal(served.post("writer-lahti", body), 0, "seeker_id")
    assert "current_version" not in body


def test_a_retry_is_answered_as_a_duplicate_after_the_seeker_moved_on(served: Served) -> None:
    seeker = served.start(LAHTI)
    coach = envelope("coach_assigned", seeker)
    first = served.post("writer-lahti", coach).json()
    served.services.app.append([event("seeker_transferred", seeker, {"to_municipality": HELSINKI})])
    again = served.post("writer-lahti", coach)
    assert again.status_code == 200
    assert again.json()[0] == {**first[0], "duplicate": True}


def test_a_refusal_for_scope_is_in_the_access_log(served: Served) -> None:
    helsinki = served.start(HELSINKI)
    body = envelope("coach_assigned", helsinki)
    served.post("writer-lahti", [envelope("job_search_started", new_seeker()), body])
    [entry] = served.services.access_log.query(seeker_id=helsinki)
    assert (entry.actor, entry.action) == ("writer:writer-lahti", "append:denied")
    assert entry.to_dict()["detail"]["index"] == 1
    assert entry.to_dict()["detail"]["event_id"] == body["event_id"]
    assert served.services.access_log.verify() is None


# -- new spells and corrections ------------------------------------------------------------------


def test_a_new_spell_of_another_municipalitys_seeker_is_refused(served: Served) -> None:
    # Given a seeker of Helsinki whose spell has ended
    helsinki = served.start(HELSINKI, on="2025-05-02")
    served.services.app.append([event("job_search_ended", helsinki, on="2025-05-20")])
    again = envelope(
        "job_search_started",
        helsinki,
        {"municipality": LAHTI, "labour_market_status": "unemployed"},
    )
    # Lahti may not open a spell in Lahti on it: that would pull the seeker and its history
    _assert_scope_refusal(served.post("writer-lahti", again), 0, "seeker_id")
    # Helsinki may not open it in Lahti (a start names its own municipality: in scope)
    _assert_scope_refusal(served.post("writer-helsinki", again), 0, "data.municipality")
    here = envelope(
        "job_search_started",
        helsinki,
        {"municipality": HELSINKI, "labour_market_status": "unemployed"},
    )
    assert served.post("writer-helsinki", here).status_code == 201


def test_a_correction_cannot_move_a_start_outside_the_scope(served: Served) -> None:
    seeker = served.start(LAHTI)
    [start] = served.services.app.facts(seeker)

    def correct(municipality: str) -> dict[str, Any]:
        return envelope(
            "correction",
            seeker,
            {
                "corrects_event_id": start.event_id,
                "reason": "typo",
                "replacement": {
                    "type": "job_search_started",
                    "occurred_on": "2025-06-02",
                    "data": {"municipality": municipality, "labour_market_status": "laid_off"},
                },
            },
        )

    _assert_scope_refusal(
        served.post("writer-lahti", correct(HELSINKI)), 0, "data.replacement.data.municipality"
    )
    assert served.post("writer-lahti", correct(LAHTI)).status_code == 201
    # and one who may not write to the seeker may not correct it either
    _assert_scope_refusal(served.post("writer-helsinki", correct(HELSINKI)), 0, "seeker_id")


def test_a_correction_that_turns_an_event_into_a_transfer_is_a_transfer(served: Served) -> None:
    seeker = served.start(LAHTI)
    coach = served.post("writer-lahti", envelope("coach_assigned", seeker)).json()[0]
    into = envelope(
        "correction",
        seeker,
        {
            "corrects_event_id": coach["event_id"],
            "reason": "it was a transfer",
            "replacement": {
                "type": "seeker_transferred",
                "occurred_on": "2025-06-02",
                "data": {"to_municipality": HELSINKI},
            },
        },
    )
    assert served.post("writer-lahti", into).status_code == 201
    # the seeker is Helsinki's now
    _assert_scope_refusal(
        served.post("writer-lahti", envelope("coach_assigned", seeker)), 0, "seeker_id"
    )
    assert served.post("writer-helsinki", envelope("coach_assigned", seeker)).status_code == 201


def test_retracting_a_transfer_gives_the_seeker_back(served: Served) -> None:
    seeker = served.start(LAHTI)
    moved = served.post(
        "writer-lahti", envelope("seeker_transferred", seeker, {"to_municipality": HELSINKI})
    ).json()[0]
    undo = envelope(
        "retraction", seeker, {"retracts_event_id": moved["event_id"], "reason": "wrong seeker"}
    )
    _assert_scope_refusal(served.post("writer-lahti", undo), 0, "seeker_id")  # not Lahti's now
    assert served.post("writer-helsinki", undo).status_code == 201
    assert served.read("caseworker-lahti", seeker).status_code == 200
