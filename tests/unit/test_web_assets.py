"""The web client's files as the server serves them: every ES module shipped, listed
and sent as JavaScript (a module script of another type is refused by the browser)."""

from __future__ import annotations

import re
import tomllib

import pytest

from pollchat import web
from pollchat.server.static import load_site
from tests import REPO_ROOT

WEB_DIR = REPO_ROOT / "pollchat" / "web"


def test_every_module_on_disk_is_served_and_every_served_file_exists() -> None:
    on_disk = {f"js/{path.name}" for path in (WEB_DIR / "js").glob("*.js")}
    listed = {name for name in web.ASSETS if name.startswith("js/")}
    assert on_disk == listed
    for name in web.ASSETS:
        assert web.asset(name)


def test_modules_are_served_as_javascript() -> None:
    site = load_site()
    for module in web.MODULES:
        assert site[f"/js/{module}.js"].content_type == "text/javascript; charset=utf-8"
    assert site["/index.html"].content_type.startswith("text/html")


def test_the_page_loads_main_as_a_module_and_modules_import_only_served_files() -> None:
    index = web.asset("index.html").decode("utf-8")
    assert '<script type="module" src="js/main.js"></script>' in index
    assert "<script>" not in index  # no inline script (the CSP forbids it)
    for module in web.MODULES:
        source = web.asset(f"js/{module}.js").decode("utf-8")
        for target in re.findall(r'^import [^;]* from "([^"]+)";', source, flags=re.M):
            assert target.startswith("./") and f"js/{target[2:]}" in web.ASSETS, (module, target)


def test_package_data_ships_the_modules() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pollchat.web"]
    assert "js/*.js" in patterns and "*.html" in patterns and "*.css" in patterns


@pytest.mark.parametrize("name", ["../__init__.py", "js/../../config.py", "app.js", "js/package.json"])
def test_asset_refuses_names_outside_the_page(name: str) -> None:
    with pytest.raises(KeyError):
        web.asset(name)
