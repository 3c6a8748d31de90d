"""The digest's canonical forms (timeline.domain.canonical) and the export verifier's own JCS:
the verifier (which may import nothing of the project) gives the ``rfc8785`` package's bytes
for every value an event can hold, and a digest's text names its algorithm."""

from __future__ import annotations

import hashlib

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from timeline.audit import verify_export
from timeline.domain.canonical import (
    _EXACT,
    JCS,
    LEGACY,
    _plain,
    _plain_any,
    _plain_kind,
    canonical_bytes,
    content_digest,
    digest_algorithm,
    jcs_bytes,
)
from timeline.domain.event_types import EventType

#: characters whose order differs between UTF-16 code units (JCS) and code points, and
#: characters JSON escapes; any other character (no lone surrogates: not UTF-8) as well
ORDER = ["a", "\ue000", "\uffff", "\U00010000", "\U0001d11e", "\U0010ffff"]
ESCAPED = ["\x00", "\x1f", "\x7f", "\n", '"', "\\", "/", "\u2028", "é"]
texts = st.text(st.sampled_from(ESCAPED + ORDER) | st.characters(exclude_categories=["Cs"]))
keys = st.text(st.sampled_from(ORDER), min_size=1, max_size=3) | texts
#: what an event's content may hold: no fractions, integers within JCS's exact range
scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | texts
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=20,
)


@given(values)
def test_the_offline_verifiers_jcs_is_the_rfc8785_packages(value: object) -> None:
    assert verify_export.jcs(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@given(st.dictionaries(st.text(st.characters(max_codepoint=127)) | keys, values | st.integers()))
@example({"n": 2**53})
@example({"n": -(2**53) + 1, "\U0001d11e": 1, "\ue000": [True, None]})
def test_the_services_jcs_is_the_rfc8785_packages_on_either_path(content: dict) -> None:  # type: ignore[type-arg]
    """The standard library's encoder where RFC 8785 gives its bytes, the package elsewhere
    (non-ASCII keys, any integer: beyond 2**53 - 1 both refuse)."""
    try:
        expected = rfc8785.dumps(content)
    except rfc8785.IntegerDomainError:
        with pytest.raises(rfc8785.IntegerDomainError, match="exceeds safe integer domain"):
            jcs_bytes(content)
        return
    assert jcs_bytes(content) == expected


class _Text(str):
    pass


#: beyond what an event holds: fractions, any integer, tuples, a str subclass as key or value
anything = st.recursive(
    scalars | st.floats() | st.integers() | st.builds(_Text, texts),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner)
        | st.dictionaries(keys | st.builds(_Text, keys), inner, max_size=6)
    ),
    max_leaves=20,
)


@given(anything)
def test_the_walk_that_picks_the_encoder_judges_every_value_as_the_plain_recursion(
    value: object,
) -> None:
    """The stack walk (:func:`_plain`, on every digest) and the recursive definition agree."""
    assert _plain(value) == _plain_any(value)


@given(anything | st.dictionaries(st.text(st.characters(max_codepoint=127)), values))
@example({"type": EventType.CONTACT_MADE, "data": {"n": 1, "b": False, "t": "é\u2028"}})
@example({"d": {_Text("k"): 1}, "n": 2**60})
def test_content_of_exact_built_in_types_is_encoded_by_orjson_as_by_the_standard_library(
    value: object,
) -> None:
    """The fastest of jcs_bytes' paths (orjson) only for what it encodes as canonical_bytes."""
    if isinstance(value, dict) and _plain_kind(value) == _EXACT:
        assert jcs_bytes(value) == canonical_bytes(value) == rfc8785.dumps(value)


def test_a_lone_surrogate_is_refused_on_the_fast_path_as_before() -> None:
    content = {"type": EventType.CONTACT_MADE, "text": "\ud800"}
    assert _plain_kind(content) == _EXACT
    with pytest.raises(UnicodeEncodeError):
        canonical_bytes(content)
    with pytest.raises(UnicodeEncodeError):
        jcs_bytes(content)


@given(st.dictionaries(keys, values, max_size=6))
def test_a_jcs_digest_is_sha256_of_the_rfc8785_bytes_behind_its_prefix(content: dict) -> None:  # type: ignore[type-arg]
    digest = content_digest(content, algorithm=JCS)
    assert digest == "jcs:" + hashlib.sha256(rfc8785.dumps(content)).hexdigest()
    assert digest_algorithm(digest) == JCS
    assert verify_export.content_digest(content, digest) == digest


def test_the_forms_differ_where_utf16_and_code_point_order_differ() -> None:
    """Why the algorithm must be named: a key above U+FFFF sorts before U+E000 in UTF-16 code
    units (JCS) and after it in code points (algorithm 1)."""
    content = {"\ue000": 1, "\U0001d11e": 2}
    assert jcs_bytes(content) == '{"𝄞":2,"\ue000":1}'.encode()
    assert canonical_bytes(content) == '{"\ue000":1,"𝄞":2}'.encode()
    legacy = content_digest(content, algorithm=LEGACY)
    assert digest_algorithm(legacy) == LEGACY and len(legacy) == 64
    assert verify_export.content_digest(content, legacy) == legacy
    assert content_digest(content, algorithm=JCS).removeprefix("jcs:") != legacy


@pytest.mark.parametrize(
    "text",
    ["", "jcs:", "jcs:" + "0" * 63, "JCS:" + "0" * 64, "0" * 65, "g" * 64, "sha1:" + "0" * 64],
)
def test_a_digest_text_of_neither_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="neither 64 hex digits"):
        digest_algorithm(text)


@pytest.mark.parametrize("text", ["", "JCS:" + "0" * 64, "0" * 65, "g" * 64, "sha1:" + "0" * 64])
def test_the_offline_verifier_names_a_digest_of_no_known_algorithm(text: str) -> None:
    with pytest.raises(verify_export.Problem, match="names no algorithm"):
        verify_export.content_digest({}, text)


def test_an_unknown_algorithm_number_is_refused() -> None:
    with pytest.raises(ValueError, match="digest algorithm 3"):
        content_digest({}, algorithm=3)


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.5])
def test_the_verifier_refuses_numbers_its_jcs_does_not_cover(value: object) -> None:
    with pytest.raises(verify_export.Problem):
        verify_export.jcs({"n": value})
