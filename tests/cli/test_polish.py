"""Where users tripped on the command line (issue 13 §5): the statistics table's shape, the
stats extra's install hint, progress bars' totals, rates and phases, the tokens-file entry,
the package's licence metadata."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest
from tqdm import tqdm

from timeline.auth import TokenRegistry, token_hash
from timeline.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    assert main(["demo", "--seekers", "12", "--seed", "3", "--out", str(path)]) == 0
    return path


def _lines(stderr: str) -> list[str]:
    """What a terminal would have shown, one line per redraw of a bar."""
    return [line.strip() for line in re.split(r"[\r\n]+", stderr) if line.strip()]


# -- stats --------------------------------------------------------------------------------------


def test_stats_prints_months_as_rows_and_measures_as_columns(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["import", str(demo_file), "--db", db, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["stats", "--db", db, "--from", "2024-01", "--to", "2024-06", "--area", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "all all"  # the block of one area (level and area)
    header = lines[1].split()
    assert header[0] == "month"
    assert {"stock_total", "stock_unemployed", "activation_rate"} <= set(header)
    months = [line.split()[0] for line in lines[2:8]]
    assert months == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert all(len(line.split()) == len(header) for line in lines[2:8])  # a cell per measure
    assert lines[8] == ""  # one row per month, then the legend
    assert lines[9].startswith("s: suppressed")


def test_on_a_terminal_the_measures_wrap_into_blocks_that_fit() -> None:
    from projections.outcomes.measures import BY_NAME
    from timeline.cli.stats import render

    rows = [
        {"month": m, "level": "all", "area": "all", "measure": name, "value": 12.5,
         "base": 40, "suppressed": False, "provisional": m == "2024-02", "position": 1}
        for m in ("2024-01", "2024-02")
        for name in BY_NAME
    ]  # fmt: skip
    lines = render(rows, "table", width=80).splitlines()
    assert max(len(line) for line in lines) <= 80
    headers = [line.split() for line in lines if line.startswith("month")]
    assert len(headers) > 1  # several blocks, each with the months again
    assert sorted(m for h in headers for m in h[1:]) == sorted(BY_NAME)  # every measure once
    assert sum(line.startswith("2024-02 *") for line in lines) == len(headers)  # provisional
    assert lines[-1].endswith("*: month not yet over (provisional)")


def test_plot_without_matplotlib_says_how_to_install_it_here_before_anything_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not installed, as far as Python knows
    store = tmp_path / "never.db"
    argv = ["stats", "--db", f"sqlite:///{store}", "--from", "2024-01", "--to", "2024-02"]
    assert main([*argv, "--plot", str(tmp_path / "chart.png")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no table first
    assert f"cd {ROOT} && " in captured.err
    assert "-m pip install -e '.[stats]'" in captured.err
    assert "--plot needs the matplotlib package" in captured.err
    assert not store.exists()  # nothing was opened


# -- progress -----------------------------------------------------------------------------------


def test_import_counts_only_what_it_writes_as_speed(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    total = sum(1 for _ in demo_file.open())
    assert main(["import", str(demo_file), "--db", db]) == 0
    first = _lines(capsys.readouterr().err)
    shown = f"{tqdm.format_sizeof(total)}/{tqdm.format_sizeof(total)}"  # the total, always
    # Two passes, each with its total: every line validated, then every new event written.
    assert any(line.startswith("validating: 100%") and shown in line for line in first)
    assert any(line.startswith("writing: 100%") and shown in line for line in first)
    # Again: every event is a duplicate, so nothing is written. The writing bar has nothing to
    # do, and shows no speed at all (it used to divide the whole file by microseconds).
    assert main(["import", str(demo_file), "--db", db]) == 0
    again = [line for line in _lines(capsys.readouterr().err) if line.startswith("writing")]
    assert again
    assert not [line for line in again if re.search(r"[0-9.]+[kMG]?event/s", line)], again


def test_rebuild_shows_the_swap_as_a_phase_of_its_own(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["import", str(demo_file), "--db", db, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["rebuild", "obligations", "--db", db]) == 0
    lines = _lines(capsys.readouterr().err)
    full = next(i for i, line in enumerate(lines) if "rebuilding obligations: 100%" in line)
    swap = next(i for i, line in enumerate(lines) if line.startswith("swapping the rebuilt"))
    assert full < swap
    assert re.search(r"event/s", lines[full])
    assert re.search(r": \d\d:\d\d$", lines[swap])  # how long it has been swapping
    assert not any("rebuilding" in line for line in lines[swap:])


def test_an_offline_rebuild_has_no_swap(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    assert main(["import", str(demo_file), "--db", db, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["rebuild", "outcomes", "--offline", "--db", db]) == 0
    assert "swapping" not in capsys.readouterr().err


# -- tokens -------------------------------------------------------------------------------------


def _token(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(["token", "--name", "lahti-cs", "--role", "writer", *argv]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err.strip().rsplit(" ", 1)[-1]


def test_token_prints_a_tokens_file_that_the_service_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, token = _token(capsys, "--scope", "398, 016")
    entries = json.loads(out)
    assert isinstance(entries, list) and len(entries) == 1
    assert entries[0]["scope"] == ["398", "016"]
    assert token not in out
    path = tmp_path / "tokens.json"
    path.write_text(out, encoding="utf-8")  # saved as it is
    registry = TokenRegistry.from_settings(None, str(path), development=False)
    principal = registry.authenticate(f"Bearer {token}")
    assert (principal.name, principal.role, principal.scope) == (
        "lahti-cs",
        "writer",
        frozenset({"398", "016"}),
    )


def test_every_municipality_is_written_and_read_as_a_list_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, token = _token(capsys)  # the default scope: all
    entries = json.loads(out)
    assert entries[0]["scope"] == ["*"]
    assert TokenRegistry(entries, development=False).authenticate(f"Bearer {token}").scope is None


@pytest.mark.parametrize("scope", [["lahti"], ["398", "*"], [], "398", [398]], ids=repr)
def test_a_scope_the_file_cannot_mean_is_refused_by_name(scope: object) -> None:
    entry = {"name": "x", "sha256": "0" * 64, "role": "writer", "scope": scope}
    with pytest.raises(ValueError, match=r"token entry 0: scope must be a list of three-digit"):
        TokenRegistry([entry], development=False)


def test_the_older_star_spelling_still_reads_as_every_municipality() -> None:
    entry = {"name": "x", "sha256": token_hash("t"), "role": "admin", "scope": "*"}
    assert TokenRegistry([entry], development=False).authenticate("Bearer t").scope is None


# -- packaging ----------------------------------------------------------------------------------


def test_the_licence_is_an_spdx_expression_in_the_metadata() -> None:
    metadata = importlib.metadata.metadata("timeline")
    assert metadata["License-Expression"] == "EUPL-1.2"
    assert metadata.get("License") is None  # (the deprecated free-text field is not written)
