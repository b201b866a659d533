"""The pages under docs/ stay true to the code and to each other: docs/settings.md is what
scripts/settings_doc.py makes from server/core/config.py, and every relative link in the README
and the docs points to a file that exists (and to a heading in it, for `#anchor`)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGENERATE = ".venv/bin/python scripts/settings_doc.py"


def settings_doc():
    spec = importlib.util.spec_from_file_location(
        "settings_doc", ROOT / "scripts" / "settings_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_page_is_generated_from_the_settings_class() -> None:
    made = settings_doc().render()
    assert (DOCS / "settings.md").read_text() == made, (
        f"docs/settings.md differs from server/core/config.py's Settings: run `{REGENERATE}`"
    )


def test_the_command_that_regenerates_the_settings_page_runs() -> None:
    """The command the page and the test's message name, as a reader would run it."""
    done = subprocess.run(
        [sys.executable, "scripts/settings_doc.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_every_setting_has_a_meaning_and_a_shown_default() -> None:
    """A new setting without a docstring, or with a default computed at start that the
    page cannot show, stops the generator with a message rather than a blank cell."""
    module = settings_doc()
    from server.core.config import Settings

    meanings = module.docstrings()
    assert [name for name in Settings.model_fields if not meanings.get(name)] == []
    for name in Settings.model_fields:
        assert module.shown_default(name)
    assert set(module.COMPUTED) <= set(Settings.model_fields)


# --- links ---------------------------------------------------------------------------

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """The text without code blocks and code spans (a link there is not one)."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings."""
    seen: dict[str, int] = {}
    found = set()
    for title in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_the_docs_pages_link_back_to_the_readme() -> None:
    for page in DOCS.glob("*.md"):
        assert "](../README.md)" in page.read_text(), page.name


def test_every_relative_link_points_to_a_file_that_exists() -> None:
    broken, checked = [], 0
    for page in pages():
        for target in LINK.findall(prose(page.read_text())):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            goal = (page.parent / path).resolve() if path else page
            checked += 1
            if not goal.is_file():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert checked >= 20, checked
    assert broken == []
