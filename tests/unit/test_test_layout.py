"""The layout of tests/ that ../shared/design.md asks for: fakes, and the helpers the tests share,
live in tests/fakes/ only, and no module of tests/ imports another one outside tests/fakes/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FAKES = TESTS / "fakes"
# A class that has these is an encoder: a fake one, if a test defines it.
ENCODER_METHODS = {"encode_queries", "encode_documents", "encode_query"}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Each module the module imports from, relative imports resolved (`from .conftest import X`
    in tests/e2e gives tests.e2e.conftest; `from tests import conftest` gives tests.conftest)."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            if module == "tests":
                for alias in node.names:
                    yield node.lineno, f"tests.{alias.name}"
            else:
                yield node.lineno, module


def _is_tests_module_other_than_fakes(name: str) -> bool:
    inside_tests = name == "tests" or name.startswith("tests.")
    return inside_tests and not (name == "tests.fakes" or name.startswith("tests.fakes."))


def _base_names(node: ast.ClassDef) -> set[str]:
    return {
        base.id if isinstance(base, ast.Name) else base.attr
        for base in node.bases
        if isinstance(base, ast.Name | ast.Attribute)
    }


def _fake_class_problem(node: ast.ClassDef, fakes: set[str]) -> str | None:
    if node.name.startswith("Fake"):
        return f"defines {node.name}"
    if faked := {b for b in _base_names(node) if b.startswith("Fake") or b in fakes}:
        return f"defines {node.name}, a subclass of {', '.join(sorted(faked))}"
    methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    if methods & ENCODER_METHODS:
        return f"defines {node.name}, an encoder"
    return None


def test_fakes_live_in_tests_fakes_and_no_test_module_imports_another() -> None:
    modules = list(_modules())
    fakes = {
        node.name
        for path, tree in modules
        if path.is_relative_to(FAKES)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    assert {"TelegramStub", "FakeEncoder", "BotHarness"} <= fakes, "the fakes were not found"
    problems = []
    for path, tree in modules:
        where = path.relative_to(TESTS.parent)
        problems += [
            f"{where}:{line} imports {name}: only tests.fakes is shared"
            for line, name in _imported_modules(path, tree)
            if _is_tests_module_other_than_fakes(name)
        ]
        if path.is_relative_to(FAKES):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and (problem := _fake_class_problem(node, fakes)):
                problems.append(f"{where}:{node.lineno} {problem}: fakes live in tests/fakes/")
    assert not problems, "\n".join(problems)
