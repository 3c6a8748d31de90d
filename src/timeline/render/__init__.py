"""HTML rendering shared by the web view (:mod:`timeline.api.ui`) and the exported report
(:mod:`timeline.audit.export`): Jinja2 templates shipped in this package, view-model builders
(the timeline on a time axis, line charts) and the stylesheet. No I/O beyond reading the
package's own files, no services: both callers pass what they read."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, StrictUndefined


@functools.cache
def environment(*packages: str) -> Environment:
    """The Jinja2 environment over the templates of ``packages`` (searched in that order) and
    then this package's; HTML autoescaped."""
    loaders: list[BaseLoader] = [PackageLoader(p, "templates") for p in packages]
    loaders.append(PackageLoader("timeline.render", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stylesheet"] = stylesheet
    return env


def render(template: str, *packages: str, **context: Any) -> str:
    return environment(*packages).get_template(template).render(**context)


@functools.cache
def stylesheet() -> str:
    """The shared stylesheet (timeline, tables, charts), inlined where a page must stand alone."""
    return files("timeline.render").joinpath("static/timeline.css").read_text(encoding="utf-8")
