"""The package's shape: no import cycles, printing only in command modules, no import-time work."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import alignguard

ROOT = Path(alignguard.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """alignguard modules that ``name`` imports anywhere in its body (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]:
        block.body = []  # typing-only imports do not run
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    modules = _modules()
    graph = {n: _imports(p, n, modules) - {"alignguard"} for n, p in modules.items()}
    # importing a package runs its __init__: an edge to a submodule implies one to the package
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def _entry_points(tree: ast.Module) -> list[ast.AST]:
    """A module's command entry points: ``def main`` and ``if __name__ == "__main__":``."""
    return [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name == "main")
            or (isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))]


def test_print_only_in_command_modules():
    """``print`` in ``cli.py`` modules and ``python -m`` entry points only; logging elsewhere."""
    offenders = []
    for name, path in _modules().items():
        if name.endswith(".cli"):
            continue
        tree = ast.parse(path.read_text())
        allowed = {id(n) for entry in _entry_points(tree) for n in ast.walk(entry)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
                    and id(node) not in allowed):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == [], "use logging outside cli.py modules"


def test_importing_the_package_loads_nothing_heavy():
    code = "import sys, alignguard; print(sorted(m for m in sys.modules if m in ('torch', 'transformers', 'peft')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_lazy_train_export_stays_callable():
    code = ("import alignguard, alignguard.training.loop\n"
            "from alignguard import train, TrainConfig\n"
            "assert callable(alignguard.train) and alignguard.train is train\n"
            "assert callable(TrainConfig)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
