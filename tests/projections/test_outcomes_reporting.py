"""Reading the statistics: the read-only reporting role of ops/sql sees the statistics tables and
nothing personal (PostgreSQL); the HTTP route; the CLI's formats and chart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from projections.outcomes import OutcomesView
from tests import pg
from tests.conftest import MakeServices, bearer
from tests.factories import event, new_seeker
from timeline.api import create_app
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings

SQL = Path(__file__).resolve().parents[2] / "ops" / "sql" / "reporting_role.sql"


def _fill(app: TimelineApp) -> None:
    for n in range(8):
        s = new_seeker()
        data = {"municipality": "398", "labour_market_status": "unemployed"}
        app.append([event("job_search_started", s, data, on="2025-02-03")])
        if n < 2:
            app.append([event("job_search_ended", s, {"reason": "studies"}, on="2025-05-02")])


@pytest.fixture
def pg_app(postgres_url: str, clock: FixedClock) -> Iterator[TimelineApp]:
    app = TimelineApp(settings=Settings(database_url=postgres_url, environment="test"), clock=clock)
    yield app
    app.close()


@pytest.mark.postgres
def test_the_reporting_role_reads_statistics_and_nothing_personal(
    pg_app: TimelineApp, postgres_url: str
) -> None:
    from projections.obligations import ObligationsView

    _fill(pg_app)
    for view in (OutcomesView(pg_app), ObligationsView(pg_app)):
        view.catch_up()
        view.close()
    dbname = postgres_url.rsplit("/", 1)[1].split("?", maxsplit=1)[0]
    schema = postgres_url.split("schema=")[1]
    role = f"timeline_reporter_{uuid.uuid4().hex[:8]}"
    script = SQL.read_text().replace("timeline_reporter", role).replace("public", schema)
    with psycopg.connect(pg.admin_dsn(dbname), autocommit=True) as conn:
        conn.execute(script)
        try:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(f'SET ROLE "{role}"')
            for table in ("outcomes_monthly", "outcomes_state", "outcomes_tracking"):
                conn.execute(f"SELECT * FROM {table}").fetchall()
            assert conn.execute("SELECT count(*) FROM outcomes_monthly").fetchone()[0] > 0
            for table in (
                "timeline_events",
                "timeline_event_index",
                "obligations_items",
                "outcomes_work_seekers",
                "outcomes_work_contributions",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
            conn.execute("RESET ROLE")
            conn.execute(f'SET ROLE "{role}"')
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM outcomes_monthly")
        finally:
            conn.execute("RESET ROLE")
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_the_monthly_route_returns_rows_and_names_a_bad_month(
    make_services: MakeServices,
) -> None:
    services = make_services()
    _fill(services.app)
    services.outcomes.catch_up()
    client = TestClient(create_app(services), headers=bearer("reporter"))
    ok = client.get(
        "/v1/stats/monthly",
        params={"from": "2025-05", "to": "2025-05", "area": "398", "measure": "stock_total"},
    )
    assert ok.status_code == 200
    [row] = ok.json()["rows"]
    assert (row["value"], row["suppressed"], row["position"]) == (
        6.0,
        False,
        services.outcomes.position(),
    )
    bad = client.get("/v1/stats/monthly", params={"from": "2025-5", "to": "2025-06"})
    assert bad.status_code == 422
    assert "from" in bad.json()["detail"]
    bad_to = client.get("/v1/stats/monthly", params={"from": "2025-05", "to": "2025-13"})
    assert bad_to.status_code == 422 and bad_to.json()["errors"][0]["loc"] == "query.to"


def test_the_cli_writes_csv_json_parquet_and_a_chart(
    tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from timeline.cli.main import main

    db = f"sqlite:///{tmp_path / 'stats.db'}"
    app = TimelineApp(settings=Settings(database_url=db, environment="test"), clock=clock)
    _fill(app)
    app.close()

    def run(*argv: str) -> int:
        return main(["stats", "--db", db, "--from", "2025-01", "--to", "2025-06", *argv])

    assert run("--area", "398", "--measure", "stock_total", "--format", "csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("month,level,area,measure,value")
    assert any(
        line.startswith("2025-05,municipality,398,stock_total,6.0,6,False") for line in lines
    )
    assert run("--area", "all", "--format", "json", "--out", str(tmp_path / "s.json")) == 0
    assert {r["area"] for r in json.loads((tmp_path / "s.json").read_text())} == {"all"}
    assert run("--format", "parquet", "--out", str(tmp_path / "s.parquet")) == 0
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "s.parquet").num_rows > 0
    assert (
        run("--format", "csv", "--out", str(tmp_path / "s.csv"), "--plot", str(tmp_path / "s.png"))
        == 0
    )
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        main(["stats", "--from", "2025-1", "--to", "2025-06"])
    assert "2025-1" in capsys.readouterr().err
