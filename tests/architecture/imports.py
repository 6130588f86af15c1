"""The repository's import graph, read with `ast` (nothing is imported): who imports what, where
in the file, and what a module pulls in transitively."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("tenants", "endpoints", "scaling", "frontend")
PACKAGES = ("control_plane", *APPS)

# The shared kernel (docs/decisions/0012): everything else under control_plane/ is the project
# shell, which may import every app.
KERNEL_PACKAGES = ("cluster", "audit", "auth", "api")
KERNEL_MODULES = (
    "conditions",
    "errors",
    "reconcile",
    "reconcile_driver",
    "reconciled",
    "transactions",
    "quantities",
    "render_context",
    "request_context",
    "scheduling",
)
SHELL_IN_KERNEL_PACKAGES = ("control_plane/api/routes.py",)
# Pure functions of their arguments and a RenderContext (docs/decisions/0012).
RENDERING_MODULES = ("tenants/manifests.py", "endpoints/manifests.py", "scaling/manifests.py")


@dataclass(frozen=True)
class Import:
    path: str  # of the importing file, relative to the root
    line: int
    module: str  # what is imported, as dotted name(s) of repository modules
    in_function: bool


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_path(name: str, root: Path = ROOT) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def python_files(*packages: str, root: Path = ROOT) -> list[Path]:
    return sorted(path for package in packages for path in (root / package).rglob("*.py"))


def kernel_files(root: Path = ROOT) -> list[Path]:
    files = python_files(*(f"control_plane/{p}" for p in KERNEL_PACKAGES), root=root)
    files += [root / "control_plane" / f"{name}.py" for name in KERNEL_MODULES]
    return [path for path in files if str(path.relative_to(root)) not in SHELL_IN_KERNEL_PACKAGES]


def _targets(node: ast.Import | ast.ImportFrom, importer: str, root: Path) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = importer.split(".")[: -node.level] if importer else []
        base = ".".join([*package, base] if base else package)
    yield base
    for alias in node.names:
        # `from package import module` imports the module.
        if module_path(f"{base}.{alias.name}", root) is not None:
            yield f"{base}.{alias.name}"


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import statement of the file, at module level, under `if TYPE_CHECKING`, or
    inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    importer = module_name(path, root)
    if path.name == "__init__.py":
        importer += ".__init__"
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, importer, root):
                    found.append(
                        Import(str(path.relative_to(root)), child.lineno, target, in_function)
                    )
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, nested)

    visit(tree, False)
    return found


def package_of(module: str) -> str:
    return module.split(".")[0]


def import_chain(start: Path, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str] | None:
    """The shortest chain of imports from `start` to a module of a `forbidden` package, or None.
    Importing `a.b.c` also runs `a` and `a.b`, so their `__init__` counts."""
    first = module_name(start, root)
    parents: dict[str, str | None] = {first: None}
    queue = deque([first])
    while queue:
        current = queue.popleft()
        path = module_path(current, root)
        if path is None:
            continue
        for found in imports_of(path, root):
            parts = found.module.split(".")
            for depth in range(1, len(parts) + 1):
                target = ".".join(parts[:depth])
                if package_of(target) not in PACKAGES or target in parents:
                    continue
                parents[target] = current
                if package_of(target) in forbidden:
                    chain = [target]
                    while parents[chain[-1]] is not None:
                        chain.append(parents[chain[-1]])
                    return chain[::-1]
                queue.append(target)
    return None
