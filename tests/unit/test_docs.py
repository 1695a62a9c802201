"""The documentation cannot drift from the program.

- Every ``--flag`` that README.md, docs/*.md or the manual names exists: on a
  ``pollchat-server`` / ``pollchat-client`` command line, in the parser of that program
  and subcommand; in a paragraph that names ``bench.NAME`` (or follows one that did), in
  that benchmark's ``--help``; elsewhere, in one of pollchat's parsers (or, for another program's flag,
  in a paragraph that names that program).
- Every shell example of ``pollchat-server`` / ``pollchat-client`` parses, as a shell
  splits it (``shlex``, with ``#`` starting a comment as in sh), with the program's own
  argument parser: an unquoted ``#familia`` is a comment to the shell, so the example
  would run without its group.
- Every relative link in the docs (and every ``../path`` quoted in prose) resolves to a
  file in the repository, and every ``#anchor`` to a heading of the page it points to.
- A few facts the docs quote: the CSP the server sends, the database schema version.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from pollchat.client.cli import build_parser as client_parser
from pollchat.server.cli import build_parser as server_parser
from tests import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "pollchat" / "manual.txt"]
_IDS = [str(doc.relative_to(REPO_ROOT)) for doc in DOCS]

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
PROGRAM = re.compile(r"^\s*(?:\$ )?(?:[\w./-]*/)?(pollchat-(?:server|client))(?=\s|$)")
BENCH = re.compile(r"\b(bench\.(?!py\b)[a-z_]+)")

OTHER_PROGRAMS = {
    # flags of other programs the docs quote, and the word that names the program on their line
    "certbot": {"--standalone", "--webroot", "--deploy-hook"},
    "py-spy": {"--rate", "--format", "--nonblocking"},
    "pip": {"--target"},
    "tests.tui.tui_scenes": {"--docs"},
    "node": {"--test"},
    "pg_dump": {"--format", "--file"},
    "pg_restore": {"--no-owner", "--dbname"},
}

_SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "(", ")"}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings if option.startswith("--")}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for sub in _subparsers(parser).values():
        yield from _all_parsers(sub)


@cache
def _pollchat_flags() -> frozenset[str]:
    parsers = [*_all_parsers(server_parser()), *_all_parsers(client_parser())]
    return frozenset().union(*(_flags(parser) for parser in parsers))


@cache
def _bench_flags(module: str) -> frozenset[str]:
    """The flags a benchmark's ``--help`` lists (its parser is built inside ``main``)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    return frozenset(FLAG.findall(out.getvalue()))


def _command_flags(words: list[str]) -> set[str]:
    """The flags the parser chain of a ``pollchat-server``/``pollchat-client`` command
    line accepts: the program's, then each subcommand's named on the line."""
    parser = server_parser() if words[0] == "pollchat-server" else client_parser()
    accepted = _flags(parser)
    for word in words[1:]:
        sub = _subparsers(parser).get(word)
        if sub is not None:
            parser = sub
            accepted |= _flags(parser)
    return accepted


def _snippets(text: str) -> Iterator[str]:
    """Code a reader may type: each line of a fenced block (``\\``-continued lines
    joined), and each inline code span."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        yield from block.replace("\\\n", " ").splitlines()
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)):
        yield span


def _shell_words(command: str) -> list[str]:
    """``command`` split as sh splits it (``#`` at a word's start begins a comment), up to
    the first pipe, redirection, ``&&`` or parenthesis."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    for word in lexer:
        if word in _SHELL_OPERATORS or word.startswith(">"):
            break
        words.append(word)
    return words


def _pollchat_commands(doc: Path) -> Iterator[str]:
    """Each ``pollchat-server``/``pollchat-client`` command line in ``doc``'s code (one
    that starts with the program, after a prompt or a directory), from the program's
    name on; a program's own message (``pollchat-client: ...``) is none."""
    for snippet in _snippets(doc.read_text("utf-8")):
        match = PROGRAM.search(snippet)
        if match is not None:
            yield snippet[match.start(1) :]


@pytest.mark.parametrize("doc", DOCS, ids=_IDS)
def test_every_flag_a_doc_names_exists_in_the_parser_it_means(doc: Path) -> None:
    unknown = []
    benchmarks: set[str] = set()  # those of the paragraph, else of the last one that named some
    for paragraph in re.split(r"\n\s*\n", doc.read_text("utf-8")):  # a command and its continuation lines
        benchmarks = set(BENCH.findall(paragraph)) or benchmarks
        flags = FLAG.findall(paragraph)
        if not flags:
            continue
        accepted = set(_pollchat_flags())
        for module in benchmarks:
            accepted |= _bench_flags(module)
        accepted |= set().union(*(flags for name, flags in OTHER_PROGRAMS.items() if name in paragraph))
        unknown += [f"{flag} in {paragraph.strip()[:60]!r}" for flag in flags if flag not in accepted]
    assert unknown == []


@pytest.mark.parametrize("doc", DOCS, ids=_IDS)
def test_flags_on_a_pollchat_command_line_belong_to_that_program_and_subcommand(doc: Path) -> None:
    wrong = []
    for command in _pollchat_commands(doc):
        words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "), comments=True)
        accepted = _command_flags(words)
        wrong += [f"{command}: {flag}" for flag in FLAG.findall(command) if flag not in accepted]
    assert wrong == []


def _parse_error(words: list[str]) -> str | None:
    """What the program's parser says of ``words`` (``None``: it takes them)."""
    parser = server_parser() if words[0] == "pollchat-server" else client_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(words[1:])
        except SystemExit as exit:
            return None if exit.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


@pytest.mark.parametrize("doc", DOCS, ids=_IDS)
def test_shell_examples_parse_as_the_program_expects(doc: Path) -> None:
    failures = []
    for command in _pollchat_commands(doc):
        if re.search(r"\[-|\bNAME\b.*\|", command):
            continue  # a usage synopsis (`[--role admin|user]`), not an example
        words = _shell_words(command)
        error = _parse_error(words)
        # A mention (`pollchat-client --tls`) may leave out required arguments; an
        # example must not lose an argument to the shell or name one the parser refuses.
        if error is not None and "arguments are required" not in error:
            failures.append(f"{command!r}: {error}")
    assert failures == []


def test_an_unquoted_group_is_caught() -> None:
    # What the README said: sh takes "#familia" for a comment, so --group gets nothing.
    assert _parse_error(_shell_words("pollchat-server export --group #familia --out f.txt")) is not None
    assert _parse_error(_shell_words("pollchat-server export --group '#familia' --out f.txt")) is None


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text("utf-8"), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("doc", [d for d in DOCS if d.suffix == ".md"], ids=[i for i in _IDS if i.endswith(".md")])
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text("utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.is_relative_to(REPO_ROOT.resolve()) or not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", [d for d in DOCS if d.suffix == ".md"], ids=[i for i in _IDS if i.endswith(".md")])
def test_every_relative_path_quoted_in_prose_is_inside_the_repository(doc: Path) -> None:
    # A path in a code span (`../elsewhere/file.md`) is a link too, for a reader of the source.
    text = re.sub(r"```.*?```", "", doc.read_text("utf-8"), flags=re.S)
    outside = []
    for span in re.findall(r"`(\.\.?/[^`\s]+)`", text):
        path = (doc.parent / span).resolve()
        if not path.is_relative_to(REPO_ROOT.resolve()) or not path.exists():
            outside.append(span)
    assert outside == []


def test_the_web_client_doc_quotes_the_csp_the_server_sends() -> None:
    from pollchat.protocol.http import content_security_policy

    sent = {directive.strip() for directive in content_security_policy("chat.lan:9000").split(";")}
    text = (REPO_ROOT / "docs" / "web-client.md").read_text("utf-8")
    notes = text.split("Content Security Policy", 1)[1].split("\n- ", 1)[0]
    quoted = re.findall(r"`([a-z-]+ '[a-z]+')`", notes)
    assert quoted and set(quoted) <= sent, quoted


def test_the_operations_guide_names_the_current_schema_version() -> None:
    from pollchat.store.database import SCHEMA_VERSION

    text = (REPO_ROOT / "docs" / "operations.md").read_text("utf-8")
    assert f"`PRAGMA user_version` (currently {SCHEMA_VERSION})" in text
