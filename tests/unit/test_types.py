"""The package type-checks: ``python -m mypy`` with the settings in ``pyproject.toml``.

``[tool.mypy]`` names the package and Python 3.11; its overrides hold the seams (the
codec, the peer, the loop's handler and owner, the store interfaces, the core's
effects, the admin and command ports) to the strict options. mypy is pinned in the
``test`` extra, so the suite the README runs checks the types too.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib

import pytest

from tests import REPO_ROOT


def _mypy_settings() -> dict[str, object]:
    with open(REPO_ROOT / "pyproject.toml", "rb") as file:
        settings: dict[str, object] = tomllib.load(file)["tool"]["mypy"]
    return settings


def test_the_package_has_no_type_errors() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],  # the files and options come from pyproject.toml
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0 and not errors, "mypy found:\n" + "\n".join(errors or [result.stdout + result.stderr])


def test_the_check_covers_the_package_on_python_3_11() -> None:
    settings = _mypy_settings()
    assert settings["packages"] == ["pollchat"]
    assert settings["python_version"] == "3.11"


def test_every_strict_seam_names_a_module_that_exists() -> None:
    """mypy only notes an override for a module it never saw: a seam renamed or moved
    would lose its strict options silently, so the names are checked here."""
    overrides = _mypy_settings()["overrides"]
    assert isinstance(overrides, list)
    strict = [entry for entry in overrides if entry.get("disallow_untyped_defs")]
    modules = [name for entry in strict for name in entry["module"]]
    assert "pollchat.server.peer" in modules and "pollchat.protocol.codec" in modules
    missing = [name for name in modules if not (REPO_ROOT / (name.replace(".", "/") + ".py")).is_file()]
    assert missing == []
