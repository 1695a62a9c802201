"""The README cannot lie: CI runs its test command verbatim, and its commands exist."""

import re
from tests import REPO_ROOT as ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n\s*```", quick_start, flags=re.S)


def test_quick_start_has_exactly_two_setup_commands():
    commands = [c.strip() for c in _readme_commands()]
    assert len(commands) == 3  # the two set-up commands, then how to join
    assert "pollchat-server" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _readme_commands()[1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_readme_commands_name_real_entry_points():
    scripts = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'pollchat-server = "pollchat.server.cli:main"' in scripts
    assert 'pollchat-client = "pollchat.client.cli:main"' in scripts
