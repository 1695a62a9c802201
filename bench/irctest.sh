#!/usr/bin/env bash
# Run the irctest conformance subset against this worktree's IRC gateway (issue 23).
# Usage: bench/irctest.sh [run_irctest.sh options...]   e.g. -j 2, -k testJoin, -v
# Needs the shared irctest folder (IRCTEST_HOME, default /work/shared/tools/irctest) and
# a harness venv (IRCTEST_VENV; made in a temp dir on first use, as its README shows).
# Prints "irctest: N passed, M failed, K skipped" last; docs/irc.md lists the skips.
set -u -o pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IRCTEST_HOME="${IRCTEST_HOME:-/work/shared/tools/irctest}"
export IRCTEST_VENV="${IRCTEST_VENV:-${TMPDIR:-/tmp}/pollchat-irctest-venv}"
if [ ! -x "$IRCTEST_VENV/bin/pytest" ]; then
  python3 -m venv "$IRCTEST_VENV" && "$IRCTEST_VENV/bin/pip" install -q -r "$IRCTEST_HOME/requirements-harness.txt" || exit 2
fi
# the capabilities the gateway offers: a NAK for one of them is then a failure, not a skip
export IRCTEST_CAPABILITIES="${IRCTEST_CAPABILITIES:-account-tag away-notify echo-message extended-join message-tags multi-prefix server-time}"
PATH="$HERE/.venv/bin:$PATH" exec "$IRCTEST_HOME/run_irctest.sh" --pollchat --timeout 30 --exclude-file "$HERE/bench/irctest-exclude.txt" "$@"
