/* pollchat web client: what each server event does to the state (one JSON-mode
 * event per WebSocket message, docs/protocol.md). No DOM: the page's side goes
 * through `ui` (state.js). */
import { MAIN, TYPING_TTL, LOGIN_HISTORY, AUTH_ERRORS, FINAL_NOTICES, nameKey, groupKey, mentionPattern, parseTs, whoText, whoisText, groupsText, membersText, ignoreChange } from "./util.js";
import { requestsOf, onGroupChange, reconcileGroups, onMention } from "./groups.js";
import { ui, newChat, state, chat, openConversation, isMe, isViewing, know, conversationWith, groupConversation, addLine, notify, onChatLine, currentName, nameInUse, stopTypingIn, stopTypingEverywhere, rename, onOlder, onReceipt } from "./state.js";
import { olderRefused, sendAuto, takePendingItem, takePending, takePendingPeek, answerPending, groupRequestRefused, dropUserPending, requestWho, fetchHistoryFor } from "./requests.js";
import { send, loginRefused } from "./connection.js";

// --- server events ---------------------------------------------------------------------

export function onServerMessage(data) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    // not JSON: show it as it is (a server that is not in JSON mode, a proxy...)
    if (typeof data === "string" && data.trim()) addLine(chat().openKey, data, Date.now());
    ui.render();
    return;
  }
  if (!event || typeof event !== "object" || typeof event.type !== "string") return;
  try {
    handleEvent(event, parseTs(event.ts));
  } catch (error) {
    // one odd event must not break the page: say so and carry on
    console.error("pollchat: cannot handle", event, error);
    addLine(chat().openKey, `line from the server not shown: ${error.message}`, Date.now(), "error");
  }
  ui.render();
}

export function handleEvent(e, ts) {
  const c = chat();
  switch (e.type) {
    case "greeting":
      onGreeting();
      return;
    case "mode":
      return;
    case "welcome":
      onWelcome(e, ts);
      return;
    case "error":
      onError(e, ts);
      return;
    case "notice":
      onNotice(e, ts);
      return;
    case "entered": {
      nameInUse(e.name);
      const person = know(e.name);
      Object.assign(person, { online: true, status: "active", message: "", idle: 0, measuredAt: Date.now() });
      addLine(MAIN, `${e.name} has entered the chat`, ts);
      return;
    }
    case "left": {
      const person = know(e.name);
      person.online = false;
      person.lastSeen = ts;
      stopTypingEverywhere(e.name);
      addLine(MAIN, e.reason ? `${e.name} has left the chat (${e.reason})` : `${e.name} has left the chat`, ts);
      return;
    }
    case "message":
    case "action": {
      const conv = e.group ? groupConversation(e.group) : c.conversations.get(MAIN);
      onChatLine(conv, e.type, e.sender, String(e.text), ts, e.history, false, e.id);
      return;
    }
    case "private": {
      const peer = e.outgoing ? e.recipient : e.sender;
      const conv = conversationWith(e.history ? currentName(peer) : peer);
      onChatLine(conv, "message", e.sender, String(e.text), ts, e.history, true, e.id);
      if (e.history && !e.outgoing && state.offlineBatch !== null) state.offlineBatch.push({ key: conv.key, sender: e.sender, ts });
      return;
    }
    case "status": {
      if (isMe(e.name)) {
        c.myStatus = e.status;
        c.myMessage = e.message || "";
      } else {
        const person = know(e.name);
        Object.assign(person, { online: true, status: e.status, message: e.message || "" });
        if (e.status === "active") Object.assign(person, { idle: 0, measuredAt: Date.now() });
      }
      addLine(MAIN, e.message ? `${e.name} is now ${e.status}: ${e.message}` : `${e.name} is now ${e.status}`, ts);
      return;
    }
    case "who":
      onWho(e, ts);
      return;
    case "whois":
      onWhois(e, ts);
      return;
    case "renamed":
      // the next automatic login must use the new name
      if (isMe(e.old) && state.credentials) state.credentials.name = e.new;
      rename(e.old, e.new);
      addLine(MAIN, `${e.old} is now known as ${e.new}`, ts);
      return;
    case "typing": {
      const key = e.group ? groupKey(e.group) : e.private ? nameKey(e.name) : MAIN;
      if (e.active) {
        c.typing.set(key + "\u0000" + nameKey(e.name), { name: e.name, conv: key, until: Date.now() + TYPING_TTL });
        if (!isMe(e.name)) Object.assign(know(e.name), { idle: 0, measuredAt: Date.now() });
      }
      else stopTypingIn(key, e.name);
      return;
    }
    case "mention":
      onMention(e, ts);
      return;
    case "group":
      onGroupChange(e, ts);
      return;
    case "groups":
      onGroups(e, ts);
      return;
    case "members":
      onMembers(e, ts);
      return;
    case "announcement":
    case "shutdown_warning":
    case "shutdown_cancelled": {
      const text = e.type === "announcement" ? `*** announcement from ${e.sender}: ${e.text}`
        : e.type === "shutdown_warning" ? `*** the server shuts down in ${e.seconds} second(s)${e.reason ? ": " + e.reason : ""}`
          : "*** the shutdown was cancelled";
      addLine(MAIN, text, ts, "announcement");
      notify("server", e.sender || "", MAIN, text, ts);
      return;
    }
    case "history_start":
      // the answer to our /history after the "private messages arrived" notice
      if (state.offlineCount && takePendingPeek("history")) state.offlineBatch = [];
      return;
    case "history_end":
      if (state.offlineBatch !== null) {
        for (const m of state.offlineBatch.slice(-state.offlineCount)) markOfflineUnread(m.key, m.sender, m.ts);
        state.offlineBatch = null;
        state.offlineCount = 0;
      }
      takePending("history");
      return;
    case "older":
      takePendingItem("older");
      onOlder(e);
      return;
    case "search":
      c.searchResults = e;
      ui.searchResults();
      return;
    case "receipt":
      onReceipt(e);
      return;
    case "shutdown":
      addLine(MAIN, "server is shutting down", ts, "announcement");
      return;
    default:
      return; // an event this page does not know yet: nothing to show
  }
}

export function onGreeting() {
  // The endpoint starts in JSON mode: the greeting is the cue to log in. A second
  // greeting on the same socket (the server did not take a line as login/register)
  // must not resend the password.
  if (state.sentCredentials || !state.credentials) return;
  const { register, name, password } = state.credentials;
  state.sentCredentials = true;
  send(register ? "register" : "login");
  send(`${name},${password}`);
  ui.loginProgress(`logging in as ${name}…`);
}

export function onWelcome(e, ts) {
  const again = state.loggedInOnce;
  const c = chat();
  if (c.me !== null && !isMe(e.name) && !again) {
    // someone else logs in on this page: start from a clean slate
    state.chat = newChat();
  }
  const cc = chat();
  if (cc.me !== null && !isMe(e.name)) rename(cc.me, e.name);
  cc.me = e.name;
  cc.mention = mentionPattern(e.name);
  cc.myStatus = "active";
  cc.myMessage = "";
  const online = new Set((e.users || []).map(nameKey));
  for (const [key, person] of cc.people) {
    if (person.online && !online.has(key)) Object.assign(person, { online: false, lastSeen: Date.now() });
  }
  for (const user of e.users || []) {
    if (isMe(user)) continue;
    const person = know(user);
    if (!person.online) Object.assign(person, { online: true, status: "active", message: "", idle: null });
  }
  state.phase = "chatting";
  state.loggedInOnce = true;
  state.backoffStep = 0;
  state.reconnectAt = null;
  state.lastError = "";
  state.finalNotice = null;
  state.pending = [];
  state.historyFetched.clear();
  state.offlineCount = 0;
  state.offlineBatch = null;
  if (state.credentials && state.credentials.register) state.credentials.register = false; // from now on: log in
  if (again) addLine(MAIN, `connected again as ${e.name}`, Date.now());
  ui.welcomed();
  // The answer to this /who arrives after everything the server says at login (the
  // replay, notices), so it is where the page asks for the rest (onWho).
  state.afterWelcome = true;
  requestWho();
  state.ignored = new Set();
  state.ignoreKnown = false; // asked when a person dialog first opens (screens.js)
}

export function onError(e, ts) {
  const code = e.code || "";
  const text = String(e.text || code);
  if (state.phase === "connecting" && AUTH_ERRORS.has(code)) {
    loginRefused(code, text);
    return;
  }
  if (code === "unknown_command" && text === "unknown command /typing (try /help)") {
    state.typingSupported = false; // an older server: stop sending it
    return;
  }
  if (code === "unknown_command" && text === "unknown command /read (try /help)") {
    state.readSupported = false; // an older server: no read receipts
    return;
  }
  if (olderRefused(code, text)) return;
  if (code === "no_such_user" && answerPending("whois", (arg) => text === `no such user: ${arg}`)) return;
  if ((code === "not_member" || code === "no_such_group") && groupRequestRefused(text)) return;
  if (code === "not_ignored") {
    const m = /^you do not ignore (\S+)$/.exec(text);
    if (m) state.ignored.delete(nameKey(m[1]));
  }
  if (code === "no_request") {
    // a request already answered (by another admin, or twice): drop its buttons
    const m = /^(\S+) has not asked to join #(\S+)$/.exec(text);
    if (m) requestsOf(m[2]).delete(nameKey(m[1]));
  }
  if (code === "usage") {
    const m = /^usage: \/(\w+)/.exec(text);
    if (m) dropUserPending(m[1]);
  }
  addLine(chat().openKey, text, ts, "error");
}

export function onNotice(e, ts) {
  const code = e.code || "";
  const text = String(e.text || "");
  if (code === "password_changed" && state.newPassword !== null && state.credentials) {
    state.credentials.password = state.newPassword;
    state.newPassword = null;
  }
  if (FINAL_NOTICES.has(code)) state.finalNotice = code === "goodbye" ? "You logged out." : text;
  if (code === "offline_messages") {
    const count = parseInt((/\d+/.exec(text) || ["0"])[0], 10);
    addLine(MAIN, `${count} private message(s) arrived while you were away: see the chats list`, ts);
    state.offlineCount = count; // the /history asked after login marks them unread
    return;
  }
  if (code === "history_empty") {
    const auto = takePending("history");
    if (state.offlineCount) state.offlineCount = 0;
    if (auto) return;
  }
  if (code === "your_groups" || code === "game_offer") return; // the chats list shows groups; no game here
  const change = ignoreChange(code, text);
  if (change) {
    if (change.all) {
      state.ignored = new Set(change.all.map(nameKey));
      state.ignoreKnown = true;
    }
    for (const name of change.add || []) state.ignored.add(nameKey(name));
    for (const name of change.remove || []) state.ignored.delete(nameKey(name));
    if (change.all && takePending("ignore")) return; // the list the page asked for at login
  }
  addLine(chat().openKey, text, ts, FINAL_NOTICES.has(code) ? "error" : "system");
}

export function onWho(e, ts) {
  const c = chat();
  const listed = new Set();
  for (const entry of e.users || []) {
    if (isMe(entry.name)) {
      c.myStatus = entry.status;
      c.myMessage = entry.message || "";
      continue;
    }
    const person = know(entry.name);
    Object.assign(person, { online: true, status: entry.status, message: entry.message || "",
                            idle: entry.idle, measuredAt: Date.now() });
    listed.add(nameKey(entry.name));
  }
  for (const [key, person] of c.people) {
    if (person.online && !listed.has(key)) Object.assign(person, { online: false, lastSeen: Date.now() });
  }
  if (!takePending("who")) addLine(c.openKey, whoText(e.users || []), ts);
  if (state.afterWelcome) {
    state.afterWelcome = false;
    // The login output is over: fetch the user's groups and recent private messages
    // (the server replays only the main chat at login; a reloaded page knows nothing).
    sendAuto("groups", "/groups");
    sendAuto("history", `/history ${Math.min(500, Math.max(LOGIN_HISTORY, state.offlineCount))}`);
  }
}

export function onWhois(e, ts) {
  if (!isMe(e.name)) {
    const person = know(e.name);
    person.online = Boolean(e.online);
    if (e.online) Object.assign(person, { status: e.status, message: e.message || "", idle: e.idle, measuredAt: Date.now() });
    else person.lastSeen = e.since ? parseTs(e.since) : person.lastSeen;
  }
  const request = takePendingItem("whois");
  if (request && request.panel) {
    ui.whoisAnswer(e);
    return;
  }
  if (request && request.open) {
    // "Open a chat": the name exists, so the conversation (and the contact) may too
    if (!isMe(e.name)) openConversation(conversationWith(e.name).key);
    return;
  }
  if (!request || !request.auto) addLine(chat().openKey, whoisText(e), ts);
}

/** The `arg` of the /groups the "Find groups" dialog asks (the list only, no /members). */
export const BROWSE = "browse";

export function onGroups(e, ts) {
  const owned = reconcileGroups(e.groups || []);
  const request = takePendingItem("groups");
  if (!request || !request.auto) addLine(chat().openKey, groupsText(e.groups || []), ts);
  if (request && request.auto && request.arg !== BROWSE) {
    // owners: the waiting join requests come with /members
    for (const name of owned) sendAuto("members", `/members #${name}`, name);
  }
  fetchHistoryFor(chat().openKey);
}

export function onMembers(e, ts) {
  const conv = chat().conversations.get(groupKey(e.group));
  if (conv) {
    conv.members = (e.members || []).length;
    const me = (e.members || []).find((m) => isMe(m.name));
    if (me && me.owner) conv.role = "owner";
  }
  if (Array.isArray(e.pending) || (conv && conv.role === "owner")) {
    const waiting = requestsOf(e.group);
    waiting.clear();
    for (const name of e.pending || []) waiting.set(nameKey(name), name);
  }
  const request = takePendingItem("members");
  if (!request || !request.auto) addLine(conv ? conv.key : chat().openKey, membersText(e), ts);
}

export function markOfflineUnread(key, sender, ts) {
  const conv = chat().conversations.get(key);
  if (!conv || isViewing(key)) return;
  conv.unread += 1;
  conv.activity = true;
  notify("private", sender, key, "", ts, false); // replayed at login: counted, no alert
}
