"""The composition root: everything the edges (HTTP, CLI, jobs) need, built in one place from
typed settings and a clock. Nothing is built at import time."""

from __future__ import annotations

from dataclasses import dataclass

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog
from timeline.audit.digests import Digests
from timeline.auth import TokenRegistry
from timeline.clock import Clock, system_clock
from timeline.db import SideDatabase
from timeline.settings import Settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    app: TimelineApp
    db: SideDatabase
    obligations: ObligationsView
    outcomes: OutcomesView
    access_log: AccessLog
    tokens: TokenRegistry
    digests: Digests

    def close(self) -> None:
        self.db.close()
        self.app.close()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Services:
    settings = settings or Settings()
    clock = clock or system_clock
    app = TimelineApp(settings=settings, clock=clock)
    db = SideDatabase(app)
    access_log = AccessLog(db, clock)
    return Services(
        settings=settings,
        clock=clock,
        app=app,
        db=db,
        obligations=ObligationsView(app, db),
        outcomes=OutcomesView(app, db),
        access_log=access_log,
        digests=Digests(app, db, settings.digest_key_bytes, clock, access_log),
        tokens=TokenRegistry.from_settings(
            settings.tokens.get_secret_value() if settings.tokens else None,
            settings.tokens_file,
            development=settings.environment == "development",
        ),
    )
