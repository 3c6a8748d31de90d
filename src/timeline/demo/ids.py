"""Identifiers of the demo: identity codes and business ids whose check characters python-stdnum
accepts, and seeded UUIDs."""

from __future__ import annotations

import random
import string
from datetime import date

from stdnum.fi import hetu, ytunnus

from timeline.demo.data import EMPLOYER_NAMES

#: the characters a check character can be (stdnum says which one is right)
_CANDIDATES = string.digits + string.ascii_uppercase
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def personal_identity_code(birth: date, individual: int, sign: str) -> str:
    """A henkilötunnus ``DDMMYYCNNNQ`` (``sign`` the century sign, ``individual`` 900–999 for a
    test code) with the check character python-stdnum's validation accepts."""
    body = f"{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{sign}{individual:03d}"
    for check in _CANDIDATES:
        if hetu.is_valid(body + check, allow_temporary=True):
            return body + check
    raise ValueError(f"no valid identity code for {birth}, {sign}, {individual}")


def business_id(digits: int) -> str | None:
    """The Y-tunnus ``NNNNNNN-C`` of seven digits, or None when no check digit makes it valid
    (python-stdnum decides; a weighted remainder of 1 has none)."""
    text = f"{digits:07d}"
    for check in string.digits:
        if ytunnus.is_valid(f"{text}-{check}"):
            return f"{text}-{check}"
    return None


def uuid_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, without building the object (it is hot)."""
    h = f"{(bits & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def employer_directory() -> tuple[tuple[str, str], ...]:
    """Each employer of the reference data with a valid business id (fixed by a seed)."""
    rng = random.Random(0x7E1)  # noqa: S311 - synthetic data, not security
    out: list[tuple[str, str]] = []
    for name in EMPLOYER_NAMES:
        bid = None
        while bid is None:
            bid = business_id(rng.randrange(100_000, 3_400_000))
        out.append((name, bid))
    return tuple(out)


EMPLOYERS = employer_directory()
