"""The answer path's structure stays as drawn: server/reason's folders import only
downwards (text and ground < ingest < query < index < answer < suggest), and no module
of it imports another that imports it back, even from inside a function (a circle
hidden in a function is still a circle). Read from the source with `ast`: nothing is
imported to check it."""

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "server"
REASON = SERVER / "reason"
LAYERS = ["", "ingest", "query", "index", "answer", "suggest"]  # "": text.py, ground.py


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


def graph() -> dict[str, set[str]]:
    files = sorted(REASON.rglob("*.py"))
    names = {module_name(p) for p in files}
    return {module_name(p): {m for m in imports(p) if m in names} - {module_name(p)} for p in files}


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[2] if len(parts) > 3 else ""
    return LAYERS.index(sub)


def test_reason_has_no_import_cycles() -> None:
    edges = graph()
    cycles = []
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
    assert not cycles, cycles


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
