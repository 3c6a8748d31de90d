"""The service's time zone. Finnish law counts days, working days and months in Helsinki time;
every calendar day the service derives (``occurred_on``, a digest's day, an evaluation day) is a
Europe/Helsinki day. Defined once, here; everything else imports it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")
