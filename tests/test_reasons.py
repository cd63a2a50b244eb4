"""The reason-code table is complete: every reason raised or logged in okta_bearer is in it.

The source is read with ``ast``: every call of a :class:`~okta_bearer.BearerError`
class (and of a helper that passes a ``reason`` parameter on to one), and every
``extra={"reason": ...}`` of a log call.  docs/troubleshooting.md must hold
the table rendered from okta_bearer/_reasons.py.
"""

from __future__ import annotations

import ast
import inspect
import logging
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import okta_bearer
from okta_bearer import BearerError
from okta_bearer._reasons import LOG_REASONS, REFUSALS, render, update_page

PACKAGE = Path(okta_bearer.__file__).parent
PAGE = PACKAGE.parent / "docs" / "troubleshooting.md"
Answer = tuple[int, str | None, str]


def _error_classes() -> dict[str, type[BearerError]]:
    found: dict[str, type[BearerError]] = {}
    todo: list[type[BearerError]] = [BearerError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


CLASSES = _error_classes()


def _fixed_reason(cls: type[BearerError]) -> str:
    # Classes whose reason is set in __init__ (InsufficientScope, *Unavailable).
    try:
        return cls().reason  # type: ignore[call-arg]
    except TypeError:
        return cls(()).reason  # type: ignore[call-arg, arg-type]


def _answer(cls: type[BearerError], reason: str) -> Answer:
    return (cls.status, cls.error, reason)


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _argument(node: ast.Call, name: str, position: int) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value
    return node.args[position] if len(node.args) > position else None


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef]:
    # ast.walk is breadth-first: an inner function is visited after its outer
    # one, so each node ends up owned by its innermost function.
    owner: dict[ast.AST, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                owner[inner] = node
    return owner


def scan() -> tuple[dict[Answer, list[str]], dict[str, list[str]], list[str]]:
    """(refusals raised, log reasons, places whose reason cannot be read), across the package."""
    refusals: dict[Answer, list[str]] = defaultdict(list)
    logged: dict[str, list[str]] = defaultdict(list)
    unresolved: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owners = _enclosing_functions(tree)
        # Helpers that pass their own `reason` parameter on: (name, index, class).
        forwarding: list[tuple[str, int, type[BearerError]]] = []
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        for node in calls:
            place = f"{where}:{node.lineno}"
            for keyword in node.keywords:
                if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                    for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value == "reason":
                            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                                logged[value.value].append(place)
                            elif ast.unparse(value) != "error.reason":  # the refusal itself
                                unresolved.append(place)
            cls = CLASSES.get(_callee(node) or "")
            if cls is None or where.name == "_errors.py":
                continue
            params = list(inspect.signature(cls).parameters)
            if "reason" not in params:
                refusals[_answer(cls, _fixed_reason(cls))].append(place)
                continue
            given = _argument(node, "reason", params.index("reason"))
            if given is None:
                default = inspect.signature(cls).parameters["reason"].default
                refusals[_answer(cls, default)].append(place)
            elif isinstance(given, ast.Constant) and isinstance(given.value, str):
                refusals[_answer(cls, given.value)].append(place)
            elif isinstance(given, ast.Name) and node in owners:
                function = owners[node]
                names = [a.arg for a in function.args.args if a.arg != "self"]
                if given.id not in names:
                    unresolved.append(place)
                    continue
                forwarding.append((function.name, names.index(given.id), cls))
            else:
                unresolved.append(place)
        for name, index, cls in forwarding:
            for node in calls:
                if _callee(node) != name:
                    continue
                passed = node.args[index] if len(node.args) > index else None
                if isinstance(passed, ast.Constant) and isinstance(passed.value, str):
                    refusals[_answer(cls, passed.value)].append(f"{where}:{node.lineno}")
                else:
                    unresolved.append(f"{where}:{node.lineno}")
    return refusals, logged, unresolved


RAISED, LOGGED, UNRESOLVED = scan()


def test_every_reason_is_read_from_the_source() -> None:
    """Every reason is a string literal (or a helper's literal argument), so the scan sees it."""
    assert UNRESOLVED == []
    assert len(RAISED) > 50  # the scan really finds the refusals


def test_every_refusal_raised_is_in_the_table() -> None:
    """A (status, error, reason) raised anywhere in okta_bearer/ has a row with cause and fix."""
    missing = {answer: places for answer, places in RAISED.items() if answer not in REFUSALS}
    assert missing == {}, "add these to okta_bearer/_reasons.py REFUSALS"


def test_every_row_of_the_table_is_still_raised() -> None:
    """No row documents a refusal the code no longer makes."""
    assert set(REFUSALS) - set(RAISED) == set()


def test_every_logged_reason_is_in_the_table() -> None:
    """Every reason of an issuer-side log record is listed, and every listed one is logged."""
    assert set(LOGGED) == set(LOG_REASONS)


def test_every_row_says_cause_and_fix() -> None:
    """No row has an empty cause or fix."""
    for row in (*REFUSALS.values(), *LOG_REASONS.values()):
        assert row.cause.strip()
        assert row.fix.strip()


def test_the_troubleshooting_page_holds_the_rendered_table() -> None:
    """docs/troubleshooting.md is current (regenerate: python -m okta_bearer._reasons PAGE)."""
    text = PAGE.read_text(encoding="utf-8")
    assert render() in text
    assert update_page(text) == text


def test_update_page_replaces_only_the_generated_block() -> None:
    """Regenerating keeps the hand-written text around the table."""
    stale = "# Title\n\nintro\n\n" + render().replace("`expired`", "`old_name`") + "\n\noutro\n"
    updated = update_page(stale)
    assert updated.startswith("# Title\n\nintro\n\n")
    assert updated.endswith("\n\noutro\n")
    assert render() in updated
    with pytest.raises(ValueError, match="end of generated"):
        update_page(render().rsplit("\n", 1)[0])


def test_a_refusal_log_line_names_status_error_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    """The log line a user greps for carries the same error and reason as the table's row."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from okta_bearer import BearerAuthMiddleware

    caplog.set_level(logging.INFO, logger="okta_bearer")
    app = BearerAuthMiddleware(
        Starlette(), issuer="https://okta.example.test/oauth2/default", audience="a"
    )
    TestClient(app).get("/items", headers={"Authorization": "Bearer a b"})
    (record,) = [r for r in caplog.records if "refused" in r.getMessage()]
    assert (
        record.getMessage() == "okta_bearer: refused GET '/items': 400 invalid_request (bad_header)"
    )
    assert (400, "invalid_request", "bad_header") in REFUSALS


def test_the_module_regenerates_a_page(tmp_path: Path) -> None:
    """`python -m okta_bearer._reasons PAGE` rewrites the generated block of PAGE in place."""
    page = tmp_path / "troubleshooting.md"
    page.write_text("# Troubleshooting\n\nhand-written\n", encoding="utf-8")
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "okta_bearer._reasons", str(page)], check=True, timeout=60
    )
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Troubleshooting\n\nhand-written\n")
    assert render() in text
