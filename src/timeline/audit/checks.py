"""The whole audit check: every seeker's hash chain (or those recorded since a day), the access
log's chain, and digests kept outside the system. Used by ``timeline verify`` and the nightly
job."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog
from timeline.audit.digests import Digests
from timeline.audit.verify import Break, all_seekers, verify_seeker
from timeline.domain.zone import HELSINKI

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=HELSINKI)


@dataclass
class Report:
    seekers_checked: int = 0
    broken: list[Break] = field(default_factory=list)
    access_log: str | None = None
    erasure_register: str | None = None
    digest_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.broken
            and self.access_log is None
            and self.erasure_register is None
            and not self.digest_problems
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seekers_checked": self.seekers_checked,
            "broken": [str(b) for b in self.broken],
            "access_log": self.access_log or "ok",
            "erasure_register": self.erasure_register or "ok",
            "digest_problems": self.digest_problems,
        }


def seekers_recorded_since(app: TimelineApp, day: date) -> list[str]:
    start = datetime.combine(day, time.min, tzinfo=HELSINKI)
    rows = app.index.index_recorded_between(start, FAR_FUTURE)
    return sorted({r.seeker_id for r in rows})


def verify_store(
    app: TimelineApp,
    access_log: AccessLog,
    digests: Digests,
    *,
    seeker: str | None = None,
    since: date | None = None,
    kept_digests: list[dict[str, Any]] | None = None,
    progress: Callable[[Iterable[str]], Iterable[str]] = lambda it: it,
) -> Report:
    """Every chain (of ``seeker``, or of the seekers recorded ``since`` a day; an erased
    seeker's from its stored digests, see :mod:`timeline.audit.verify`), the access log's and
    the erasure register's chains and, given ``kept_digests``, those digests against the
    store."""
    report = Report()
    erased = digests.erasures.all_erased()
    if seeker:
        seekers: Iterable[str] = [seeker]
    elif since:
        seekers = seekers_recorded_since(app, since)
    else:
        seekers = all_seekers(app)
    for seeker_id in progress(seekers):
        report.seekers_checked += 1
        found = verify_seeker(app, seeker_id, erased=seeker_id in erased)
        if found is not None:
            report.broken.append(found)
    scan = access_log.scan()
    report.access_log = scan.problem
    register = digests.erasures.scan()
    report.erasure_register = register.problem
    if kept_digests:
        report.digest_problems = digests.check(kept_digests, access_log=scan, erasures=register)
    return report
