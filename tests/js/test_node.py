"""The web client's JavaScript tests, run by Node's built-in test runner from pytest.

``tests/js/*.test.mjs`` import the web client's ES modules (``pollchat/web/js/``) as
they are, no build step and no browser: the shared table of conversation cases
(``tests/cases/conversation_cases.json``, which ``tests/unit/test_conversation_cases.py``
runs against the terminal client) and the page's own behaviours. Running them from here
puts them in the README's one test command. Without Node they skip and say how to get
it (Debian: ``apt-get install nodejs``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests import REPO_ROOT

NODE = shutil.which("node") or shutil.which("nodejs")
TEST_FILES = sorted((REPO_ROOT / "tests" / "js").glob("*.test.mjs"))
CASES = json.loads((REPO_ROOT / "tests" / "cases" / "conversation_cases.json").read_text(encoding="utf-8"))["cases"]
TIMEOUT = 120.0
"""Seconds the whole Node run may take (it takes well under one)."""

pytestmark = pytest.mark.skipif(
    NODE is None, reason="the web client's JavaScript tests need Node.js: apt-get install nodejs"
)


@pytest.fixture(scope="module")
def node_run() -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, "--test", "--test-reporter=tap", *map(str, TEST_FILES)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


def test_node_test_runner_passes(node_run: subprocess.CompletedProcess[str]) -> None:
    failures = [line for line in node_run.stdout.splitlines() if line.lstrip().startswith("not ok")]
    assert node_run.returncode == 0 and not failures, (
        f"node --test failed ({node_run.returncode}): {failures}\n{node_run.stdout[-6000:]}\n{node_run.stderr[-2000:]}"
    )


def test_every_shared_case_ran_in_node(node_run: subprocess.CompletedProcess[str]) -> None:
    # a case the JS runner skipped would be a drift nobody sees
    # TAP escapes "#" and "\\" in names
    names = re.findall(r"^\s*ok \d+ - (.+?)\s*$", node_run.stdout, flags=re.M)
    passed = {name.replace("\\#", "#").replace("\\\\", "\\") for name in names}
    missing = [case["name"] for case in CASES if case["name"] not in passed]
    assert not missing, f"cases that did not pass under node: {missing}"
