"""The README and the pages under docs/ stay in step with the code: the settings page
names every setting, the protocol table every `ready` field and every error code a socket
can send, and every command they show is one that runs (a `tutor` command the CLI has,
with options it takes; a `make` target; an installed `python -m` module)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import typer

from server.__main__ import app
from server.core import protocol as p
from server.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# Where each checked section lives now (the README links to them).
SETTINGS_PAGE = DOCS / "settings.md"
PROTOCOL_PAGE = DOCS / "protocol.md"
# The modules a socket's errors come from, and how they name a code there: an `error()`
# call, a refusal, a `code=` argument or attribute, a `"code":` key, a TutorError's code.
SOCKET_MODULES = [
    "server/session/conversation.py",
    "server/session/admission.py",
    "server/session/reply.py",
    "server/session/turns.py",
    "server/core/protocol.py",
    "server/session/access.py",
    "server/session/quiz.py",
    "server/listen/*.py",
    "server/engines/wyoming_*.py",  # a speech server's failure reaches the socket
]
CODE_AT = re.compile(
    r'(?:\.error\(|refuse\(\s*ws,|\bcode\s*=|"code":|TutorError\([^()]*?,)\s*"([a-z_]+)"'
)


def pages() -> list[Path]:
    """The README and every page under docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def section(page: Path, title: str) -> str:
    """A page's text from its heading that starts with `title` to the next heading of the
    same or a higher level (the whole page when `title` is the page's own `# ` title)."""
    text = page.read_text()
    found = re.search(rf"^(#+) {re.escape(title)}", text, re.M)
    assert found, f"{page.relative_to(ROOT)} has no heading {title!r}"
    level = len(found.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, found.end())
    return text[found.start() : end.start() if end else None]


def socket_error_codes() -> set[str]:
    """Every error code the websocket's modules can send, found at their call sites."""
    codes: set[str] = set()
    for pattern in SOCKET_MODULES:
        for path in ROOT.glob(pattern):
            codes.update(CODE_AT.findall(path.read_text()))
    return codes


def table_row(text: str, first_cell: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(f"| `{first_cell}")]
    assert len(rows) == 1, f"one row for {first_cell!r}: {rows}"
    return rows[0]


def test_the_readme_is_short_and_links_every_docs_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert text.startswith("# Voice tutor\n\n```sh\nmake run "), "the two commands come first"
    assert "\nmake test " in text.split("```")[1]
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name}" in text, f"README links to docs/{page.name}"


def test_the_settings_table_names_every_setting() -> None:
    """docs/settings.md has a row for every setting (it is generated from the class:
    tests/test_docs.py checks that it is up to date)."""
    table = section(SETTINGS_PAGE, "Settings")
    rows = set(re.findall(r"^\| `(TUTOR_[A-Z0-9_]+)` \|", table, re.M))
    missing = [f"TUTOR_{name.upper()}" for name in Settings.model_fields]
    assert not [name for name in missing if name not in rows]


def test_the_allowed_origins_default_is_the_allowed_hosts_on_the_port() -> None:
    row = table_row(section(SETTINGS_PAGE, "Settings"), "TUTOR_ALLOWED_ORIGINS")
    assert "TUTOR_ALLOWED_HOSTS" in row and "TUTOR_PORT" in row, row


def test_the_protocol_table_shows_every_ready_field() -> None:
    row = table_row(section(PROTOCOL_PAGE, "Conversation protocol"), "ready {")
    fields = set(p.Ready.model_fields) - {"type"}
    assert not [f for f in fields if not re.search(rf"\b{f}\b", row)], row


def test_the_protocol_table_lists_every_error_code_a_socket_sends() -> None:
    codes = socket_error_codes()
    assert {"hello_timeout", "too_many_sockets", "audio_too_fast", "unauthorized"} <= codes
    row = table_row(section(PROTOCOL_PAGE, "Conversation protocol"), "error {")
    listed = set(re.findall(r"`([a-z_]+)`", row))
    assert sorted(codes - listed) == []


# --- the commands the pages show -----------------------------------------------------

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def shell_lines(text: str) -> list[str]:
    """Each command line of the text's ```sh blocks (continuations joined, comments
    dropped), then each inline code span: what a reader would type."""
    lines = []
    for lang, block in FENCE.findall(text):
        if lang != "sh":
            continue
        for line in block.replace("\\\n", " ").splitlines():
            lines.append(line.split(" #")[0].strip())
    prose = FENCE.sub("", text)
    spans = re.findall(r"`([^`]+)`", prose)  # a span may go on over a line break
    lines += [" ".join(span.split()) for span in spans if "\n\n" not in span]
    return [line for line in lines if line]


def tutor_commands(text: str) -> list[list[str]]:
    """`tutor ...` / `.venv/bin/tutor ...` as words, from the command to the end of the
    line or the next pipe, `&&` or `;`."""
    found = []
    for line in shell_lines(text):
        for match in re.finditer(r"(?:^|\s)(?:\.venv/bin/)?tutor ([^|;&]*)", line):
            try:
                words = shlex.split(match.group(1))
            except ValueError:  # an unclosed quote in a span that shows part of a command
                words = match.group(1).split()
            found.append(words)
    return found


def resolve(words: list[str]) -> tuple[object, list[str]]:
    """The CLI command the words name (a click command: typer's own copy of click), and
    the words after it."""
    command = typer.main.get_command(app)
    rest = list(words)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def test_every_tutor_command_shown_is_one_the_cli_has() -> None:
    checked = 0
    for page in pages():
        for words in tutor_commands(page.read_text()):
            if not words or not re.fullmatch(r"[a-z]+", words[0]):
                continue  # "tutor host", prose about the program rather than a command
            command, rest = resolve(words)
            where = f"{page.relative_to(ROOT)}: tutor {' '.join(words)}"
            # A group named alone ("speed lives in `tutor bench`") is fine; not a word after it.
            assert not (hasattr(command, "commands") and rest), f"{where}: no such command"
            options = {opt for param in command.params for opt in param.opts}
            for word in rest:
                flag = word.strip("[]").split("=")[0]
                if flag.startswith("--"):
                    assert flag in options, f"{where}: {flag} is not an option of it"
            checked += 1
    assert checked >= 20, checked  # the README's and the docs' commands were found


def test_every_make_target_shown_exists() -> None:
    targets = set()
    for page in pages():
        for line in shell_lines(page.read_text()):
            targets.update(re.findall(r"(?:^|\s)make ([a-z][\w-]*)", line))
    assert {"run", "test", "cluster", "reader-llm"} <= targets, targets
    for target in sorted(targets):
        done = subprocess.run(
            ["make", "--dry-run", "-C", str(ROOT), target],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"make {target}: {done.stderr}"


def test_every_python_module_shown_is_installed() -> None:
    modules = set()
    for page in pages():
        for line in shell_lines(page.read_text()):
            modules.update(re.findall(r"python -m ([A-Za-z_][\w.]*)", line))
    assert {"llama_cpp.server", "wyoming_faster_whisper", "wyoming_piper"} <= modules, modules
    for module in sorted(modules):
        top, _, rest = module.partition(".")
        spec = importlib.util.find_spec(top)  # without importing it (llama_cpp loads a library)
        assert spec is not None, f"python -m {module}: {top} is not installed"
        if rest:
            (folder,) = spec.submodule_search_locations
            path = Path(folder, *rest.split("."))
            assert path.with_suffix(".py").exists() or path.is_dir(), f"python -m {module}"
