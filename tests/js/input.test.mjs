// What a line typed in the page's main chat becomes (docs/web-client.md): one that starts
// with "#" is sent as "/say ..." so that it reaches the main chat as typed, never a group.
import { test } from "node:test";
import assert from "node:assert/strict";
import { submitLine, saysAsIs, SAY_PREFIX } from "../../pollchat/web/js/input.js";
import { chat, openConversation } from "../../pollchat/web/js/state.js";
import { freshPage, receive, snapshot } from "./web_state.mjs";

function inFamilia() {
  const sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice", "bob"] });
  receive({ type: "group", group: "familia", change: "created", name: "alice", by: "", text: "private" });
  openConversation("");
  sent.length = 0;
  return sent;
}

test("the decision: a line starting with # after any spaces, nothing else", () => {
  for (const text of ["#1 fan", "#hashtag", "#familia hi", "  #x", "\t#x y", "#"]) assert.equal(saysAsIs(text), true, text);
  for (const text of ["hi #1", "1 #fan", "/say #x", "@bob #x", "", "  "]) assert.equal(saysAsIs(text), false, text);
});

test("a main-chat line starting with # is sent with /say and shown in the main chat", () => {
  const sent = inFamilia();
  for (const text of ["#1 fan", "#familia hi there", "no hash #here", "//#literal"]) assert.equal(submitLine(text), true);
  assert.deepEqual(sent, ["/say #1 fan", "/say #familia hi there", "no hash #here", "//#literal"]);
  const page = snapshot();
  assert.deepEqual(page.conversations[""].lines, ["alice: #1 fan", "alice: #familia hi there", "alice: no hash #here", "alice: /#literal"]);
  assert.deepEqual(page.conversations["#familia"].lines.filter((l) => l.startsWith("alice:")), []);
});

test("a long main-chat line starting with # is /say on every piece", () => {
  const sent = inFamilia();
  const long = "#" + "x".repeat(5000);
  submitLine(long);
  assert.equal(sent.length, 2);
  assert.ok(sent.every((line) => line.startsWith(SAY_PREFIX)));
  assert.equal(sent.map((line) => line.slice(SAY_PREFIX.length)).join(""), long);
});

test("a long main-chat line is /say on every piece, so no piece becomes a command", () => {
  const sent = inFamilia();
  for (const word of ["/quit", "#familia"]) {
    sent.length = 0;
    submitLine("a".repeat(3990) + " " + word + " " + "b".repeat(100));
    assert.equal(sent.length, 2);
    assert.ok(sent.every((line) => line.startsWith(SAY_PREFIX)));
    assert.ok(sent[1].slice(SAY_PREFIX.length).startsWith(word));
  }
  sent.length = 0;
  submitLine("short line");
  assert.deepEqual(sent, ["short line"]);
});

test("in a group's conversation a line starting with # is unchanged", () => {
  const sent = inFamilia();
  submitLine("#1 fan", chat().conversations.get("#familia"));
  assert.deepEqual(sent, ["/msg #familia #1 fan"]);
});
