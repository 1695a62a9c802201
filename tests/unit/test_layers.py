"""Import layering, checked by parsing every module under pollchat/ with ``ast``.

``protocol`` and ``core`` are pure (no socket, selectors, signal, sqlite3, curses, time,
threading, nor server/client/store); ``server`` and ``client`` never import each other;
``store`` never imports ``server``. Imports inside functions and ``TYPE_CHECKING`` blocks
count too. The checker itself is tested on small sources so a broken parser cannot pass
silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "pollchat"

PURE_FORBIDDEN = (
    "socket",
    "selectors",
    "signal",
    "sqlite3",
    "curses",
    "time",
    "threading",
    "pollchat.server",
    "pollchat.client",
    "pollchat.store",
)

RULES = {
    "pollchat.protocol": PURE_FORBIDDEN,
    "pollchat.core": PURE_FORBIDDEN,
    "pollchat.server": ("pollchat.client",),
    "pollchat.client": ("pollchat.server",),
    "pollchat.store": ("pollchat.server",),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` may import (``from a import b`` gives ``a`` and ``a.b``;
    relative imports are resolved against ``module``)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(filter(None, [*base_parts, node.module or ""]))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def violations(imports: set[str], forbidden: tuple[str, ...]) -> set[str]:
    return {name for name in imports for bad in forbidden if name == bad or name.startswith(bad + ".")}


def modules() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def test_the_package_is_found() -> None:
    names = {module_name(path) for path in modules()}
    assert {"pollchat.protocol.session", "pollchat.core.hub", "pollchat.server.loop"} <= names


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_imports_point_the_right_way(path: Path) -> None:
    module = module_name(path)
    imports = imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    for layer, forbidden in RULES.items():
        if module == layer or module.startswith(layer + "."):
            assert not violations(imports, forbidden), f"{module} imports {sorted(violations(imports, forbidden))}"


# --- the checker itself ---------------------------------------------------------------------------


def test_checker_sees_real_imports() -> None:
    loop = PACKAGE_ROOT / "server" / "loop.py"
    imports = imported_modules(loop.read_text(encoding="utf-8"), "pollchat.server.loop")
    assert {"selectors", "socket", "pollchat.server.connection"} <= imports


@pytest.mark.parametrize(
    ("source", "module", "expected_bad"),
    [
        ("import socket", "pollchat.core.hub", {"socket"}),
        ("import time as t", "pollchat.protocol.x", {"time"}),
        ("from time import monotonic", "pollchat.core.x", {"time", "time.monotonic"}),
        ("import os.path, selectors", "pollchat.core.x", {"selectors"}),
        ("def f():\n    import sqlite3\n", "pollchat.core.x", {"sqlite3"}),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import curses\n", "pollchat.core.x", {"curses"}),
        ("from pollchat import server", "pollchat.core.x", {"pollchat.server"}),
        ("from pollchat.store.database import Database", "pollchat.core.x", {"pollchat.store.database", "pollchat.store.database.Database"}),
        ("from ..server import loop", "pollchat.core.x", {"pollchat.server", "pollchat.server.loop"}),
        ("from ... import client", "pollchat.core.x.y", {"pollchat.client"}),
        ("from . import names", "pollchat.protocol.x", set()),
        ("import timeit, threadingx, socketserver_like", "pollchat.core.x", set()),
        ("from pollchat.protocol import render", "pollchat.core.x", set()),
    ],
)
def test_checker_on_small_sources(source: str, module: str, expected_bad: set[str]) -> None:
    assert violations(imported_modules(source, module), PURE_FORBIDDEN) == expected_bad


def test_relative_import_in_a_package_init() -> None:
    imports = imported_modules("from .loop import EventLoop", "pollchat.server", is_package=True)
    assert "pollchat.server.loop" in imports
