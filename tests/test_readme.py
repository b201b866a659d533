"""The README stays in step with the code: the Settings (or Models) table names every
setting, and the protocol table every `ready` field and every error code a socket can
send."""

from __future__ import annotations

import re
from pathlib import Path

from server import protocol as p
from server.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# The modules a socket's errors come from, and how they name a code there: an `error()`
# call, a refusal, a `code=` argument or attribute, a `"code":` key, a TutorError's code.
SOCKET_MODULES = [
    "server/conversation.py",
    "server/admission.py",
    "server/reply.py",
    "server/turns.py",
    "server/protocol.py",
    "server/access.py",
    "server/lessons/live.py",
    "server/listen/*.py",
    "server/engines/wyoming_*.py",  # a speech server's failure reaches the socket
]
CODE_AT = re.compile(
    r'(?:\.error\(|refuse\(\s*ws,|\bcode\s*=|"code":|TutorError\([^()]*?,)\s*"([a-z_]+)"'
)


def section(title: str) -> str:
    """The README's text from `## title` to the next `## `."""
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


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


def test_the_settings_table_names_every_setting() -> None:
    """In the Settings table, or the Models table for a model's own setting."""
    tables = section("Settings") + section("Models")
    listed = set(re.findall(r"`(TUTOR_[A-Z0-9_]+)`", tables))
    missing = [f"TUTOR_{name.upper()}" for name in Settings.model_fields]
    assert not [name for name in missing if name not in listed]


def test_the_allowed_origins_default_is_the_allowed_hosts_on_the_port() -> None:
    row = table_row(section("Settings"), "TUTOR_ALLOWED_ORIGINS")
    assert "TUTOR_ALLOWED_HOSTS" in row and "TUTOR_PORT" in row, row


def test_the_protocol_table_shows_every_ready_field() -> None:
    row = table_row(section("Conversation protocol"), "ready {")
    fields = set(p.Ready.model_fields) - {"type"}
    assert not [f for f in fields if not re.search(rf"\b{f}\b", row)], row


def test_the_protocol_table_lists_every_error_code_a_socket_sends() -> None:
    codes = socket_error_codes()
    assert {"hello_timeout", "too_many_sockets", "audio_too_fast", "unauthorized"} <= codes
    row = table_row(section("Conversation protocol"), "error {")
    listed = set(re.findall(r"`([a-z_]+)`", row))
    assert sorted(codes - listed) == []
