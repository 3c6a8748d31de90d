"""A realistic synthetic dataset: job seekers' timelines under the Finnish service model, 2022–2026.

``generate(seekers, seed)`` yields :class:`DemoEvent` values (the wire envelope plus the time the
backend sends it to the store) in ascending ``recorded_at`` order. The output is a pure function of
the arguments: all randomness comes from ``random.Random(seed)`` (one derived generator per seeker),
never from the clock or ``uuid4``.

How it streams: each seeker is a small discrete-event simulation (an agenda of the next few things
that will happen: the next meeting, next month's applications, a running service, the spell's end)
that emits events in occurred order. Each event gets a recording delay (minutes to hours, about 5 %
backdated by 3–40 days), pushed later where the store's rules need it (everything in a spell after
its ``job_search_started``, ``job_search_ended`` after everything in the spell, ``service_started``
after its referral, a correction after the event it corrects). A per-seeker buffer releases events
once the simulation has moved past their recording time, and a lazy heap-merge interleaves the
seekers, activating a seeker only when the merged stream reaches its first registration. Memory is
O(active seekers), each holding a handful of pending items.

The store's domain rules the output respects, per seeker and in recording order: only
``job_search_started`` when no spell is open and no start while one is open; every other event
occurs on a day within the open spell (start and end day inclusive) and is recorded while that spell
is open; ``service_started`` after its ``service_referred``, ``service_ended`` after its
``service_started``; corrections and retractions name an earlier-recorded event of the same seeker
(never a ``job_search_started``/``job_search_ended``); occurred ≤ recorded; nothing occurs or is
recorded after ``end``.

What it takes from the domain: the working-day calendar (``timeline.domain.calendar``), the
rulesets (the initial interview's deadline and the days the 2026 reforms began) and
python-stdnum (check characters of identity codes and business ids). Modules: ``stream``
(:func:`generate`, :func:`write_jsonl`), ``life`` (a seeker's spells and the table of
handlers), ``seeker`` (the simulation's state and helpers), ``interviews`` and ``activity``
(the handlers), ``rules``, ``ids``, ``data`` (reference tables), ``load``
(:func:`load_demo`: into a store, as the backends would have sent it).
"""

from timeline.demo.data import LAHTI_REGION, OTHER_MUNICIPALITIES
from timeline.demo.ids import business_id, personal_identity_code
from timeline.demo.load import load_demo
from timeline.demo.rules import initial_interview_days
from timeline.demo.stream import DemoEvent, generate, write_jsonl

__all__ = [
    "LAHTI_REGION",
    "OTHER_MUNICIPALITIES",
    "DemoEvent",
    "business_id",
    "generate",
    "initial_interview_days",
    "load_demo",
    "personal_identity_code",
    "write_jsonl",
]
