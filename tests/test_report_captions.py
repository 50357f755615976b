"""Every report caption is valid reStructuredText once Snakemake's Jinja templating is applied:
docutils reports no error (level >= 3) for any of them."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from docutils.core import publish_parts
from jinja2 import Environment, StrictUndefined

from signgeom.workflow import REPO

REPORT = REPO / "workflow" / "report"
# Targets Snakemake's report appends to every caption (workflow.rst links to them).
REPORT_LINKS = """

.. _Workflow: javascript:show_panel('workflow')
.. _Statistics: javascript:show_panel('statistics')
"""


def _render(path: Path) -> str:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    params = SimpleNamespace(family=config["quadratic"]["families"][0])
    env = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    template = env.from_string(path.read_text() + REPORT_LINKS)
    return template.render(snakemake=SimpleNamespace(config=config, params=params))


@pytest.mark.parametrize("caption", sorted(REPORT.glob("*.rst")), ids=lambda p: p.name)
def test_caption_builds_without_docutils_errors(caption):
    messages = io.StringIO()
    settings = {"warning_stream": messages, "report_level": 3, "halt_level": 5}
    publish_parts(_render(caption), writer_name="html", settings_overrides=settings)
    assert messages.getvalue() == "", messages.getvalue()


def test_an_unescaped_bar_is_caught():
    messages = io.StringIO()
    settings = {"warning_stream": messages, "report_level": 3, "halt_level": 5}
    publish_parts("l = (a + |b|, d)", writer_name="html", settings_overrides=settings)
    assert 'Undefined substitution referenced: "b"' in messages.getvalue()


@pytest.mark.parametrize("caption", sorted(REPORT.glob("*.rst")), ids=lambda p: p.name)
def test_caption_names_its_documentation_page(caption):
    """The last paragraph of every caption names an existing page of docs/ (and, for a figure
    with verdicts, the verdict table)."""
    last = caption.read_text().strip().split("\n\n")[-1]
    assert last.startswith("Documentation: ``docs/"), last
    page = last.split("``")[1]
    assert (REPO / page).is_file(), page
