"""The house rules of ../shared/design.md that import-linter cannot see: SQL only in storage,
the vocabulary only from types.py, and no commit in the per-update middleware."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from knowledge_base import types

REPO = Path(__file__).resolve().parents[2]
# What builds SQL: a module that imports one of these builds statements of its own.
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "and_", "or_", "exists"}
# The domain's vocabulary. (AuditAction's verbs are also the actions of admin buttons, a
# vocabulary of the keyboards; the file formats' column names are the formats' own.)
VOCABULARY = {
    member.value
    for enum in (
        types.Band,
        types.PhrasingSource,
        types.ModelStatus,
        types.InboxReason,
        types.InboxResolution,
        types.ImportOutcome,
        types.FeedbackOutcome,
        types.Learning,
    )
    for member in enum
}


def _modules(*packages: str) -> Iterator[tuple[Path, ast.Module]]:
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_only_storage_builds_sql() -> None:
    offenders = []
    for path, tree in _modules("bot", "knowledge_base"):
        if _relative(path).startswith("knowledge_base/storage/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                built = {alias.name for alias in node.names} & SQL_BUILDERS
                if built:
                    offenders.append(f"{_relative(path)}:{node.lineno} imports {sorted(built)}")
    assert offenders == []


def test_vocabulary_is_spelled_only_in_types() -> None:
    """A band, source or status compared as a string literal is a typo waiting to happen."""
    assert {"answer", "feedback", "active", "none_fit"} <= VOCABULARY  # the rule can bite
    offenders = []
    for path, tree in _modules("bot", "knowledge_base"):
        if path == REPO / "knowledge_base" / "types.py":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            for operand in (node.left, *node.comparators):
                literals = operand.elts if isinstance(operand, ast.Tuple) else [operand]
                for literal in literals:
                    if isinstance(literal, ast.Constant) and literal.value in VOCABULARY:
                        offenders.append(f"{_relative(path)}:{node.lineno} {literal.value!r}")
    assert offenders == []


def test_the_update_middleware_never_commits() -> None:
    """Each use case commits its own change; the middleware only closes the session."""
    source = (REPO / "bot" / "middlewares.py").read_text(encoding="utf-8")
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr == "commit"
    ]
    assert calls == []
