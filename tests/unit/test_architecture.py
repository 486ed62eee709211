"""The shape of the package, checked from its source: what imports what, and where the kinds of things live."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "harness"
EXTENSIONS = PACKAGE / "localstack_extensions"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def sources() -> dict[str, Path]:
    """Every module of the package, by name (the Node.js SDK's folder and built copies left out)."""
    found = {}
    for folder, children, files in os.walk(PACKAGE):
        children[:] = [child for child in children if child not in ("node_modules", "_bundled", "__pycache__")]
        for file in files:
            if file.endswith(".py"):
                found[module_name(Path(folder, file))] = Path(folder, file)
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@cache
def imports(name: str, module_level_only: bool = False) -> frozenset[str]:
    """Every module ``name`` imports, at module level and inside functions (not under TYPE_CHECKING)."""
    path = sources()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if module_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:  # `from harness import aws` names a module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in sources() else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return frozenset(found)


def harness_imports(name: str) -> set[str]:
    return {module for module in imports(name) if module in sources()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``graph`` meets, as the path that closes it."""
    state: dict[str, str] = {}
    found: list[list[str]] = []

    def walk(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return found


def test_no_import_circle_among_the_harness_modules():
    """Imports inside functions count too: a lazy import that breaks a circle at run time is still one."""
    found = circles({name: harness_imports(name) for name in sources()})
    assert not found, "import circles: " + "; ".join(" -> ".join(circle) for circle in found)


def test_no_module_needs_itself_while_it_is_imported():
    """At import time, importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first: those edges count
    here, but for the packages the importing module is in (they are already being imported)."""
    graph = {}
    for name in sources():
        targets = {module for module in imports(name, module_level_only=True) if module in sources()}
        graph[name] = {parent for target in targets for parent in _with_packages(target)} - _with_packages(name)
    found = circles(graph)
    assert not found, "import-time circles: " + "; ".join(" -> ".join(circle) for circle in found)


def _with_packages(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:length]) for length in range(1, len(parts) + 1)} & set(sources())


def test_importing_the_rules_reads_no_aws():
    """Pure rules over collected evidence: neither boto3 nor any module that reads AWS comes with them."""
    readers = ["harness.aws", "harness.observe", "harness.evidence.collect", "harness.evidence.sampler"]
    script = (
        "import sys, harness.rules\n"
        f"loaded = [m for m in ['boto3', 'botocore', *{readers!r}] if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(n for n in sources() if n.startswith("harness.localstack_extensions")))
def test_the_extensions_import_only_localstack_the_standard_library_and_each_other(name):
    # LocalStack and what it is made of (botocore models AWS for it; moto, twisted, rolo serve it; airspeed
    # renders its VTL templates). requests: API Gateway's AWS integration sends with it, and the patch that
    # serves it in process stands in.
    made_of = {"localstack", "rolo", "werkzeug", "twisted", "moto", "plux", "botocore", "requests", "airspeed"}
    allowed = set(sys.stdlib_module_names) | made_of
    outside = {
        module
        for module in imports(name)
        if module.split(".")[0] not in allowed and not module.startswith("harness.localstack_extensions")
    }
    assert not outside, f"{name} imports {sorted(outside)}"


def test_the_backend_does_not_know_how_the_stack_is_hosted():
    for name in sources():
        if name.startswith("harness.backend"):
            stack = {module for module in harness_imports(name) if module.startswith("harness.stack")}
            assert not stack, f"{name} imports {sorted(stack)}: the stack passes a Hosting instead"


def test_load_imports_no_deployer_and_functions_import_nothing_of_the_harness():
    for name in sources():
        if name.startswith("harness.load"):
            assert not {m for m in harness_imports(name) if m.startswith("harness.topology.deploy")}, name
    for path in (ROOT / "functions").rglob("*.py"):
        assert "harness" not in {module.split(".")[0] for module in _all_imports(path)}, path


def test_settings_machinery_knows_no_group():
    groups = {name for name in sources() if name.endswith(".config") and name != "harness.settings"}
    assert not harness_imports("harness.settings") & groups
    assert not harness_imports("harness.settings.flags") & groups


def _all_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module or "")
    return found


KINDS = ("dynamodb", "postgres")


def test_only_the_backend_package_and_the_settings_compare_the_backend_kind():
    """A kind written as a value anywhere else would be a branch on it; AWS's service names are not kinds."""
    for name, path in sources().items():
        if name.startswith(("harness.backend", "harness.localstack_extensions")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                literals = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                assert not set(literals) & set(KINDS), f"{name}:{node.lineno} compares a backend kind"


def test_contract_strings_are_written_once():
    """A tag, variable or header both sides of the LocalStack process boundary read is spelled only in
    harness.localstack_extensions.contract: elsewhere it is imported."""
    from harness.localstack_extensions import contract

    names = {value for key, value in vars(contract).items() if key.isupper() and isinstance(value, str)}
    for name, path in sources().items():
        if name == "harness.localstack_extensions.contract":
            continue
        literals = {c.value for c in ast.walk(ast.parse(path.read_text())) if isinstance(c, ast.Constant)}
        assert not literals & names, f"{name} spells {sorted(literals & names)} itself"
