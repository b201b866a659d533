"""The server's structure stays as drawn. Its folders import only downwards:

    core < engines < reason < storage < listen, speak < lessons < teach < session < web
    < ops < __main__

and inside server/reason too (text and ground < ingest < query < index < answer <
suggest). No module imports another that imports it back, even from inside a function
(a circle hidden in a function is still a circle). Read from the source with `ast`:
nothing is imported to check it."""

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "server"
REASON = SERVER / "reason"
LAYERS = ["", "ingest", "query", "index", "answer", "suggest"]  # "": text.py, ground.py
# The server's folders, lowest first; folders on one level do not import each other.
SERVER_LAYERS = [
    {"core"},
    {"engines"},
    {"reason"},
    {"storage"},
    {"listen", "speak"},
    {"lessons"},
    {"teach"},
    {"session"},
    {"web"},
    {"ops"},
    {"__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SERVER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The server modules a file imports, wherever the import stands, except under
    `if TYPE_CHECKING:` (annotations only, never run)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("server"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _exists(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("server")}
    return found


def _exists(module: str) -> bool:
    base = SERVER.parent / module.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def graph(root: Path = REASON) -> dict[str, set[str]]:
    files = sorted(root.rglob("*.py"))
    names = {module_name(p) for p in files}
    return {module_name(p): {m for m in imports(p) if m in names} - {module_name(p)} for p in files}


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[2] if len(parts) > 3 else ""
    return LAYERS.index(sub)


def cycles_in(edges: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_reason_has_no_import_cycles() -> None:
    assert not cycles_in(graph()), cycles_in(graph())


def test_the_server_has_no_import_cycles() -> None:
    edges = graph(SERVER)
    assert not cycles_in(edges), cycles_in(edges)


def folder(module: str) -> str:
    """server.session.reply -> "session"; server.__main__ -> "__main__"."""
    return module.split(".")[1]


def level(module: str) -> int:
    name = folder(module)
    found = [n for n, names in enumerate(SERVER_LAYERS) if name in names]
    assert found, f"{module}: in no layer of SERVER_LAYERS (a loose file in server/?)"
    return found[0]


def test_the_server_folders_import_only_downwards() -> None:
    """Each import goes to a lower layer or stays in its own folder; a folder on the
    same level is off limits too (listen and speak do not know each other)."""
    wrong = [
        (a, b)
        for a, targets in graph(SERVER).items()
        for b in targets
        if folder(a) != folder(b) and level(b) >= level(a)
    ]
    assert not wrong, wrong


def test_no_loose_files_in_server() -> None:
    """Every module lives in a folder that says what it may touch; only the entry point
    (`python -m server`, the `tutor` command) stands at the top."""
    loose = sorted(p.name for p in SERVER.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], loose


def test_every_server_folder_says_what_it_owns_and_may_import() -> None:
    for names in SERVER_LAYERS[:-1]:
        for name in names:
            doc = ast.get_docstring(ast.parse((SERVER / name / "__init__.py").read_text()))
            assert doc, name


def test_reason_folders_import_only_downwards() -> None:
    upward = [
        (a, b)
        for a, targets in graph().items()
        for b in targets
        if b.startswith("server.reason.") and layer(b) > layer(a)
    ]
    assert not upward, upward


def test_every_reason_folder_says_what_it_owns() -> None:
    for sub in LAYERS[1:]:
        init = REASON / sub / "__init__.py"
        assert init.exists() and ast.get_docstring(ast.parse(init.read_text())), sub
