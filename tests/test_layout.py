"""The layout's rules (README, "Layout"), read from the code's own imports with `ast`.

1. Imports go downward only, TYPE_CHECKING and function-level imports included:
   config, errors, downloads, verdict -> media -> faces -> models -> analysis, data ->
   evaluation, training -> serving -> cli -> the package's API -> studio -> pages and the router.
2. No import cycles between modules.
3. A `_private` name never leaves its module (tests, benchmarks and training scripts included).
4. Each name has one import path: a name is imported from the module that defines it (only
   `mesonet/__init__.py`, the public API, hands names on), and subpackages' __init__ files import nothing.
5. Benchmarks never import tests; the core never imports streamlit.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Lower index = lower layer. A module may import its own layer's package and anything below.
LAYERS = [
    ("mesonet.config", "mesonet.errors", "mesonet.downloads", "mesonet.verdict"),
    ("mesonet.media",),
    ("mesonet.faces",),
    ("mesonet.models",),
    ("mesonet.analysis", "mesonet.data"),
    ("mesonet.evaluation", "mesonet.training"),
    ("mesonet.serving",),
    ("mesonet.cli",),
    ("mesonet",),  # __init__ (the public API) and __main__
    ("studio",),
    ("pages", "streamlit_app"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in (REPO / folder).rglob("*.py")]
    return sorted(files + ([REPO / "streamlit_app.py"] if "pages" in folders else []))


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, the layer's package this module belongs to)."""
    best = None
    for index, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and (
                best is None or len(package) > len(best[1])
            ):
                best = (index, package)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def imported_modules(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every absolute import of the project's own code in the file."""
    found = []
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
    own = ("mesonet", "studio", "pages", "streamlit_app", "tests", "benchmarks")
    expanded = []
    for line, module, names in found:
        if module.split(".")[0] not in own:
            continue
        submodules = [n for n in names if is_module(f"{module}.{n}")]  # `from mesonet import config`
        expanded += [(line, f"{module}.{n}", []) for n in submodules]
        if len(submodules) < len(names) or not names:
            expanded.append((line, module, [n for n in names if n not in submodules]))
    return expanded


@cache
def defined_names(module: str) -> frozenset[str]:
    """Top-level names a module defines (functions, classes, assignments), not those it imports."""
    path = REPO / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = REPO / module.replace(".", "/") / "__init__.py"
    names = set()
    for node in tree_of(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return frozenset(names)


def is_module(module: str) -> bool:
    base = REPO / module.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_imports_go_downward_only():
    wrong = []
    for path in source_files("mesonet", "studio", "pages"):
        here = module_name(path)
        level, package = layer_of(here)
        for line, module, _ in imported_modules(path):
            if module.split(".")[0] in ("tests", "benchmarks"):
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module}")
                continue
            their_level, their_package = layer_of(module)
            if their_level > level or (their_level == level > 0 and their_package != package):
                wrong.append(f"{path.relative_to(REPO)}:{line} ({package}) imports {module} ({their_package})")
    assert not wrong, "imports that do not go downward:\n" + "\n".join(wrong)


def test_no_import_cycles_between_modules():
    edges: dict[str, set[str]] = {}
    for path in source_files("mesonet", "studio", "pages"):
        here = module_name(path)
        targets = edges.setdefault(here, set())
        for _, module, _names in imported_modules(path):
            targets.add(module)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if target == node or target not in edges:
                continue
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    # A package's __init__ importing its own modules is its public API, not a cycle of concerns.
    cycles = [
        c
        for c in cycles
        if not all(m.split(".")[0] == c.split(".")[0] for m in c.split(" -> "))
        or not any(m in ("mesonet", "studio") for m in c.split(" -> "))
    ]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_private_names_never_leave_their_module():
    wrong = []
    for path in source_files("mesonet", "studio", "pages", "tests", "benchmarks", "training"):
        aliases = {}  # local name -> module it stands for
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        wrong.append(f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}.{alias.name}")
                    if is_module(f"{node.module}.{alias.name}"):
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        for node in ast.walk(tree_of(path)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and aliases[node.value.id].split(".")[0] in ("mesonet", "studio", "tests")
            ):
                wrong.append(f"{path.relative_to(REPO)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("mesonet."):
                last = node.value.rsplit(".", 1)[-1]
                if last.startswith("_") and not last.startswith("__") and " " not in node.value:
                    wrong.append(f"{path.relative_to(REPO)}:{node.lineno} names {node.value}")
    assert not wrong, "private names used outside their module:\n" + "\n".join(wrong)


def test_each_name_has_one_import_path():
    wrong = []
    for path in source_files("mesonet", "studio", "pages", "tests", "benchmarks", "training"):
        for line, module, names in imported_modules(path):
            if module == "mesonet" or not module.startswith("mesonet"):
                continue  # the package's public API, and studio's own
            for name in names:
                if name not in defined_names(module) and not is_module(f"{module}.{name}"):
                    wrong.append(
                        f"{path.relative_to(REPO)}:{line} takes {name} from {module}, which does not define it"
                    )
    for init in (REPO / "mesonet").glob("*/__init__.py"):
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree_of(init).body):
            wrong.append(f"{init.relative_to(REPO)} imports: subpackages hand no names on")
    assert not wrong, "\n".join(wrong)


def test_benchmarks_never_import_tests_and_the_core_never_imports_streamlit():
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in source_files("benchmarks", "training")
        for line, module, _ in imported_modules(path)
        if module.split(".")[0] == "tests"
    ]
    for path in source_files("mesonet"):
        for node in ast.walk(tree_of(path)):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            wrong += [f"{path.relative_to(REPO)}:{node.lineno} imports {n}" for n in names if n.startswith("streamlit")]
    assert not wrong, "\n".join(wrong)
