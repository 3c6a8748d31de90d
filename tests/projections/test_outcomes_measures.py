"""Each measure on tiny timelines whose figures are computed by hand in the comments. The clock
stands at 2025-06-10, so the horizon (latest recorded day) is 2025-06-10 and May 2025 is a closed
month whose count date is Friday 2025-05-30. Suppression is off (min_cell=1) except where tested."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from projections.outcomes import OutcomesProjection, OutcomesView
from projections.outcomes.months import count_date
from projections.outcomes.settings import DEFAULT_END_REASONS, OutcomeSettings
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.domain.calendar import MONDAY_TO_FRIDAY
from timeline.settings import Settings
from timeline.vocabulary import ParsedEvent


@pytest.fixture
def mem_app(clock: FixedClock) -> Iterator[TimelineApp]:
    app = TimelineApp(settings=Settings(database_url="memory:", environment="test"), clock=clock)
    yield app
    app.close()


def figures(app: TimelineApp, month: str = "2025-05", **settings: Any) -> dict[str, Any]:
    view = OutcomesView(
        app, projection=OutcomesProjection(OutcomeSettings(**{"min_cell": 1, **settings}))
    )
    view.catch_up()
    rows = view.monthly(month, month, area="all")
    view.close()
    return {r["measure"]: r["value"] for r in rows}


def start(seeker: str, on: str, status: str = "unemployed", muni: str = "398") -> ParsedEvent:
    return event(
        "job_search_started", seeker, {"municipality": muni, "labour_market_status": status}, on=on
    )


def status(seeker: str, on: str, value: str) -> ParsedEvent:
    return event("labour_market_status_changed", seeker, {"labour_market_status": value}, on=on)


def end(seeker: str, on: str, reason: str) -> ParsedEvent:
    return event("job_search_ended", seeker, {"reason": reason}, on=on)


def service(seeker: str, sid: str, kind: str, started: str, ended: str | None) -> list[ParsedEvent]:
    out = [
        event("service_referred", seeker, {"service_id": sid, "service_type": kind}, on=started),
        event("service_started", seeker, {"service_id": sid}, on=started),
    ]
    if ended:
        out.append(event("service_ended", seeker, {"service_id": sid}, on=ended))
    return out


def test_the_count_date_is_the_last_working_day_of_the_month() -> None:
    assert count_date("2025-05", MONDAY_TO_FRIDAY).isoformat() == "2025-05-30"  # 31st a Saturday
    assert (
        count_date("2024-12", MONDAY_TO_FRIDAY).isoformat() == "2024-12-31"
    )  # New Year's Eve works
    assert count_date("2025-08", MONDAY_TO_FRIDAY).isoformat() == "2025-08-29"


def test_stock_classes_activation_rate_and_long_term_on_the_count_date(
    mem_app: TimelineApp,
) -> None:
    s1, s2, s3, s4, s5 = (new_seeker() for _ in range(5))
    for batch in (
        [start(s1, "2024-01-02")],  # unemployed since 2024-01-02: long-term on 2025-05-30
        [start(s2, "2025-03-03", "laid_off")],  # laid off: unemployed and laid_off
        [start(s3, "2025-01-02"), *service(s3, "c1", "coaching", "2025-04-07", None)],
        [start(s4, "2025-02-03"), status(s4, "2025-05-12", "employed")],
        [start(s5, "2025-02-03", "student")],  # a full-time student: outside the labour force
    ):
        mem_app.append(batch)
    f = figures(mem_app)
    assert f["stock_total"] == 5
    assert f["stock_unemployed"] == 2
    assert f["stock_laid_off"] == 1
    assert f["stock_in_service"] == 1
    assert f["stock_employed"] == 1
    assert f["stock_part_time"] == 0
    assert f["stock_outside_labour_force"] == 1
    assert f["long_term_12m"] == 1
    assert f["long_term_24m"] == 0
    assert f["activation_rate"] == pytest.approx(100 * 1 / 3, abs=1e-3)  # 1 / (1 + 2)


def test_a_short_job_does_not_break_continuous_unemployment_but_a_long_one_does(
    mem_app: TimelineApp,
) -> None:
    short, long_ = new_seeker(), new_seeker()
    # short: employed 2024-06-03..06-09 (7 days <= 14): unemployed continuously since 2024-01-02
    mem_app.append(
        [
            start(short, "2024-01-02"),
            status(short, "2024-06-03", "employed"),
            status(short, "2024-06-10", "unemployed"),
        ]
    )
    # long: employed 2024-06-03..06-30 (28 days): the run restarts on 2024-07-01, < 12 months on
    # 2025-05-30; unemployed days in 2024-01-31..2025-05-30 = 124 (to 06-02) + 334 = 458 >= 365
    mem_app.append(
        [
            start(long_, "2024-01-02"),
            status(long_, "2024-06-03", "employed"),
            status(long_, "2024-07-01", "unemployed"),
        ]
    )
    f = figures(mem_app)
    assert f["long_term_12m"] == 1
    assert f["comparable_long_term"] == 1
    # with every interruption breaking, the short one is not long-term any more but comparable
    g = figures(mem_app, short_break_days=0)
    assert g["long_term_12m"] == 0
    assert g["comparable_long_term"] == 2


def test_inflow_outflow_by_end_reason_and_durations_of_completed_spells(
    mem_app: TimelineApp,
) -> None:
    for _ in range(3):  # 2025-01-02..05-15: 133 days, open market
        s = new_seeker()
        mem_app.append([start(s, "2025-01-02"), end(s, "2025-05-15", "employed_open_market")])
    a, b = new_seeker(), new_seeker()
    mem_app.append([start(a, "2025-04-01"), end(a, "2025-05-20", "studies")])  # 49 days
    mem_app.append([start(b, "2025-05-05"), end(b, "2025-05-26", "moved_abroad")])  # 21 days
    f = figures(mem_app)
    assert f["inflow"] == 1
    assert f["outflow_total"] == 5
    assert f["outflow_employed_open_market"] == 3
    assert f["outflow_studies"] == 1
    assert f["outflow_outside_labour_force"] == 1  # moved abroad, by the default mapping
    assert f["outflow_other"] == 0
    # durations 21, 49, 133, 133, 133: inclusive quartiles at positions 1, 2, 3
    assert (f["duration_q1_days"], f["duration_median_days"], f["duration_q3_days"]) == (
        49,
        133,
        133,
    )
    assert f["duration_share_within_1m"] == 20  # only the 21-day spell
    assert f["duration_share_within_3m"] == 40
    assert f["duration_share_within_6m"] == 100
    # the end-reason mapping is a setting
    g = figures(mem_app, end_reasons={**DEFAULT_END_REASONS, "moved_abroad": "other"})
    assert g["outflow_other"] == 1
    assert g["outflow_outside_labour_force"] == 0


def test_service_placement_and_cohort_outcomes_are_published_once_known(
    mem_app: TimelineApp,
) -> None:
    placed, unplaced = new_seeker(), new_seeker()
    # coaching ends 2025-02-14; 3 months later (2025-05-14) one is employed, one unemployed
    mem_app.append(
        [
            start(placed, "2025-01-02"),
            *service(placed, "p", "coaching", "2025-01-06", "2025-02-14"),
            status(placed, "2025-05-12", "employed"),
        ]
    )
    mem_app.append(
        [
            start(unplaced, "2025-01-02"),
            *service(unplaced, "u", "coaching", "2025-01-06", "2025-02-14"),
        ]
    )
    feb = figures(mem_app, "2025-02")
    assert feb["services_ended"] == 2
    assert feb["placement_3m_pct"] == 50
    assert feb["placement_6m_pct"] is None  # 2025-08-28 is after the horizon
    jan = figures(mem_app, "2025-01")
    assert jan["cohort_spells"] == 2
    # within 3 months of 2025-01-02 (to 2025-04-02) nobody was employed: 0 %; 6 months unknown
    assert jan["cohort_employed_3m_pct"] == 0
    assert jan["cohort_employed_6m_pct"] is None
    assert "cohort_spells" not in figures(mem_app, "2025-05")  # no spell started in May


def test_initial_interview_timeliness(mem_app: TimelineApp) -> None:
    # started Monday 2025-05-05: due 5 working days later, 2025-05-12
    on_time, late, never = new_seeker(), new_seeker(), new_seeker()
    held = {"kind": "initial_interview", "channel": "phone"}
    mem_app.append(
        [start(on_time, "2025-05-05"), event("meeting_held", on_time, held, on="2025-05-07")]
    )
    mem_app.append([start(late, "2025-05-05"), event("meeting_held", late, held, on="2025-05-30")])
    mem_app.append([start(never, "2025-05-05")])
    f = figures(mem_app)
    assert f["interviews_due"] == 3
    assert f["interview_on_time_pct"] == pytest.approx(100 / 3, abs=1e-3)
    assert f["interview_not_held_pct"] == pytest.approx(100 / 3, abs=1e-3)
    assert f["interview_median_days_late"] == 18  # 2025-05-30 - 2025-05-12


def test_interviews_the_spells_end_made_not_required_are_not_counted_as_due(
    mem_app: TimelineApp,
) -> None:
    # both due Monday 2025-05-12; one spell ends that day with the interview still open (not
    # required, RULES.md "At a spell's end"), the other after it, the interview overdue.
    open_at_end, overdue_at_end = new_seeker(), new_seeker()
    mem_app.append([start(open_at_end, "2025-05-05"), end(open_at_end, "2025-05-12", "other")])
    mem_app.append(
        [start(overdue_at_end, "2025-05-05"), end(overdue_at_end, "2025-05-20", "other")]
    )
    f = figures(mem_app)
    assert f["interviews_due"] == 1
    assert f["interview_not_held_pct"] == 100


def test_small_cells_are_published_as_suppressed_with_their_complements(
    mem_app: TimelineApp,
) -> None:
    for n in range(7):  # 6 unemployed and 1 employed in Lahti
        s = new_seeker()
        mem_app.append([start(s, "2025-02-03")])
        if n == 0:
            mem_app.append([status(s, "2025-05-12", "employed")])
    view = OutcomesView(mem_app)  # default min_cell 5
    view.catch_up()
    rows = {r["measure"]: r for r in view.monthly("2025-05", "2025-05", area="398")}
    view.close()
    assert rows["stock_total"]["value"] == 7
    assert rows["stock_employed"]["suppressed"] and rows["stock_employed"]["value"] is None
    assert rows["stock_employed"]["base"] is None
    # 7 = unemployed + employed + zeros: the unemployed cell would reveal the employed one
    assert rows["stock_unemployed"]["suppressed"]
