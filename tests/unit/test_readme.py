"""The README cannot lie: CI runs its test command verbatim, and its commands exist."""

import re
import shlex
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


def _venv_and_install(command: str) -> tuple[str, list[str]]:
    """The virtual environment a README command makes and its ``pip install`` arguments."""
    words = shlex.split(command)
    venv = words[words.index("venv") + 1]
    install = words.index("install")
    return venv, words[install + 1 : words.index("&&", install)]


def test_the_two_setup_commands_never_break_each_other():
    # A running server reads its package data (the manual behind /help, the name tables)
    # from where it was installed. If the test command reinstalls the same environment
    # from a copy to an editable install, those files vanish under the running server.
    (server_venv, server_args), (test_venv, test_args) = (_venv_and_install(c) for c in _readme_commands()[:2])
    if server_venv == test_venv:
        assert "-e" in server_args and "-e" in test_args, (server_args, test_args)

