"""The house holds its plan: imports run one way down the layers of docs/architecture.md, with no cycle, and
nothing in the package imports, executes or compiles code at run time (generated code above all)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# top first; subpackages on one line are independent of each other
LAYERS = [
    ["cli"],
    ["emulator"],
    ["codegen", "evaluation"],
    ["training", "link"],
    ["data"],
    ["core"],
]
RANK = {pkg: i for i, row in enumerate(LAYERS) for pkg in row}
GENERATED = {"encoder", "decoder", "link", "sampler", "main", "stream"}  # the files codegen writes, as import names
DYNAMIC = {"exec", "eval", "compile", "__import__"}  # builtins that run or load code
LOADERS = {"import_module", "spec_from_file_location", "module_from_spec", "exec_module", "run_path", "run_module"}


def package_modules() -> dict[str, Path]:
    """Every module of the installed package `wzcodec`, by dotted name (the folders pyproject maps)."""
    out = {}
    roots = [(REPO / "host", "wzcodec"), (REPO / "codegen", "wzcodec.codegen")]
    for root, name in roots:
        for f in sorted(root.rglob("*.py")):
            rel = f.relative_to(root).with_suffix("")
            if "vm" in rel.parts:  # MicroPython scripts the VM runs, not modules of the package
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([name, *parts])] = f
    return out


def imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement in the file, function bodies included."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, node.lineno))
            out += [(f"{mod}.{a.name}", node.lineno) for a in node.names]  # `from pkg import module`
    return out


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "wzcodec" and parts[1] in RANK else None


def test_every_subpackage_is_in_a_layer_and_the_doc_shows_the_same_order():
    subpackages = {m.split(".")[1] for m in package_modules() if m.count(".") >= 1}
    subpackages -= {"firmware_templates", "__main__"}  # templates are data; __main__ is the command itself
    assert subpackages == set(RANK), f"subpackages outside the layer list: {subpackages ^ set(RANK)}"
    doc = (REPO / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d) \| ([^|]+) \|", doc, re.M)
    assert [[p.strip(" `") for p in cells.split(",")] for _, cells in rows] == LAYERS


def test_imports_run_down_the_layers():
    wrong = []
    for name, path in package_modules().items():
        here = layer(name)
        for target, line in imports(name, path):
            there = layer(target)
            if here is None or there is None or here == there:
                continue
            if RANK[there] <= RANK[here]:
                wrong.append(f"{path.relative_to(REPO)}:{line} ({here}) imports {target} ({there})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_package_init_imports_nothing_of_its_own():
    for name, path in package_modules().items():
        if name == "wzcodec":
            assert not [t for t, _ in imports(name, path) if t.startswith("wzcodec")]


def test_no_import_cycle_among_modules():
    mods = package_modules()
    graph = {n: {t for t, _ in imports(n, p) if t in mods and t != n} for n, p in mods.items()}
    # a package's __init__ is imported with each of its modules: `from wzcodec.x import y` is the edge to y
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def test_nothing_imports_or_runs_code_at_run_time():
    found = []
    for name, path in package_modules().items():
        tree = ast.parse(path.read_text(), str(path))
        for target, line in imports(name, path):
            top = target.split(".")[0]
            if top in GENERATED or top == "runpy":
                found.append(f"{path.relative_to(REPO)}:{line} imports {target}")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            bare = isinstance(node.func, ast.Name) and node.func.id in DYNAMIC
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if bare or (isinstance(node.func, ast.Attribute) and called in LOADERS):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} calls {called}()")
    assert not found, "code loaded or run at run time:\n" + "\n".join(found)
