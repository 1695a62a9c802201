// The web page's scrollback requests, search jumps and read receipts, on its DOM-free ES
// modules under Node's test runner (docs/protocol.md "Scrollback", "Search", "Read
// receipts"); what both clients share is in tests/cases/conversation_cases.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chat, state, openConversation, conversationWith, receiptMark, jumpTo } from "../../pollchat/web/js/state.js";
import { requestOlder } from "../../pollchat/web/js/requests.js";
import { freshPage, receive, stepTs } from "./web_state.mjs";

let sent;

function loggedIn(...others) {
  sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice", ...others] });
  receive({ type: "who", users: ["alice", ...others].map((name) => ({ name, status: "active", message: "", idle: 0 })) });
  receive({ type: "groups", groups: [] });
  receive({ type: "history_end" });
  sent.length = 0;
}

test("scrollback asks for the page before the oldest line, one page at a time, until the start", () => {
  loggedIn("bob");
  receive({ type: "message", sender: "bob", text: "replayed", history: true, id: 40, ts: stepTs(1) });
  assert.equal(requestOlder(""), true);
  assert.deepEqual(sent, ["/older 40 100"]);
  assert.equal(requestOlder(""), false); // waiting for the answer
  receive({ type: "older", conversation: "", before: "40", messages: [], more: false });
  assert.equal(requestOlder(""), false); // nothing older is kept
  assert.equal(chat().conversations.get("").entries[0].text, "start of the history: nothing older is kept");
});

test("a private conversation on screen reports what was read, once per new message", () => {
  loggedIn("bob");
  openConversation(conversationWith("bob").key);
  sent.length = 0;
  receive({ type: "private", sender: "bob", recipient: "alice", text: "psst", outgoing: false, ts: stepTs(2) });
  assert.deepEqual(sent, [`/read @bob ${stepTs(2)}`]);
  receive({ type: "private", sender: "alice", recipient: "bob", text: "yes?", outgoing: true, ts: stepTs(3) });
  assert.deepEqual(sent, [`/read @bob ${stepTs(2)}`]); // the user's own line: nothing to report
});

test("the user's private lines are sent, then read once a receipt covers them", () => {
  loggedIn("bob");
  receive({ type: "private", sender: "alice", recipient: "bob", text: "lunch?", outgoing: true, ts: stepTs(4) });
  receive({ type: "private", sender: "alice", recipient: "bob", text: "noon?", outgoing: true, ts: stepTs(6) });
  const conv = chat().conversations.get("bob");
  assert.deepEqual(conv.entries.map((e) => receiptMark(conv, e)), ["✓", "✓"]);
  receive({ type: "receipt", name: "bob", until: stepTs(5) });
  assert.deepEqual(conv.entries.map((e) => receiptMark(conv, e)), ["✓✓", "✓"]);
  assert.equal(receiptMark(chat().conversations.get(""), { own: true, kind: "message", ts: 0 }), "");
});

test("a search result further back is reached page by page, then marked", () => {
  loggedIn("bob");
  receive({ type: "message", sender: "bob", text: "recent", history: true, id: 500, ts: stepTs(7) });
  jumpTo({ id: 42, conversation: "", kind: "message", sender: "bob", recipient: "", text: "old news",
           outgoing: false, sent: stepTs(0) });
  assert.deepEqual(sent, ["/older 500 100"]);
  receive({ type: "older", conversation: "", before: "500", more: true, messages: [
    { id: 42, conversation: "", kind: "message", sender: "bob", recipient: "", text: "old news", outgoing: false,
      sent: stepTs(0) }] });
  assert.deepEqual(sent, ["/older 500 100"]); // found: no more pages
  const conv = chat().conversations.get("");
  assert.equal(conv.marked, 42);
  assert.equal(conv.jumpTarget, null);
  assert.equal(state.phase, "chatting");
});
