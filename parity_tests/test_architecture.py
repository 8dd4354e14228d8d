"""The house rules, read from the code's own imports: no circles, and arrows only point down.

Floors (``docs/architecture.md`` draws them):

- ground: ``scratch``, ``torch_ref`` and ``nnlab.common`` — the twins and what they share;
- middle: ``nnlab.parity``, ``nnlab.runtime``, ``nnlab.tensorboard``, ``nnlab.dogcat``,
  ``nnlab.vanishing``, ``nnlab.overfitting`` — the parity helper, the shared helpers, the
  pipeline, the studies;
- top: ``nnlab.bench``, ``nnlab.cli`` (the programs) and ``scripts`` (their wrappers).

A module may import its own unit, any unit on a lower floor, and on its own floor only
the units :data:`SIDEWAYS` lists (so the studies may read dog/cat photos, but the
pipeline knows nothing of them, and neither study of the other). Every import counts, also one inside a
function. ``scratch`` never imports torch.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scratch", "torch_ref", "nnlab")

FLOORS = {
    "ground": ("nnlab", "nnlab.common", "scratch", "torch_ref"),
    "middle": ("nnlab.parity", "nnlab.runtime", "nnlab.tensorboard", "nnlab.dogcat", "nnlab.vanishing",
               "nnlab.overfitting"),
    "top": ("nnlab.bench", "nnlab.cli", "scripts"),
}
FLOOR_INDEX = {unit: i for i, units in enumerate(FLOORS.values()) for unit in units}

#: Imports along a floor, besides a unit's own modules.
SIDEWAYS = {
    "scratch": {"nnlab.common"},
    "torch_ref": {"nnlab.common", "scratch"},
    "nnlab.dogcat": {"nnlab.runtime", "nnlab.tensorboard"},
    "nnlab.vanishing": {"nnlab.dogcat", "nnlab.runtime", "nnlab.tensorboard"},
    "nnlab.overfitting": {"nnlab.dogcat", "nnlab.tensorboard"},
    "nnlab.cli": {"nnlab.bench"},
    "scripts": {"nnlab.bench", "nnlab.cli"},
}

MAX_LINES = 500  # a module of nnlab/ over this is usually two


def project_modules() -> dict[str, Path]:
    """Dotted name → file, for every module of the packages and every script."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted((ROOT / "scripts").glob("*.py")):
        modules[f"scripts.{path.stem}"] = path
    return modules


def imports_of(name: str, path: Path, modules: dict) -> tuple[set[str], set[str]]:
    """(project modules ``name`` imports, top-level names of everything it imports)."""
    is_package = path.name == "__init__.py"
    found, roots = set(), set()

    def project_module(dotted: str) -> str | None:
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in modules:
                return ".".join(parts[:n])
        return None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            roots.add(target.split(".")[0])
            module = project_module(target) if target.split(".")[0] in PACKAGES + ("scripts",) else None
            if module is not None and module != name:
                found.add(module)
    return found, roots


def unit_of(module: str) -> str:
    """The unit (a package or top-level module of FLOORS) a module belongs to; ``nnlab`` is only its own face."""
    units = [u for u in FLOOR_INDEX if module == u or (u != "nnlab" and module.startswith(u + "."))]
    assert units, f"{module} stands on no floor: add its package to FLOORS in {Path(__file__).name}"
    return max(units, key=len)


@pytest.fixture(scope="module")
def graph() -> dict[str, tuple[set[str], set[str]]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_every_module_stands_on_a_floor(graph):
    for module in graph:
        unit_of(module)


def test_imports_only_point_down(graph):
    wrong = []
    for module, (targets, _) in graph.items():
        unit = unit_of(module)
        for target in sorted(targets):
            other = unit_of(target)
            below = FLOOR_INDEX[other] < FLOOR_INDEX[unit]
            along = FLOOR_INDEX[other] == FLOOR_INDEX[unit] and (other == unit or other in SIDEWAYS.get(unit, ()))
            if not (below or along):
                wrong.append(f"{module} imports {target} ({unit} → {other})")
    assert not wrong, "imports against the floors:\n  " + "\n  ".join(wrong)


def test_no_import_circles(graph):
    """Tarjan's strongly connected components: any with two or more modules is a circle."""
    index, low, on_stack, stack, circles = {}, {}, set(), [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v][0]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, "modules that import each other in a circle: " + "; ".join(" ↔ ".join(c) for c in circles)


def test_scratch_never_imports_torch(graph):
    users = [m for m, (_, roots) in graph.items() if unit_of(m) == "scratch" and "torch" in roots]
    assert not users, f"the NumPy twin must run without torch, but {users} import it"


def test_modules_of_nnlab_keep_to_one_job():
    lines = {m: len(path.read_text().splitlines()) for m, path in project_modules().items() if m.startswith("nnlab")}
    long = {m: n for m, n in lines.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"
