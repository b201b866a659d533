"""docs/settings.md, made from the Settings class in server/core/config.py so it cannot drift.

    .venv/bin/python scripts/settings_doc.py          # rewrite docs/settings.md
    .venv/bin/python scripts/settings_doc.py --check  # exit 1 if it differs (tests/test_docs.py)

Each row is one field of `Settings`, in the class's order: its variable (TUTOR_ + the
name), its default, the values it accepts (from the field's bounds or Literal) and its
meaning (the docstring under the field). To change the page, change server/core/config.py and
run this again."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from server.core import config  # noqa: E402
from server.core.config import Settings  # noqa: E402

PAGE = ROOT / "docs" / "settings.md"
COMMAND = ".venv/bin/python scripts/settings_doc.py"
# Defaults computed when the settings are read: the value here would be this machine's.
COMPUTED = {"threads": "the machine's cores, at most 4"}

HEADER = f"""\
# Settings

[Back to the README](../README.md)

<!-- Generated from server/core/config.py by `{COMMAND}`: edit the
Settings class there (each field's docstring is its meaning), then run that command. -->

One settings class (`server/core/config.py`); CLI flags beat `TUTOR_*` environment variables,
which beat the defaults. A bad value stops the tutor at start with one line that names
the setting, e.g. `error: TUTOR_LLM_MODEL=/x.gguf: no such file or folder, ...`, exit 2.

Where the settings are explained at length: the models in [models.md](models.md); an LLM
server (`TUTOR_LLM_*`), Wyoming speech servers (`TUTOR_STT_URL`, `TUTOR_TTS_URL`),
Postgres (`TUTOR_DATABASE_URL`), several hosts and access and limits in
[deploying.md](deploying.md); the coverage decision, the LLM reader (`TUTOR_READER`) and
the end of turn in [architecture.md](architecture.md); lessons in [lessons.md](lessons.md).

This page is generated from `server/core/config.py` by `{COMMAND}`;
`tests/test_docs.py` fails when the two differ.

| env | default | accepts | meaning |
|---|---|---|---|
"""


def docstrings() -> dict[str, str]:
    """Each field's docstring (the string right under it in the class body)."""
    tree = ast.parse(Path(inspect.getsourcefile(config)).read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            body = node.body
            for stmt, after in zip(body, body[1:] + [None], strict=True):
                if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                    continue
                if (
                    isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    found[stmt.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return found


def shown_default(name: str) -> str:
    field = Settings.model_fields[name]
    if name in COMPUTED:
        return COMPUTED[name]
    if field.default_factory is not None:
        value = field.default_factory()
        if value == []:
            return "unset"
        raise ValueError(f"{name}: a computed default; say what it is in COMPUTED")
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(ROOT):
            value = value.relative_to(ROOT)
        return f"`{value.as_posix()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def accepts(name: str) -> str:
    field = Settings.model_fields[name]
    if typing.get_origin(field.annotation) is typing.Literal:
        return ", ".join(f"`{choice}`" for choice in typing.get_args(field.annotation))
    if field.annotation is bool:
        return "`true`, `false`"
    parts = []
    for bound in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(bound, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
    return ", ".join(parts)


def cell(text: str) -> str:
    """Text as a table cell: outside code spans, setting names become code and what
    Markdown would read as markup (`<data>`, `*.example.org`) stays text."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # the even parts are outside code spans
        part = parts[i].replace("<", "&lt;").replace("*", "\\*")
        parts[i] = re.sub(r"\bTUTOR_[A-Z0-9_]+", lambda m: f"`{m.group()}`", part)
    return "`".join(parts).replace("|", "\\|")


def render() -> str:
    """The page, as it should be."""
    meanings = docstrings()
    missing = [name for name in Settings.model_fields if not meanings.get(name)]
    if missing:
        raise ValueError(f"settings without a docstring in server/core/config.py: {missing}")
    rows = []
    for name in Settings.model_fields:
        cells = [
            f"`TUTOR_{name.upper()}`",
            shown_default(name),
            accepts(name),
            cell(meanings[name]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if PAGE.exists() and PAGE.read_text() == page:
            return 0
        print(f"{PAGE.relative_to(ROOT)} is out of date: run {COMMAND}", file=sys.stderr)
        return 1
    PAGE.write_text(page)
    print(f"wrote {PAGE.relative_to(ROOT)} ({len(Settings.model_fields)} settings)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
