// What people expect of a chat today, in the page (docs/web-client.md): links in
// messages, command output as a block, pasted lines, alerts for mentions and private
// messages while the tab is hidden, finding groups. The pure parts of each, under Node.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { linkPieces, trimUrl, isBlock } from "../../pollchat/web/js/util.js";
import { PasteQueue, PASTE_BURST, PASTE_EVERY, PASTE_CONFIRM_ABOVE, pastedLines, isMultiLinePaste, needsConfirm, asChatText } from "../../pollchat/web/js/paste.js";
import { SETTINGS_KEY, loadSettings, saveSettings, alertDecision, alertText } from "../../pollchat/web/js/alerts.js";
import { ui, chat, state } from "../../pollchat/web/js/state.js";
import { directoryRows } from "../../pollchat/web/js/groups.js";
import { submitLine } from "../../pollchat/web/js/input.js";
import { freshPage, receive, snapshot } from "./web_state.mjs";

// --- links ------------------------------------------------------------------------------

const links = (text) => linkPieces(text).filter((p) => p.href).map((p) => p.text);

test("http and https URLs are links, with the sentence's punctuation left out", () => {
  assert.deepEqual(links("see https://example.org/a?b=1#c, then"), ["https://example.org/a?b=1#c"]);
  assert.deepEqual(links("(http://x.org/path)."), ["http://x.org/path"]);
  assert.deepEqual(links("https://en.wikipedia.org/wiki/C_(language) is it"), ["https://en.wikipedia.org/wiki/C_(language)"]);
  assert.deepEqual(links("two: http://a.example and HTTPS://B.example/X!"), ["http://a.example", "HTTPS://B.example/X"]);
  assert.deepEqual(links("\"https://q.example/\""), ["https://q.example/"]);
  assert.equal(trimUrl("http://a.org/x)]."), "http://a.org/x");
});

test("other schemes and broken URLs stay text", () => {
  for (const text of ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://x.org/f", "file:///etc/passwd",
                      "http://", "https:// spaced", "xhttp://glued.example", "http://[bad", "mailto:a@b.org",
                      "JavaScript://%0aalert(1)", "vbscript:msgbox", "http:/one-slash.example"]) {
    assert.deepEqual(links(text), [], text);
  }
});

test("a link's address is the URL parser's http or https form", () => {
  const [piece] = linkPieces("HTTPS://Example.ORG/Path").filter((p) => p.href);
  assert.equal(piece.href, "https://example.org/Path");
  assert.equal(piece.text, "HTTPS://Example.ORG/Path"); // shown as written
});

/** A small seeded generator (mulberry32), so a failure can be replayed. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PARTS = ["http://", "https://", "HTTP://", "javascript:", "data:", "x.org", "/", "?", "#", "(", ")", "[", "]",
  ".", ",", "!", "'", "\"", " ", "\n", "\t", "a", "Z", "9", "é", "日本", "🙂", "@bob", "<", ">", "&", "%20", ":", "www."];

test("generated strings: the pieces always give the text back, links are http(s) without spaces", () => {
  const next = random(20261207);
  for (let round = 0; round < 5000; round++) {
    let text = "";
    const count = Math.floor(next() * 14);
    for (let i = 0; i < count; i++) text += PARTS[Math.floor(next() * PARTS.length)];
    const pieces = linkPieces(text);
    assert.equal(pieces.map((p) => p.text).join(""), text, JSON.stringify(text));
    for (const piece of pieces) {
      if (!piece.href) continue;
      assert.match(piece.href, /^https?:\/\/[^\s]+$/, JSON.stringify(text));
      assert.match(piece.text, /^https?:\/\/\S+$/i, JSON.stringify(text));
      assert.doesNotMatch(piece.text, /[.,!'"]$/, JSON.stringify(text));
    }
    for (let i = 1; i < pieces.length; i++) assert.ok(pieces[i].href || pieces[i - 1].href, "text pieces are merged");
  }
});

// --- command output ------------------------------------------------------------------------

test("notices and errors of several lines are blocks; chat lines never are", () => {
  assert.equal(isBlock({ kind: "system", text: "online users (2):\n  bob - active, idle 0s" }), true);
  assert.equal(isBlock({ kind: "error", text: "a\nb" }), true);
  assert.equal(isBlock({ kind: "system", text: "bob has entered the chat" }), false);
  assert.equal(isBlock({ kind: "message", text: "a\nb" }), false);
  assert.equal(isBlock({ kind: "action", text: "a\nb" }), false);
});

test("/who, /groups and /help answers the user asked for land as blocks", () => {
  const sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice"] });
  receive({ type: "who", users: [{ name: "alice", status: "active", message: "", idle: 0 }] });
  receive({ type: "groups", groups: [] });
  receive({ type: "history_end" });
  sent.length = 0;
  assert.equal(submitLine("/who"), true);
  receive({ type: "who", users: [{ name: "alice", status: "active", message: "", idle: 0 },
                                 { name: "bob", status: "away", message: "lunch", idle: 90 }] });
  receive({ type: "notice", code: "help", text: "commands:\n  /who      who is online\n  /quit     leave" });
  const entries = chat().conversations.get("").entries;
  assert.deepEqual(entries.map(isBlock), [true, true]);
});

// --- pasted lines ------------------------------------------------------------------------

test("pasted text is one line per non-blank line, in order, with the box's text around the caret", () => {
  assert.deepEqual(pastedLines("one\r\ntwo\n\n  three\rfour\n"), ["one", "two", "  three", "four"]);
  assert.deepEqual(pastedLines("b\nc", "a ", " d"), ["a b", "c d"]);
  assert.equal(isMultiLinePaste("just one line"), false);
  assert.equal(isMultiLinePaste("one line and its newline\n"), false);
  assert.equal(isMultiLinePaste("one\ntwo"), true);
  assert.equal(needsConfirm(PASTE_CONFIRM_ABOVE), false);
  assert.equal(needsConfirm(PASTE_CONFIRM_ABOVE + 1), true);
});

test("a pasted line starting with / is text, never a command", () => {
  assert.equal(asChatText("/quit"), "//quit");
  assert.equal(asChatText("  /kick bob"), "//kick bob");
  assert.equal(asChatText("//already"), "///already");
  assert.equal(asChatText("plain"), "plain");
});

test("a paste goes out in order: a burst, then one line every PASTE_EVERY ms", () => {
  const queue = new PasteQueue();
  const out = [];
  const lines = Array.from({ length: PASTE_BURST + 3 }, (_, i) => `line ${i}`);
  queue.add(lines, "#g");
  assert.deepEqual(queue.drain(1000, (line, key) => out.push(`${key} ${line}`)), { sent: PASTE_BURST, dropped: 0 });
  assert.equal(queue.wait(1000), PASTE_EVERY);
  assert.equal(queue.drain(1000 + PASTE_EVERY - 1, () => assert.fail("too early")).sent, 0);
  queue.drain(1000 + PASTE_EVERY, (line, key) => out.push(`${key} ${line}`));
  queue.drain(1000 + 2 * PASTE_EVERY, (line, key) => out.push(`${key} ${line}`));
  queue.drain(1000 + 3 * PASTE_EVERY, (line, key) => out.push(`${key} ${line}`));
  assert.deepEqual(out, lines.map((line) => `#g ${line}`));
  assert.equal(queue.wait(5000), null);
});

test("the pace stays under the server's 10 lines a second for any paste", () => {
  const queue = new PasteQueue();
  const times = [];
  queue.add(Array.from({ length: 200 }, (_, i) => String(i)), "");
  for (let now = 0; queue.size; now += 10) queue.drain(now, () => times.push(now));
  for (let i = 0; i + 30 < times.length; i++) assert.ok(times[i + 30] - times[i] >= 1000, "30 lines within a second");
});

test("when a line cannot be sent the rest of the paste is dropped and counted", () => {
  const queue = new PasteQueue();
  queue.add(["a", "b", "c"], "");
  let calls = 0;
  assert.deepEqual(queue.drain(0, () => ++calls < 2), { sent: 1, dropped: 2 });
  assert.equal(queue.size, 0);
});

test("pasted lines sent through the input go to the conversation they were pasted in", () => {
  const sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice", "bob"] });
  receive({ type: "private", sender: "bob", recipient: "alice", text: "hi", outgoing: false });
  sent.length = 0;
  const bob = chat().conversations.get("bob");
  for (const line of ["first", "/not a command", "third"].map(asChatText)) assert.equal(submitLine(line, bob), true);
  assert.deepEqual(sent, ["/msg bob first", "/msg bob /not a command", "/msg bob third"]);
  sent.length = 0;
  for (const line of ["/quit", "main line"].map(asChatText)) submitLine(line, chat().conversations.get(""));
  assert.deepEqual(sent, ["//quit", "main line"]);
  assert.deepEqual(snapshot().conversations[""].lines, ["alice: /quit", "alice: main line"]);
});

// --- alerts --------------------------------------------------------------------------------

const ON = { enabled: true, sound: true };

test("alerts only for live mentions and private messages, while hidden, when turned on", () => {
  const decide = (over) => alertDecision({ kind: "private", live: true, hidden: true, settings: ON, permission: "granted", ...over });
  assert.deepEqual(decide({}), { show: true, sound: true });
  assert.deepEqual(decide({ kind: "mention" }), { show: true, sound: true });
  for (const over of [{ hidden: false }, { live: false }, { kind: "server" }, { kind: "request" },
                      { settings: { enabled: false, sound: true } }]) {
    assert.deepEqual(decide(over), { show: false, sound: false }, JSON.stringify(over));
  }
  assert.deepEqual(decide({ settings: { enabled: true, sound: false } }), { show: true, sound: false });
  assert.deepEqual(decide({ permission: "denied" }), { show: false, sound: true });
  assert.deepEqual(decide({ permission: "default" }), { show: false, sound: true });
  assert.deepEqual(decide({ permission: "unsupported" }), { show: false, sound: true });
});

function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)), data };
}

test("the choices are remembered, and anything odd in storage means the defaults", () => {
  const storage = memoryStorage();
  assert.deepEqual(loadSettings(storage), { enabled: false, sound: true });
  assert.equal(saveSettings(storage, { enabled: true, sound: false }), true);
  assert.deepEqual(JSON.parse(storage.data.get(SETTINGS_KEY)), { enabled: true, sound: false });
  assert.deepEqual(loadSettings(storage), { enabled: true, sound: false });
  for (const raw of ["not json", "null", "[1]", "{\"enabled\":\"yes\"}", "42"]) {
    assert.deepEqual(loadSettings(memoryStorage({ [SETTINGS_KEY]: raw })), { enabled: false, sound: true }, raw);
  }
  const refusing = { getItem: () => { throw new Error("SecurityError"); }, setItem: () => { throw new Error("QuotaExceeded"); } };
  assert.deepEqual(loadSettings(refusing), { enabled: false, sound: true });
  assert.equal(saveSettings(refusing, ON), false);
  assert.deepEqual(loadSettings(null), { enabled: false, sound: true });
});

test("a notification names who and where, one per conversation", () => {
  assert.deepEqual(alertText("private", "bob", "bob", "bob", "psst"), { title: "bob wrote to you", body: "psst", tag: "pollchat:bob" });
  const long = alertText("mention", "bob", "#club", "#club", "x".repeat(500));
  assert.equal(long.title, "bob mentioned you in #club");
  assert.equal(long.body.length, 160);
  assert.equal(long.tag, "pollchat:#club");
});

test("the page hands live mentions and private messages to ui.alert, replays marked as such", () => {
  const alerts = [];
  ui.alert = (n) => alerts.push(`${n.kind}:${n.who}:${n.where}:${n.live}`);
  ui.hidden = () => true;
  try {
    freshPage();
    receive({ type: "welcome", name: "alice", users: ["alice", "bob"] });
    receive({ type: "notice", code: "offline_messages", text: "1 private message(s) arrived while you were away" });
    receive({ type: "who", users: [{ name: "alice", status: "active", message: "", idle: 0 }] });
    receive({ type: "groups", groups: [] });
    receive({ type: "history_start", count: 1 });
    receive({ type: "private", sender: "carol", recipient: "alice", text: "while away", outgoing: false, history: true });
    receive({ type: "history_end" });
    receive({ type: "private", sender: "bob", recipient: "alice", text: "psst", outgoing: false });
    receive({ type: "message", sender: "bob", text: "@alice look" });
    receive({ type: "mention", sender: "bob", text: "@alice look" });
    receive({ type: "message", sender: "bob", text: "no mention" });
    assert.deepEqual(alerts, ["private:carol:carol:false", "private:bob:bob:true", "mention:bob::true"]);
  } finally {
    ui.alert = () => {};
    ui.hidden = () => false;
  }
});

// --- finding groups ------------------------------------------------------------------------

function withGroups(groups) {
  const sent = freshPage();
  receive({ type: "welcome", name: "alice", users: ["alice"] });
  receive({ type: "who", users: [{ name: "alice", status: "active", message: "", idle: 0 }] });
  receive({ type: "groups", groups });
  receive({ type: "history_end" });
  sent.length = 0;
  return sent;
}

const GROUPS = [
  { name: "familia", visibility: "private", members: 3, role: "owner", topic: "sunday lunch" },
  { name: "random", visibility: "public", members: 12, role: "", topic: "" },
  { name: "Books", visibility: "public", members: 4, role: "", topic: "what we read" },
  { name: "club", visibility: "private", members: 2, role: "pending", topic: "" },
];

test("the directory lists the user's groups first, then the others by size, with what a click does", () => {
  withGroups(GROUPS);
  assert.deepEqual(directoryRows().map((r) => `${r.name}:${r.action}:${r.members}`),
                   ["familia:open:3", "random:join:12", "Books:join:4", "club:asked:2"]);
  assert.deepEqual(directoryRows("READ").map((r) => r.name), ["Books"]);
  assert.deepEqual(directoryRows("#fam").map((r) => r.name), ["familia"]);
  assert.deepEqual(directoryRows("nothing"), []);
});

test("no directory before the server answered /groups", () => {
  freshPage();
  assert.equal(directoryRows(), null);
});

test("the directory follows joining, asking and leaving", () => {
  withGroups(GROUPS);
  receive({ type: "group", group: "random", change: "joined", name: "alice", by: "", text: "" });
  assert.equal(directoryRows().find((r) => r.name === "random").action, "open");
  assert.equal(directoryRows().find((r) => r.name === "random").members, 13);
  receive({ type: "group", group: "random", change: "left", name: "alice", by: "", text: "" });
  assert.equal(directoryRows().find((r) => r.name === "random").action, "join");
  receive({ type: "group", group: "club", change: "rejected", name: "", by: "carol", text: "" });
  assert.equal(directoryRows().find((r) => r.name === "club").action, "ask");
  receive({ type: "group", group: "club", change: "requested", name: "", by: "", text: "" });
  assert.equal(directoryRows().find((r) => r.name === "club").action, "asked");
  receive({ type: "group", group: "Books", change: "deleted", name: "", by: "root", text: "" });
  assert.equal(directoryRows().some((r) => r.name === "Books"), false);
  receive({ type: "group", group: "new", change: "created", name: "alice", by: "", text: "public" });
  assert.deepEqual(directoryRows().filter((r) => r.action === "open").map((r) => r.name), ["familia", "new"]);
});

test("the dialog's /groups lists only: no /members, no line in the chat", async () => {
  const sent = withGroups(GROUPS);
  const { sendAuto } = await import("../../pollchat/web/js/requests.js");
  const { BROWSE } = await import("../../pollchat/web/js/events.js");
  sendAuto("groups", "/groups", BROWSE);
  receive({ type: "groups", groups: GROUPS });
  assert.deepEqual(sent, ["/groups"]); // the login's answer asked /members #familia; this one does not
  assert.deepEqual(snapshot().conversations[""].lines, []);
  assert.deepEqual(state.pending.map((p) => p.cmd), ["members"]); // the login's, unanswered here
});
