"""The timeline view's geometry: month and year labels never overlap, whatever the span, and a
long history stays one screen tall (the exported report used to grow a row per event)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import MakeServices
from tests.factories import event, new_seeker
from timeline.audit.export import export_seeker
from timeline.clock import FixedClock
from timeline.render.axis import MONTH_LABEL_PX, YEAR_LABEL_PX, Axis


@given(
    first=st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 1, 1)),
    days=st.integers(min_value=0, max_value=365 * 40),
    width=st.integers(min_value=300, max_value=1400),
)
def test_labels_never_overlap(first: date, days: int, width: int) -> None:
    last = min(first + timedelta(days=days), date(2099, 12, 31))
    axis = Axis.covering(first, last, 0, width)
    ticks, years = axis.ticks()
    labelled = [t.x for t in ticks if t.label]
    assert labelled or years, "the axis names at least a month or a year"
    assert all(b - a >= MONTH_LABEL_PX - 0.2 for a, b in itertools.pairwise(labelled))
    xs = [y.x for y in years]
    assert all(b - a >= YEAR_LABEL_PX - 0.2 for a, b in itertools.pairwise(xs))
    assert all(0 <= x <= width for x in labelled + xs)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, url_for: object) -> str:
    return str(url_for(request.param))  # type: ignore[operator]


def test_the_exported_report_draws_a_long_history_on_one_short_axis(
    make_services: MakeServices, clock: FixedClock, tmp_path: Path
) -> None:
    services = make_services()
    seeker = new_seeker()
    clock.set(datetime(2025, 6, 2, 9, tzinfo=UTC))
    services.app.append([event("job_search_started", seeker, on="2025-06-02")])
    day = date(2025, 6, 2)
    for _ in range(300):  # a year of applications, recorded as they come
        day += timedelta(days=1)
        clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9))
        data = {"applied_on": day.isoformat(), "kind": "vacancy"}
        services.app.append([event("application_reported", seeker, data, on=day.isoformat())])
    services.obligations.catch_up()
    done = export_seeker(services.app, services.obligations, seeker, tmp_path / "x")
    html = (done.directory / "report.html").read_text(encoding="utf-8")
    heights = [int(h) for h in re.findall(r'<svg class="timeline"[^>]* height="(\d+)"', html)]
    assert heights and max(heights) <= 400, heights
    assert html.count('<a href="#v') >= 301  # every event a mark linked to its row
    assert "<link" not in html and "<script" not in html  # self-contained
    assert 'font-family: system-ui, "DejaVu Sans"' in html  # the stylesheet inline, unescaped
