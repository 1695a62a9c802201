// Several devices and /ignore in the page (docs/web-client.md): a login refused because
// the account is online elsewhere is said in words from the error code, and the page
// keeps whom the user ignores from the server's ignore notices (the person dialog's
// Ignore button reads it). The DOM-free modules, under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { refusalInWords, ignoreChange, AUTH_ERRORS, TRANSIENT_ERRORS } from "../../pollchat/web/js/util.js";
import { state } from "../../pollchat/web/js/state.js";
import { freshPage, receive } from "./web_state.mjs";

test("an account online elsewhere is said in words from the code, not the seed's line", () => {
  assert.equal(refusalInWords("already_online", "Password already used", "alice"), "alice is already logged in elsewhere");
  assert.match(refusalInWords("too_many_sessions", "this account is logged in on 2 devices already", "alice"),
    /^alice is already logged in on as many devices as the server allows/);
  assert.equal(refusalInWords("wrong_password", "Wrong Password", "alice"), "Wrong Password");
  assert.equal(refusalInWords("already_online", "Password already used", ""), "Password already used");
  assert.ok(AUTH_ERRORS.has("too_many_sessions") && TRANSIENT_ERRORS.has("too_many_sessions"));
});

test("ignore notices give the names they are about", () => {
  const ignored = "you ignore bob now: their lines, actions, private messages, mentions and typing are not shown to you (/unignore bob undoes it)";
  assert.deepEqual(ignoreChange("ignored", ignored), { add: ["bob"] });
  assert.deepEqual(ignoreChange("already_ignored", "you ignore bob already"), { add: ["bob"] });
  assert.deepEqual(ignoreChange("unignored", "you no longer ignore bob"), { remove: ["bob"] });
  assert.deepEqual(ignoreChange("ignore_list", "you ignore: bob, Zoë"), { all: ["bob", "Zoë"] });
  assert.deepEqual(ignoreChange("ignore_none", "you ignore nobody (/ignore NAME hides someone's lines from you)"), { all: [] });
  assert.equal(ignoreChange("password_changed", "password changed"), null);
});

test("the page keeps whom the user ignores from the notices; the list it asked for is not shown", async () => {
  const sent = freshPage();
  state.phase = "connecting";
  receive({ type: "welcome", name: "alice", users: ["alice", "bob"] });
  assert.equal(sent.includes("/ignore"), false); // asked only when a person dialog opens
  const { sendAuto } = await import("../../pollchat/web/js/requests.js");
  sendAuto("ignore", "/ignore"); // as the dialog does
  receive({ type: "notice", code: "ignore_list", text: "you ignore: Bob, cy" });
  assert.ok(state.ignoreKnown);
  assert.deepEqual([...state.ignored].sort(), ["bob", "cy"]);
  assert.equal(state.pending.some((p) => p.cmd === "ignore"), false); // answered: not shown as a line
  receive({ type: "notice", code: "unignored", text: "you no longer ignore Bob" });
  receive({ type: "notice", code: "ignored", text: "you ignore dee now: their lines, actions, private messages, mentions and typing are not shown to you (/unignore dee undoes it)" });
  assert.deepEqual([...state.ignored].sort(), ["cy", "dee"]);
  receive({ type: "error", code: "not_ignored", text: "you do not ignore cy" });
  assert.deepEqual([...state.ignored], ["dee"]);
});
