"""Small-cell suppression on hand-made tables: primary cells, complements inside one relation and
across the area hierarchy, derived figures following their counts."""

from __future__ import annotations

from projections.outcomes.suppression import suppress, suppress_derived


def test_cells_under_the_minimum_are_suppressed_and_zeros_and_large_cells_are_not() -> None:
    counts = {"a": 0, "b": 1, "c": 4, "d": 5, "e": 120}
    assert suppress(counts, minimum=5) == {"b", "c"}


def test_a_lone_suppressed_part_takes_the_smallest_nonzero_part_with_it() -> None:
    # total 40 = 3 + 7 + 30: with only 3 hidden, 40 - 7 - 30 would give it back
    counts = {"total": 40, "unemployed": 3, "employed": 7, "in_service": 30, "outside": 0}
    hidden = suppress(counts, [("total", ["unemployed", "employed", "in_service", "outside"])])
    assert hidden == {"unemployed", "employed"}


def test_two_suppressed_parts_need_no_complement() -> None:
    counts = {"total": 40, "x": 3, "y": 2, "z": 35}
    assert suppress(counts, [("total", ["x", "y", "z"])]) == {"x", "y"}


def test_a_total_under_the_minimum_hides_the_only_part() -> None:
    counts = {"area": 3, "muni": 3}
    assert suppress(counts, [("area", ["muni"])]) == {"area", "muni"}


def test_complements_spread_over_the_area_hierarchy_until_no_relation_reveals_a_cell() -> None:
    # country = area A + area B; A = m1 + m2; B = m3 + m4
    counts = {"all": 100, "A": 40, "B": 60, "m1": 2, "m2": 38, "m3": 30, "m4": 30}
    rels = [("all", ["A", "B"]), ("A", ["m1", "m2"]), ("B", ["m3", "m4"])]
    hidden = suppress(counts, rels)
    assert {"m1", "m2"} <= hidden
    for total, parts in rels:
        assert sum(1 for k in [total, *parts] if k in hidden) != 1


def test_the_minimum_is_configurable() -> None:
    counts = {"a": 7, "b": 12}
    assert suppress(counts, minimum=10) == {"a"}
    assert suppress(counts, minimum=3) == set()


def test_a_rate_is_suppressed_with_a_count_it_rests_on_or_a_small_base() -> None:
    hidden = {"in_service"}
    deps = {"rate_a": ["in_service", "unemployed"], "rate_b": ["unemployed"], "rate_c": []}
    bases = {"rate_a": 50, "rate_b": 50, "rate_c": 3}
    assert suppress_derived(deps, bases, hidden) == {"rate_a", "rate_c"}
