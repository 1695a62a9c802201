// The web page's own behaviours (no terminal-client counterpart), on its DOM-free ES
// modules under Node's test runner. tests/cases/conversation_cases.json holds what both
// clients share; these are the page's requests and its answers to a newcomer's reports.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { ui, chat, state, onlineCount } from "../../pollchat/web/js/state.js";
import { openChatWith, pollWho } from "../../pollchat/web/js/requests.js";
import { WHO_EVERY } from "../../pollchat/web/js/util.js";
import { freshPage, receive, snapshot, stepTs } from "./web_state.mjs";

let sent;
let refused;

/** A page logged in as alice with `others` online, its login requests answered. */
function loggedIn(...others) {
  sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice", ...others] });
  receive({ type: "who", users: ["alice", ...others].map((name) => ({ name, status: "active", message: "", idle: 0 })) });
  receive({ type: "groups", groups: [] });
  receive({ type: "history_end" });
  sent.length = 0;
}

beforeEach(() => {
  refused = [];
  ui.chatRefused = (text) => refused.push(text);
});

test("opening a chat with a name nobody has asks /whois and adds no contact", () => {
  loggedIn("bob");
  assert.equal(openChatWith("zed"), true);
  assert.deepEqual(sent, ["/whois zed"]);
  receive({ type: "error", code: "no_such_user", text: "no such user: zed" });
  assert.deepEqual(refused, ["no such user: zed: nobody has registered that name"]);
  const got = snapshot();
  assert.deepEqual(got.chats, [""]);
  assert.deepEqual(got.offline, []);
  assert.equal(got.open, "");
  assert.deepEqual(got.conversations[""].lines, []); // said once, beside the form only
});

test("opening a chat with a registered name opens it under the server's spelling", () => {
  loggedIn();
  openChatWith("BOB");
  assert.deepEqual(sent, ["/whois BOB"]);
  receive({ type: "whois", name: "bob", kind: "registered", online: false, status: "offline", message: "",
            since: null, idle: null });
  const got = snapshot();
  assert.equal(got.open, "bob");
  assert.deepEqual(got.chats, ["", "bob"]);
  assert.deepEqual(got.offline, ["bob"]);
  assert.deepEqual(got.conversations[""].lines, []); // the answer is not shown as a /whois line
  assert.deepEqual(refused, []);
});

test("opening a chat that exists opens it at once", () => {
  loggedIn("bob");
  receive({ type: "private", sender: "bob", recipient: "alice", text: "psst", outgoing: false });
  openChatWith("Bob");
  assert.deepEqual(sent.filter((line) => !line.startsWith("/read ")), []); // no /whois (psst is now read)
  assert.equal(snapshot().open, "bob");
});

test("opening a chat while not connected says so", () => {
  loggedIn();
  state.ws = null;
  assert.equal(openChatWith("bob"), false);
});

test("a replay after a rename does not bring the old name back", () => {
  loggedIn("bob");
  receive({ type: "private", sender: "bob", recipient: "alice", text: "psst", outgoing: false, ts: stepTs(10) });
  receive({ type: "message", sender: "bob", text: "hello all", ts: stepTs(11) });
  receive({ type: "renamed", old: "bob", new: "robert", ts: stepTs(12) });
  // a reconnect replays the main chat and asks /history: both say "bob"
  receive({ type: "message", sender: "bob", text: "hello all", history: true, ts: stepTs(11) });
  receive({ type: "private", sender: "bob", recipient: "alice", text: "psst", outgoing: false, history: true, ts: stepTs(10) });
  receive({ type: "private", sender: "alice", recipient: "bob", text: "yes?", outgoing: true, history: true, ts: stepTs(10) });
  const got = snapshot();
  assert.deepEqual(got.chats, ["", "robert"]);
  assert.deepEqual(got.online, ["robert:active"]);
  assert.deepEqual(got.offline, []);
  assert.deepEqual(got.conversations.robert.lines, ["bob: psst", "[history] alice: yes?"]);
});

test("an old name someone takes again is theirs", () => {
  loggedIn("bob");
  receive({ type: "renamed", old: "bob", new: "robert" });
  receive({ type: "entered", name: "bob" }); // a new account called bob
  receive({ type: "message", sender: "bob", text: "i am new", history: true, ts: stepTs(30) });
  assert.deepEqual(snapshot().online, ["bob:active", "robert:active"]);
});

test("a rename of the user follows replayed lines of the old name as their own", () => {
  loggedIn("bob");
  receive({ type: "renamed", old: "alice", new: "alicia" });
  receive({ type: "message", sender: "alice", text: "said before", history: true, ts: stepTs(-60) });
  const got = snapshot();
  assert.equal(got.me, "alicia");
  assert.deepEqual(got.offline, []);
  assert.equal(chat().conversations.get("").entries[0].own, true);
});

test("a join request follows a rename of the one asking", () => {
  loggedIn("bob");
  receive({ type: "groups", groups: [{ name: "club", visibility: "private", members: 1, role: "owner", topic: "" }] });
  receive({ type: "group", group: "club", change: "request", name: "bob", by: "", text: "" });
  receive({ type: "renamed", old: "bob", new: "robert" });
  assert.deepEqual([...chat().requests.get("#club").values()], ["robert"]);
});

test("one count of people online, the user excluded", () => {
  loggedIn("bob", "carol", "dave", "erin");
  assert.equal(onlineCount(), 4);
  receive({ type: "left", name: "erin" });
  assert.equal(onlineCount(), 3);
});

test("/who is polled while chatting and its answer is not shown", () => {
  loggedIn("bob");
  pollWho(Date.now());
  assert.deepEqual(sent, []); // not due yet
  pollWho(Date.now() + WHO_EVERY);
  assert.deepEqual(sent, ["/who"]);
  receive({ type: "who", users: [{ name: "alice", status: "active", message: "", idle: 0 },
                                 { name: "bob", status: "away", message: "", idle: 400 }] });
  const got = snapshot();
  assert.deepEqual(got.online, ["bob:away"]);
  assert.deepEqual(got.conversations[""].lines, []);
});

test("no /who poll while the page is not chatting", () => {
  loggedIn("bob");
  state.phase = "reconnecting";
  pollWho(Date.now() + 10 * WHO_EVERY);
  assert.deepEqual(sent, []);
});
