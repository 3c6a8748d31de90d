"""The command line's own house: every group of commands is registered in one place, and every
command closes what it opened (one set of services, from the bootstrap)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import timeline.cli
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import GROUPS, main
from timeline.settings import Settings
from timeline.store.side import SideDatabase


def test_every_module_with_commands_is_registered_in_main() -> None:
    modules = [
        importlib.import_module(f"timeline.cli.{m.name}")
        for m in pkgutil.iter_modules(timeline.cli.__path__)
        if m.name != "__main__"  # (running it is the command)
    ]
    with_commands = {m for m in modules if hasattr(m, "register")}
    assert with_commands == set(GROUPS)


def test_no_module_of_the_package_imports_another_ones_private_names() -> None:
    folder = Path(timeline.cli.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("timeline"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
                assert node.module != "timeline.cli.main" or path.name == "__main__.py"


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    """Every application and side database made while the test runs, and those closed."""
    seen: dict[str, list[object]] = {"made": [], "closed": []}
    for cls in (TimelineApp, SideDatabase):
        init, close = cls.__init__, cls.close

        def tracked_init(self: object, *a: object, _init: object = init, **k: object) -> None:
            seen["made"].append(self)
            _init(self, *a, **k)  # type: ignore[operator]

        def tracked_close(self: object, _close: object = close) -> None:
            seen["closed"].append(self)
            _close(self)  # type: ignore[operator]

        monkeypatch.setattr(cls, "__init__", tracked_init)
        monkeypatch.setattr(cls, "close", tracked_close)
    return seen


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "{seeker}", "--purpose", "audit"],
        ["obligations", "{seeker}", "--on", "2025-06-10"],
        ["obligations", "--on", "2025-06-10"],
        ["export", "{seeker}", "--out", "{tmp}/x"],
        ["verify", "--quiet"],
        ["digest", "--export", "{tmp}/d.jsonl"],
        ["rebuild", "outcomes", "--quiet"],  # (and its shadow, dropped at the end)
        ["quarantine"],
        ["stats", "--from", "2025-05", "--to", "2025-06"],
    ],
    ids=lambda argv: " ".join(a for a in argv if not a.startswith("{")),
)
def test_a_command_opens_one_set_of_services_and_closes_it(
    argv: list[str],
    tmp_path: Path,
    opened: dict[str, list[object]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    app.close()
    opened["made"].clear()
    opened["closed"].clear()
    args = [a.format(seeker=seeker, tmp=tmp_path) for a in argv]
    assert main([*args, "--db", db]) == 0
    capsys.readouterr()
    apps = [o for o in opened["made"] if isinstance(o, TimelineApp)]
    sides = [o for o in opened["made"] if isinstance(o, SideDatabase)]
    shadow = 1 if argv[0] == "rebuild" else 0
    assert (len(apps), len(sides)) == (1, 1 + shadow)  # the bootstrap's, nothing beside them
    assert {id(o) for o in opened["made"]} <= {id(o) for o in opened["closed"]}
