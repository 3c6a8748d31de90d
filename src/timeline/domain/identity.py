"""Identity values: the personal identity code (henkilötunnus), the business id (Y-tunnus) and
municipality codes. Validation is python-stdnum's; this module adds the keyed hash and messages
that name the reason."""

from __future__ import annotations

import hashlib
import hmac
import re

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fi import hetu, ytunnus

_MUNICIPALITY = re.compile(r"^[0-9]{3}$")


class InvalidIdentifier(ValueError):
    """An identifier failed validation; the message says why, never echoing a full identity code."""


def _reason(exc: StdnumValidationError, what: str) -> str:
    if isinstance(exc, InvalidChecksum):
        return f"{what}: the check character does not match"
    if isinstance(exc, InvalidLength):
        return f"{what}: wrong length"
    if isinstance(exc, InvalidFormat):
        return f"{what}: wrong format"
    if isinstance(exc, InvalidComponent):
        return f"{what}: a part is invalid (date, century sign or individual number)"
    return f"{what}: invalid"


def validate_personal_identity_code(code: str, *, allow_temporary: bool = False) -> str:
    """Validate a henkilötunnus (format, date, century sign incl. the 2023 signs, check character)
    and return it in compact upper-case form. Temporary/test codes (individual number 900–999)
    are accepted only with ``allow_temporary``."""
    try:
        return str(hetu.validate(code, allow_temporary=allow_temporary))
    except InvalidComponent:
        # stdnum reports a temporary code as an invalid component; say which when we can tell.
        try:
            hetu.validate(code, allow_temporary=True)
        except StdnumValidationError as plain:
            raise InvalidIdentifier(_reason(plain, "invalid personal identity code")) from None
        raise InvalidIdentifier(
            "invalid personal identity code: temporary/test codes (900–999) are not allowed here"
        ) from None
    except StdnumValidationError as exc:
        raise InvalidIdentifier(_reason(exc, "invalid personal identity code")) from None


def person_ref(code: str, key: bytes) -> str:
    """The keyed hash (HMAC-SHA-256) of a validated identity code: the only form ever stored."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def validate_business_id(value: str) -> str:
    """Validate a Finnish business id (Y-tunnus, ``NNNNNNN-C``); return it as ``NNNNNNN-C``."""
    try:
        compact = ytunnus.validate(value)
    except StdnumValidationError as exc:
        raise InvalidIdentifier(_reason(exc, "invalid business id")) from None
    return str(ytunnus.format(compact))


def validate_municipality_code(value: str) -> str:
    """Statistics Finland municipality number: exactly three digits."""
    if not _MUNICIPALITY.match(value):
        raise InvalidIdentifier("municipality code must be exactly three digits, e.g. '398'")
    return value
