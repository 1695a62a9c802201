#!/usr/bin/env bash
# Run the irctest conformance subset against this clone's IRC gateway.
# Usage: bench/irctest.sh [run_irctest.sh options...]   e.g. -j 2, -k testJoin, -v
# Needs the shared irctest folder (IRCTEST_HOME, default: shared/tools/irctest beside the clone) and
# a harness venv (IRCTEST_VENV; made in a temp dir on first use, as its README shows).
# Prints "irctest: N passed, M failed, K skipped" last; docs/irc.md lists the skips.
# Besides run_irctest.sh's subset it runs IRCTEST_EXTRA (default: irctest's chathistory and labeled-response tests and
# the before-connect REGISTER test, which the shared subset leaves out), unless the arguments
# already hold a "--" of their own.
set -u -o pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IRCTEST_HOME="${IRCTEST_HOME:-$HERE/../shared/tools/irctest}"
export IRCTEST_VENV="${IRCTEST_VENV:-${TMPDIR:-/tmp}/pollchat-irctest-venv}"
if [ ! -x "$IRCTEST_VENV/bin/pytest" ]; then
  python3 -m venv "$IRCTEST_VENV" && "$IRCTEST_VENV/bin/pip" install -q -r "$IRCTEST_HOME/requirements-harness.txt" || exit 2
fi
# irctest's operator (OPER operuser operpassword) is an admin of an accounts file: the
# controller's default flags plus --accounts (docs/irc.md)
OPER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pollchat-irctest-oper.XXXXXX")"
OPER_HASH="$(echo operpassword | "$HERE/.venv/bin/pollchat-server" hash-password --iterations 1000)" || exit 2
printf '[[account]]\nname = "operuser"\nrole = "admin"\npassword_hash = "%s"\n' "$OPER_HASH" > "$OPER_DIR/accounts.toml"
# the connection-password tests (PASS testpassword, NICK foo) are pollchat's "PASS password
# with the account as NICK": an account foo with that password, next to operuser
PASS_HASH="$(echo testpassword | "$HERE/.venv/bin/pollchat-server" hash-password --iterations 1000)" || exit 2
cp "$OPER_DIR/accounts.toml" "$OPER_DIR/accounts-pass.toml"
printf '\n[[account]]\nname = "foo"\npassword_hash = "%s"\n' "$PASS_HASH" >> "$OPER_DIR/accounts-pass.toml"
export IRCTEST_PASSWORD_ARGS="${IRCTEST_PASSWORD_ARGS:---accounts $OPER_DIR/accounts-pass.toml}"
export POLLCHAT_SERVER_FLAGS="${POLLCHAT_SERVER_FLAGS:-$("$IRCTEST_VENV/bin/python" - "$IRCTEST_HOME/controllers" <<'PY'
import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + "/../irctest"]
import pollchat_controller; print(pollchat_controller.DEFAULT_FLAGS)
PY
) --accounts $OPER_DIR/accounts.toml}"
# the capabilities the gateway offers: a NAK for one of them is then a failure, not a skip
export IRCTEST_CAPABILITIES="${IRCTEST_CAPABILITIES:-account-tag away-notify batch echo-message extended-join labeled-response message-tags multi-prefix server-time}"
IRCTEST_EXTRA="${IRCTEST_EXTRA-irctest/server_tests/chathistory.py irctest/server_tests/labeled_responses.py irctest/server_tests/account_registration.py::RegisterBeforeConnectTestCase}"
extra=()
case " $* " in *" -- "*) ;; *) [ -n "$IRCTEST_EXTRA" ] && read -r -a extra <<< "-- $IRCTEST_EXTRA" ;; esac
PATH="$HERE/.venv/bin:$PATH" "$IRCTEST_HOME/run_irctest.sh" --pollchat --timeout 30 --exclude-file "$HERE/bench/irctest-exclude.txt" "$@" "${extra[@]}"
status=$?
rm -rf "$OPER_DIR"
exit $status
