// Helpers of the Node tests of the web client (tests/js/*.test.mjs): a page whose
// socket is open, fed server events, and its state as the shared cases table writes
// it (tests/cases/conversation_cases.json, "about"). Only the DOM-free modules of
// pollchat/web/js/ are imported; main.js (the page's wiring) is not.
import { resetState, state, chat, openConversation, peopleList, chatOrder, onlineCount, missedCount } from "../../pollchat/web/js/state.js";
import { onServerMessage } from "../../pollchat/web/js/events.js";

const BASE_TS = Date.UTC(2026, 10, 21, 10, 0, 0);

/** The `ts` a step without one gets: BASE_TS plus the step's index in seconds. */
export function stepTs(index) {
  return new Date(BASE_TS + index * 1000).toISOString();
}

/** A fresh page, logged out, whose socket is open: returns the lines it sends. */
export function freshPage() {
  resetState();
  const sent = [];
  state.ws = { readyState: 1, send: (line) => sent.push(line), close: () => {} };
  return sent;
}

/** Feed one server event (an object; `ts` added when missing) as the socket would. */
export function receive(event, ts = stepTs(0)) {
  onServerMessage(JSON.stringify({ ts, ...event }));
}

/** Run a case's steps on a fresh page. */
export function run(steps) {
  const sent = freshPage();
  steps.forEach((step, index) => {
    if ("open" in step) openConversation(step.open);
    else receive(step.event, stepTs(index));
  });
  return sent;
}

/** A line as the table writes it. The page's "announcement" kind is a notice drawn
 * in its own style (the terminal client has one kind for every notice). */
export function line(entry) {
  const body = entry.kind === "message" ? `${entry.sender}: ${entry.text}`
    : entry.kind === "action" ? `* ${entry.sender} ${entry.text}`
      : entry.kind === "error" ? `! ${entry.text}`
        : entry.text;
  return (entry.history ? "[history] " : "") + (entry.mention ? "[mention] " : "") + body;
}

/** Everything a case may expect, from the web client's state. */
export function snapshot() {
  const c = chat();
  const { online, offline } = peopleList();
  const conversations = {};
  for (const [key, conv] of c.conversations) {
    conversations[key] = {
      lines: conv.entries.map(line), unread: conv.unread, mentions: conv.mentions, activity: conv.activity,
      gone: conv.gone, topic: conv.topic, members: conv.members, role: conv.role,
    };
  }
  return {
    me: c.me, open: c.openKey, chats: chatOrder().map((conv) => conv.key), conversations,
    online: online.map((p) => `${p.name}:${p.status}`), offline: offline.map((p) => p.name),
    online_count: onlineCount(), missed: missedCount(),
  };
}
