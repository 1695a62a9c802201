"""Import layering, checked by parsing every module under pollchat/ with ``ast``.

The layers, bottom to top (docs/architecture.md, "Layers"); each may import only the
layers named in :data:`MAY_IMPORT`, besides itself:

* ``bottom``: ``pollchat.errors``, ``config``, ``texts`` (and the package itself, for
  ``__version__``): nothing else from pollchat;
* ``helpers``: ``pollchat.cliargs`` and ``fsutil``, leaf helpers for the command lines
  and for safe file writes: nothing from pollchat;
* ``protocol``: only the bottom (never core, store, server, client);
* ``core``: protocol and the bottom (never store, server, client);
* ``store``: never server or client;
* ``server``: never client;
* ``client``: never server, store or core (it speaks the wire protocol only).

On top of that, ``protocol``, ``core`` and the client's pure modules (:data:`CLIENT_PURE`)
do no I/O and read no clock: they may not import :data:`IO_MODULES`, and the client's
pure modules may not import its front ends (:data:`CLIENT_FRONT_ENDS`), which do.

Imports inside functions and ``TYPE_CHECKING`` blocks count too. Inside a layer, no
two modules may import each other, directly or through others (an import cycle: the
modules can only be understood, tested and split together); :data:`ALLOWED_CYCLES` lists
the ones being broken. The checker itself is tested on small sources so a broken parser
cannot pass silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "pollchat"

LAYER_OF = {
    # module or package -> its layer; a package's entry covers its submodules
    "pollchat": "bottom",  # the package's __init__: only __version__
    "pollchat.errors": "bottom",
    "pollchat.config": "bottom",
    "pollchat.texts": "bottom",
    "pollchat.cliargs": "helpers",
    "pollchat.fsutil": "helpers",
    "pollchat.__main__": "helpers",  # `python -m pollchat`: a usage message, nothing more
    "pollchat.web": "helpers",  # the web client's files (package data) and their reader
    "pollchat.protocol": "protocol",
    "pollchat.core": "core",
    "pollchat.store": "store",
    "pollchat.server": "server",
    "pollchat.server.cluster": "server",  # several nodes over Redis: the only user of hiredis
    "pollchat.client": "client",
}

MAY_IMPORT = {
    # layer -> the other layers it may import (bottom to top)
    "bottom": (),
    "helpers": (),
    "protocol": ("bottom",),
    "core": ("bottom", "protocol"),
    "store": ("bottom", "helpers", "protocol", "core"),
    "server": ("bottom", "helpers", "protocol", "core", "store"),
    "client": ("bottom", "helpers", "protocol"),
}

IO_MODULES = ("socket", "selectors", "signal", "sqlite3", "curses", "time", "threading", "ssl")
"""Standard-library modules of the pure code's forbidden list: the network (TLS
included), the terminal, signals, the database, the clock and threads (the pure code
gets its time injected)."""

CLIENT_PURE = (
    "pollchat.client.app",  # behaviour: keys, server lines, clock injected
    "pollchat.client.base",  # the App's state, time and connection's life
    "pollchat.client.events",  # server events applied
    "pollchat.client.keys",  # key presses
    "pollchat.client.links",  # web links found, OSC 8 hyperlinks written as text
    "pollchat.client.paste",  # bracketed pastes told from typing
    "pollchat.client.requests",  # requests waiting for their labelled answers
    "pollchat.client.typed",  # what a typed line becomes
    "pollchat.client.groups",  # group conversations in the chat state
    "pollchat.client.model",  # the chat's data: conversations, people, notifications
    "pollchat.client.outgoing",  # typing indicators, lines cut for the wire
    "pollchat.client.reconnect",  # backoff (random source injected)
    "pollchat.client.screen",  # the renderer: state -> cells
    "pollchat.client.state",  # chat state fed by server events
    "pollchat.client.textclean",  # control characters out of server text
    "pollchat.client.textwidth",  # display widths
    "pollchat.client.ui",  # screen state and keys
)
"""The client's pure modules: no sockets, no curses, no clock, no threads."""

CLIENT_FRONT_ENDS = (
    "pollchat.client.cli",
    "pollchat.client.plain",
    "pollchat.client.tui",
    "pollchat.client.tls",
    "pollchat.client.__main__",
)
"""The client's I/O: line mode and the curses UI (their ``selectors`` loops), the CLI,
and the TLS stream both loops drive."""

CLIENT_OTHER = (
    "pollchat.client",  # the package's docstring
    "pollchat.client.config",  # the settings file: file I/O, but its ClientConfig is a plain value the App holds
)


ALLOWED_CYCLES: tuple[frozenset[str], ...] = ()
"""Import cycles inside a layer that are known and being broken: none is left."""


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


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    """``name`` is one of ``prefixes`` or inside one (``time.monotonic`` is in ``time``)."""
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(imports: set[str], forbidden: tuple[str, ...]) -> set[str]:
    return {name for name in imports if within(name, forbidden)}


def layer_of(module: str) -> str | None:
    """The layer of a pollchat module (the longest entry of :data:`LAYER_OF` that holds
    it; ``pollchat`` itself only for the package), or ``None`` if it has none."""
    parts = module.split(".")
    for length in range(len(parts), 1, -1):
        layer = LAYER_OF.get(".".join(parts[:length]))
        if layer is not None:
            return layer
    return LAYER_OF.get(module)


def problems(source: str, module: str, is_package: bool = False) -> set[str]:
    """The imports of ``source`` (the text of ``module``) that break a rule."""
    imports = imported_modules(source, module, is_package)
    layer = layer_of(module)
    assert layer is not None, f"{module} has no layer: add it to LAYER_OF"
    allowed = (layer, *MAY_IMPORT[layer])
    bad = set()
    for name in imports:
        if name == "pollchat" or name.startswith("pollchat."):
            # ``from pollchat import __version__`` names an attribute, not a module: its
            # layer is its parent's.
            target = layer_of(name) or layer_of(name.rpartition(".")[0])
            if target not in allowed:
                bad.add(name)
    if layer in ("protocol", "core") or within(module, CLIENT_PURE):
        bad |= violations(imports, IO_MODULES)
    if within(module, CLIENT_PURE):
        bad |= violations(imports, CLIENT_FRONT_ENDS)
    return bad


OPTIONAL_LIBRARIES = {
    # an optional extra's library -> the only package that may import it (the extra's
    # user), so a single server never loads it and a missing one is one clear error
    "hiredis": "pollchat.server.cluster",
    "psycopg": "pollchat.store",
}


def optional_library_problems(source: str, module: str, is_package: bool = False) -> set[str]:
    """The optional libraries ``module`` imports though it is not their package."""
    imports = imported_modules(source, module, is_package)
    return {
        name
        for name in imports
        for library, owner in OPTIONAL_LIBRARIES.items()
        if (name == library or name.startswith(library + ".")) and not within(module, (owner,))
    }


def modules() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def test_the_package_is_found() -> None:
    names = {module_name(path) for path in modules()}
    assert {"pollchat.protocol.session", "pollchat.core.hub", "pollchat.server.loop"} <= names
    assert set(CLIENT_PURE) <= names, "a pure client module listed here no longer exists"


def test_every_module_has_a_layer() -> None:
    assert [module_name(p) for p in modules() if layer_of(module_name(p)) is None] == []


def test_every_client_module_is_pure_or_said_not_to_be() -> None:
    """A new client module must be put in CLIENT_PURE (and so checked) or, if it does
    I/O, in CLIENT_FRONT_ENDS or CLIENT_OTHER."""
    client = {module_name(p) for p in modules() if layer_of(module_name(p)) == "client"}
    listed = [*CLIENT_PURE, *CLIENT_FRONT_ENDS, *CLIENT_OTHER]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert client == set(listed)


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_imports_point_the_right_way(path: Path) -> None:
    module = module_name(path)
    bad = problems(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    assert not bad, f"{module} ({layer_of(module)}) imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_optional_libraries_stay_in_their_package(path: Path) -> None:
    module = module_name(path)
    bad = optional_library_problems(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    assert not bad, f"{module} imports {sorted(bad)} (see OPTIONAL_LIBRARIES)"


def test_the_optional_library_check_on_small_sources() -> None:
    assert optional_library_problems("import hiredis\n", "pollchat.server.loop") == {"hiredis"}
    assert optional_library_problems("def f():\n    import hiredis\n", "pollchat.server.cluster.redis") == set()
    assert optional_library_problems("from psycopg import pq\n", "pollchat.server.app") == {"psycopg", "psycopg.pq"}


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the modules of ``sources`` (name -> (text, is a package)) it imports
    that are in its own layer."""
    graph = {}
    for module, (source, is_package) in sources.items():
        imports = imported_modules(source, module, is_package)
        graph[module] = {name for name in imports if name in sources and name != module and layer_of(name) == layer_of(module)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one
    module (Tarjan's algorithm, iterative so a deep package cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def test_no_import_cycles_inside_a_layer() -> None:
    sources = {module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py") for p in modules()}
    found = cycles(import_graph(sources))
    assert [sorted(cycle) for cycle in found if cycle not in ALLOWED_CYCLES] == []


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
        # the bottom and the helpers
        ("from pollchat import texts", "pollchat.errors", set()),
        ("from pollchat.protocol import names", "pollchat.config", {"pollchat.protocol", "pollchat.protocol.names"}),
        ("import pollchat.texts", "pollchat.cliargs", {"pollchat.texts"}),
        # protocol: the bottom only
        ("from pollchat import __version__, errors, texts", "pollchat.protocol.x", set()),
        ("from pollchat.core import hub", "pollchat.protocol.x", {"pollchat.core", "pollchat.core.hub"}),
        ("from pollchat import fsutil", "pollchat.protocol.x", {"pollchat.fsutil"}),
        # store, server, client
        ("from pollchat.fsutil import fsync_directory", "pollchat.store.x", set()),
        ("from pollchat.server.app import Server", "pollchat.store.x", {"pollchat.server.app", "pollchat.server.app.Server"}),
        ("import pollchat.client.state", "pollchat.server.x", {"pollchat.client.state"}),
        ("import sqlite3, socket\nfrom pollchat.store import database", "pollchat.server.x", set()),
        ("from pollchat.core.passwords import hash_password", "pollchat.client.cli", {"pollchat.core.passwords", "pollchat.core.passwords.hash_password"}),
        ("from pollchat import store", "pollchat.client.x", {"pollchat.store"}),
        ("from pollchat.server import cli", "pollchat.client.x", {"pollchat.server", "pollchat.server.cli"}),
        ("from pollchat.cliargs import whole_number\nfrom pollchat.config import DEFAULT_PORT", "pollchat.client.cli", set()),
        # the client's pure modules and its front ends
        ("import curses, socket, time", "pollchat.client.tui", set()),
        ("import socket", "pollchat.client.state", {"socket"}),
        ("from time import time", "pollchat.client.app", {"time", "time.time"}),
        ("from .plain import sanitize", "pollchat.client.state", {"pollchat.client.plain", "pollchat.client.plain.sanitize"}),
        ("from pollchat.client.config import ClientConfig", "pollchat.client.app", set()),
        ("from datetime import datetime", "pollchat.client.screen", set()),
    ],
)
def test_checker_on_small_sources(source: str, module: str, expected_bad: set[str]) -> None:
    assert problems(source, module) == expected_bad


def test_a_module_outside_every_layer_is_refused() -> None:
    assert layer_of("pollchat.newthing") is None
    with pytest.raises(AssertionError, match="no layer"):
        problems("", "pollchat.newthing")


def test_relative_import_in_a_package_init() -> None:
    imports = imported_modules("from .loop import EventLoop", "pollchat.server", is_package=True)
    assert "pollchat.server.loop" in imports


def test_the_cycle_finder_on_small_graphs() -> None:
    sources = {
        "pollchat.core.a": ("from pollchat.core import b", False),
        "pollchat.core.b": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pollchat.core.c import C\n", False),
        "pollchat.core.c": ("def f():\n    from . import a\n", False),
        "pollchat.core.d": ("from pollchat.core import a", False),
        "pollchat.protocol.e": ("", False),
        "pollchat.server.f": ("from pollchat.core import d", False),
    }
    assert cycles(import_graph(sources)) == [frozenset({"pollchat.core.a", "pollchat.core.b", "pollchat.core.c"})]
    del sources["pollchat.core.c"]
    assert cycles(import_graph(sources)) == []
    two_layers = {"pollchat.core.x": ("import pollchat.server.y", False), "pollchat.server.y": ("import pollchat.core.x", False)}
    assert cycles(import_graph(two_layers)) == []  # a layer breach, found by the other test
