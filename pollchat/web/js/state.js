/* pollchat web client: the state, fed by server events (pollchat/client/state.py).
 *
 * One object `state` for the page (connection phase, credentials in memory only,
 * requests waiting for answers...) and its `chat`: conversations keyed by the
 * lower-cased name ("" for the main chat, "#name" for a group), people, typing,
 * notifications. No DOM here: what the page must do when the state changes goes
 * through `ui`, which main.js connects to the page and Node's test runner leaves as
 * no-ops (tests/js/, tests/cases/conversation_cases.json).
 */
import { MAIN, MAX_ENTRIES, DUPLICATE_WINDOW, STATUSES, HISTORY_START, JUMP_PAGES, nameKey, groupKey, mentionPattern, parseTs, isoTs } from "./util.js";
import { fetchHistoryFor, requestOlder, reportRead } from "./requests.js";
import { typingStop } from "./typing.js";

/** The page's side of state changes: main.js replaces these no-ops. */
export const ui = {
  hidden: () => false,            // the tab is in the background (document.hidden)
  render: () => {},               // redraw soon
  opened: () => {},               // a conversation was opened: show it
  flash: () => {},                // a new notification
  alert: (notification) => {},    // a new notification: a browser notification and sound, maybe (alerts.js)
  loginProgress: (text) => {},    // the login form's progress line
  welcomed: () => {},             // logged in: show the chat screen
  whoisAnswer: (event) => {},     // the user dialog's /whois answer
  whoisUnknown: (name) => {},     // the user dialog's "no such user"
  chatRefused: (text) => {},      // "Open a chat" named nobody (the side form's error)
  searchResults: () => {},        // a /search answer arrived: show the results
};

// --- the state ---------------------------------------------------------------------------

export function newConversation(key, name, group = false) {
  return {
    key, name, group,
    entries: [],          // {kind, ts, text, sender, own, history, mention, id}, oldest first
    unread: 0,            // live lines from others while it was not on screen
    mentions: 0,
    activity: false,      // anything new (system lines too) while it was not on screen
    lastActivity: 0,
    topic: "", members: null, role: "", gone: "",
    dirtyFrom: 0,         // first entry the message pane must redraw (Infinity: none)
    olderWaiting: false,  // a scrollback page (/older) was asked for and not answered
    olderDone: false,     // the server said nothing older is kept
    jumpTo: 0,            // a search result's id to bring on screen once it is there
    marked: 0,            // the id of the message shown marked (the search result opened)
    readReported: 0,      // the newest message from the other person reported read (/read)
  };
}

export function newChat() {
  return {
    me: null,
    myStatus: "active",
    myMessage: "",
    mention: null,                                   // RegExp for "@me"
    conversations: new Map([[MAIN, newConversation(MAIN, "")]]),
    people: new Map(),                               // nameKey -> person (me excluded)
    openKey: MAIN,
    typing: new Map(),                               // "conv\u0000who" -> {name, conv, until}
    notifications: [],                               // {kind, who, where, text, ts}
    requests: new Map(),                             // groupKey -> Map(nameKey -> name)
    serverMentions: false,                           // the server sends "mention" events
    renamed: new Map(),                              // old nameKey -> the name now (renamed events)
    directory: null,                                 // the last /groups answer: [{name, visibility, members, role, topic}]
    searchResults: null,                             // the last /search answer (a "search" event)
    readMarks: new Map(),                            // nameKey -> ms: they have read my messages up to then
  };
}

/** The page's state as it is before anything happened. */
function newPageState() {
  return {
    phase: "login",          // login | connecting | chatting | reconnecting
    ws: null,
    credentials: null,       // {register, name, password}: memory only, never stored
    sentCredentials: false,  // on this socket
    loggedInOnce: false,     // reconnect by ourselves only after a first success
    finalNotice: null,       // the server said goodbye for good (kick, ban, /quit...)
    lastError: "",
    backoffStep: 0,
    reconnectAt: null,       // when the next automatic try is due (ms)
    chat: newChat(),
    pending: [],             // {cmd, auto, arg, at}: requests waiting for their answer
    afterWelcome: false,     // the first /who answer ends the server's login output
    offlineCount: 0,         // private messages missed while offline, being fetched
    offlineBatch: null,
    historyFetched: new Set(),
    typingSupported: true,
    readSupported: true,     // the server knows /read (an older one answers "unknown command")
    newPassword: null,       // from a /passwd typed, until the server confirms it
    typingOut: { target: null, lastOn: -Infinity, lastKey: 0 },
    whoisPanel: null,        // the name the user clicked, whose /whois fills the dialog
    ignored: new Set(),      // name keys of the accounts this user ignores (/ignore)
    ignoreKnown: false,      // the server's list arrived since the login
    whoAt: Infinity,         // when the next /who poll is due (ms)
    inputHistory: [],
    inputIndex: 0,
    noteUntil: 0,
    pane: "conversation",    // which pane a phone-sized screen shows
  };
}

export const state = newPageState();

/** Back to a page that was just loaded (Node's tests start each case here). */
export function resetState() {
  Object.assign(state, newPageState());
}

export const chat = () => state.chat;
export const current = () => chat().conversations.get(chat().openKey) || chat().conversations.get(MAIN);
export const isMe = (name) => chat().me !== null && nameKey(name) === nameKey(chat().me);

/** The conversation is on screen and the user can see it (the tab is visible). */
export function isViewing(key) {
  return key === chat().openKey && !ui.hidden();
}

export function know(name) {
  const key = nameKey(name);
  let person = chat().people.get(key);
  if (!person) {
    person = { name, online: false, status: "active", message: "", idle: null, measuredAt: 0, lastSeen: null };
    chat().people.set(key, person);
  }
  return person;
}

export function conversationWith(name) {
  const key = nameKey(name);
  let conv = chat().conversations.get(key);
  if (!conv) {
    conv = newConversation(key, name);
    chat().conversations.set(key, conv);
    know(name);
  }
  return conv;
}

export function groupConversation(name) {
  const key = groupKey(name);
  let conv = chat().conversations.get(key);
  if (!conv) {
    conv = newConversation(key, name, true);
    chat().conversations.set(key, conv);
  }
  conv.name = name; // the server's latest spelling
  return conv;
}

export function convLabel(conv) {
  return conv.key === MAIN ? "main chat" : conv.group ? "#" + conv.name : conv.name;
}

export function trim(conv) {
  if (conv.entries.length > MAX_ENTRIES) {
    conv.entries.splice(0, conv.entries.length - MAX_ENTRIES);
    conv.dirtyFrom = 0;
    conv.olderDone = false; // the oldest lines went: there is something older again
  }
}

export function append(conv, entry, countsUnread) {
  conv.entries.push(entry);
  conv.dirtyFrom = Math.min(conv.dirtyFrom, conv.entries.length - 1);
  trim(conv);
  conv.lastActivity = Math.max(conv.lastActivity, entry.ts);
  if (!isViewing(conv.key)) {
    conv.activity = true;
    if (countsUnread) conv.unread += 1;
  }
}

/** Insert a replayed line in time order, unless it is already there (the server
 * replays the same lines after a reconnect; our own lines were shown when sent). */
export function insertHistory(conv, entry, older = false) {
  // a scrollback page's line (older) is looked for among the first lines and never trimmed away
  const n = conv.entries.length;
  const near = older ? [...Array(Math.min(n, 500)).keys()] : [...Array(Math.min(n, 500)).keys()].map((i) => n - 1 - i);
  for (const i of near) {
    const old = conv.entries[i];
    if (old.kind === entry.kind && old.text === entry.text && old.own === entry.own
        && nameKey(old.sender) === nameKey(entry.sender) && Math.abs(old.ts - entry.ts) <= DUPLICATE_WINDOW) {
      if (entry.id && !old.id) old.id = entry.id; // it learns its id: a scrollback cursor
      return;
    }
  }
  // in order by id where both lines have one (lines of one millisecond keep the order
  // they were said in), else by time; a scrollback page's line before every line that
  // is not older than it, any other after every line that is not newer
  const after = (old) => (old.id && entry.id ? old.id > entry.id : old.ts > entry.ts);
  const before = (old) => (old.id && entry.id ? old.id < entry.id : old.ts < entry.ts);
  let at = conv.entries.length;
  if (older) {
    at = 0;
    while (at < conv.entries.length && before(conv.entries[at])) at++;
  } else {
    while (at > 0 && after(conv.entries[at - 1])) at--;
  }
  conv.entries.splice(at, 0, entry);
  conv.dirtyFrom = Math.min(conv.dirtyFrom, at);
  if (!older) trim(conv);
  conv.lastActivity = Math.max(conv.lastActivity, entry.ts);
}

// --- scrollback (client/state.py has the same) -------------------------------------------------

/** How /older names conversation `conv`: "" the main chat, "#group", "@name". */
export function scrollbackTarget(conv) {
  return conv.key === MAIN ? "" : conv.group ? "#" + conv.name : "@" + conv.name;
}

/** Where the next scrollback page of `conv` starts (/older's BEFORE): the id of its
 * oldest line when the server said it, else that line's server time, else "now". The
 * user's own main-chat and group lines carry the page's clock: they are passed over. */
export function olderCursor(conv) {
  for (const entry of conv.entries) {
    if (entry.kind !== "message" && entry.kind !== "action") continue;
    if (entry.id) return String(entry.id);
    if (entry.own && !entry.history && (conv.key === MAIN || conv.group)) continue;
    return isoTs(entry.ts);
  }
  return "now";
}

/** A scrollback page (an "older" event): its lines go in before the others, as
 * history (never unread); without `more` the start of the history is marked. */
export function onOlder(e) {
  const where = String(e.conversation || "");
  const conv = where.startsWith("#") ? groupConversation(where.slice(1))
    : where.startsWith("@") ? conversationWith(currentName(where.slice(1)))
      : chat().conversations.get(MAIN);
  conv.olderWaiting = false;
  for (const m of Array.isArray(e.messages) ? e.messages : []) {
    const own = isMe(m.sender);
    if (!own) know(m.sender);
    const entry = { kind: m.kind === "action" ? "action" : "message", ts: parseTs(m.sent), text: String(m.text),
                    sender: m.sender, own, history: true, mention: !own && mentionsMe(String(m.text)), id: m.id || 0 };
    insertHistory(conv, entry, true);
  }
  if (!e.more && !conv.olderDone) {
    conv.olderDone = true;
    const first = conv.entries.length ? conv.entries[0].ts : 0;
    conv.entries.unshift({ kind: "system", ts: first, text: HISTORY_START, sender: "", own: false, history: false, mention: false });
    conv.dirtyFrom = 0;
  }
  continueJump(conv);
}

/** The conversation a stored message names ("", "#group", "@name"), made if needed. */
export function conversationOf(where) {
  where = String(where || "");
  return where.startsWith("#") ? groupConversation(where.slice(1))
    : where.startsWith("@") ? conversationWith(currentName(where.slice(1)))
      : chat().conversations.get(MAIN);
}

/** The index of stored message `m` among `conv`'s lines: by id, or for a line shown live
 * (no id) by sender, text and time (within a second); -1 if it is not there (yet). */
export function findMessage(conv, m) {
  const sent = parseTs(m.sent);
  for (let i = conv.entries.length - 1; i >= 0; i--) {
    const entry = conv.entries[i];
    if (entry.id === m.id || (!entry.id && entry.text === String(m.text)
        && nameKey(entry.sender) === nameKey(m.sender) && Math.abs(entry.ts - sent) <= 1000)) return i;
  }
  return -1;
}

/** Bring search result `m` on screen in its conversation, marked: at once if it is
 * there, else after scrollback pages (continueJump), at most JUMP_PAGES of them. */
export function jumpTo(m) {
  const conv = conversationOf(m.conversation);
  openConversation(conv.key);
  Object.assign(conv, { jumpTo: m.id, marked: m.id, jumpTarget: m, jumpPages: 0 });
  continueJump(conv);
}

/** After a scrollback page: if the message being jumped to is there, the message pane
 * scrolls to it (render.js); if not, ask for the next page. */
export function continueJump(conv) {
  const m = conv.jumpTarget;
  if (!m) return;
  const index = findMessage(conv, m);
  if (index !== -1) {
    conv.entries[index].id = conv.entries[index].id || m.id; // a line shown live learns its id
    conv.jumpTarget = null;
    conv.dirtyFrom = 0;
    return;
  }
  if (conv.olderDone || conv.olderWaiting) return;
  if (conv.jumpPages >= JUMP_PAGES) {
    conv.jumpTarget = null;
    addLine(conv.key, `the message is further back than ${JUMP_PAGES} pages: scroll up to go on`, Date.now(), "error");
    return;
  }
  conv.jumpPages += 1;
  requestOlder(conv.key);
}

/** A system or error line in conversation `key` (the main chat if it is gone). */
export function addLine(key, text, ts, kind = "system") {
  const conv = chat().conversations.get(key) || chat().conversations.get(MAIN);
  append(conv, { kind, ts, text: String(text), sender: "", own: false, history: false, mention: false }, false);
}

/** A line the user sent that the server does not echo back (main chat and group
 * lines, /me...). Private messages are echoed (outgoing copy), so not shown here. */
export function addOwn(key, text, kind = "message") {
  const conv = chat().conversations.get(key) || chat().conversations.get(MAIN);
  append(conv, { kind, ts: Date.now(), text, sender: chat().me || "", own: true, history: false, mention: false }, false);
}

export function mentionsMe(text) {
  return chat().mention !== null && chat().mention.test(nameKey(text));
}

/** A notification for the top bar; `live` is false for what the server replayed at
 * login (private messages that came while the user was away), which the bar shows but
 * never alerts for (ui.alert decides the rest: alerts.js). */
export function notify(kind, who, where, text, ts, live = true) {
  if (kind === "private") {
    // one "wrote to you" per conversation is enough
    chat().notifications = chat().notifications.filter((n) => !(n.kind === "private" && n.where === where));
  }
  const notification = { kind, who, where, text, ts, at: Date.now(), live };
  chat().notifications.push(notification);
  ui.flash();
  ui.alert(notification);
}

/** A chat line (main, group or private) from `sender`, live or replayed. */
export function onChatLine(conv, kind, sender, text, ts, history, isPrivate, id = 0) {
  const who = history ? currentName(sender) : sender; // history keeps the names of its time
  const own = isMe(who);
  if (!own) {
    const person = know(who);
    if (!history) Object.assign(person, { idle: 0, measuredAt: Date.now() }); // they are here
  }
  if (!history) nameInUse(sender);
  // marked wherever it is (client/state.py); a private line counts as private, below
  const mention = !own && mentionsMe(text);
  const entry = { kind, ts, text, sender, own, history: Boolean(history), mention, id: Number(id) || 0 };
  stopTypingIn(conv.key, sender);
  if (history) {
    insertHistory(conv, entry);
    return;
  }
  const counts = !own && !isViewing(conv.key);
  append(conv, entry, counts);
  if (isPrivate && !own && isViewing(conv.key)) reportRead(conv.key);
  if (!counts) return;
  if (mention && !isPrivate && !chat().serverMentions) {
    // A server with "mention" events follows the line with one, which notifies.
    conv.mentions += 1;
    notify("mention", sender, conv.key, text, ts);
  } else if (isPrivate) {
    notify("private", sender, conv.key, text, ts);
  }
}

export function openConversation(key) {
  const c = chat();
  if (!c.conversations.has(key)) key = MAIN;
  if (key !== c.openKey) {
    typingStop();
    c.openKey = key;
    c.conversations.get(key).dirtyFrom = 0;
  }
  markRead(key);
  fetchHistoryFor(key);
  reportRead(key);
  ui.opened();
}

export function markRead(key) {
  const conv = chat().conversations.get(key);
  if (!conv) return;
  conv.unread = 0;
  conv.mentions = 0;
  conv.activity = false;
  chat().notifications = chat().notifications.filter((n) => n.where !== key || n.kind === "server");
}

export function stopTypingIn(convKey, name) {
  chat().typing.delete(convKey + "\u0000" + nameKey(name));
}

export function stopTypingEverywhere(name) {
  const who = nameKey(name);
  for (const [key, value] of chat().typing) {
    if (nameKey(value.name) === who) chat().typing.delete(key);
  }
}

export function typingNames(convKey) {
  const now = Date.now();
  return [...chat().typing.values()].filter((t) => t.conv === convKey && t.until > now).map((t) => t.name);
}

export function rename(oldName, newName) {
  const c = chat();
  const oldKey = nameKey(oldName);
  const newKey = nameKey(newName);
  if (isMe(oldName)) {
    c.me = newName;
    c.mention = mentionPattern(newName);
  }
  if (c.people.has(oldKey)) {
    const person = c.people.get(oldKey);
    c.people.delete(oldKey);
    person.name = newName;
    c.people.set(newKey, person);
  }
  if (c.conversations.has(oldKey) && oldKey !== newKey && !c.conversations.has(newKey)) {
    const conv = c.conversations.get(oldKey);
    c.conversations.delete(oldKey);
    conv.key = newKey;
    conv.name = newName;
    c.conversations.set(newKey, conv);
    if (c.openKey === oldKey) c.openKey = newKey;
  } else if (c.conversations.has(oldKey)) {
    c.conversations.get(oldKey).name = newName;
  }
  stopTypingEverywhere(oldName);
  for (const n of c.notifications) {
    if (nameKey(n.who) === oldKey) n.who = newName;
    if (n.where === oldKey) n.where = newKey;
  }
  for (const waiting of c.requests.values()) {
    if (waiting.delete(oldKey)) waiting.set(newKey, newName); // a join request follows its asker
  }
  // Replayed history still says the old name (the server stores names as they were):
  // remember where it went, so a replay does not bring back a contact that is nobody.
  for (const [key, name] of c.renamed) if (nameKey(name) === oldKey) c.renamed.set(key, newName);
  c.renamed.delete(newKey);
  if (oldKey !== newKey) c.renamed.set(oldKey, newName);
}

/** The name a person has now, for a `name` from replayed history: the end of the
 * renames the page has seen since it was loaded (a reload forgets them). */
export function currentName(name) {
  return chat().renamed.get(nameKey(name)) || name;
}

/** `name` is someone's live name now (they entered, spoke, or were renamed to it): no
 * longer an old name of someone else. */
export function nameInUse(name) {
  chat().renamed.delete(nameKey(name));
}

/** The connection is gone: nobody is known to be online or typing any more. */
export function markDisconnected() {
  const now = Date.now();
  for (const person of chat().people.values()) {
    if (person.online) {
      person.online = false;
      person.lastSeen = now;
    }
  }
  chat().typing.clear();
}

// --- queries (what the panes show; client/state.py has the same) ------------------------------

/** Unread messages over every conversation: the "N missed", the tab's title and the
 * Chats tab's badge all show this number. */
export function missedCount() {
  let total = 0;
  for (const conv of chat().conversations.values()) total += conv.unread;
  return total;
}

/** People online, the user excluded (client/state.py, online_count): the one number
 * the People title, the People tab and the main chat's header show. */
export function onlineCount() {
  let count = 0;
  for (const person of chat().people.values()) if (person.online) count += 1;
  return count;
}

/** {online, offline}: online people by status then name, then offline contacts, most
 * recently seen first (client/state.py, people_list). */
export function peopleList() {
  const order = (p) => (STATUSES.includes(p.status) ? STATUSES.indexOf(p.status) : STATUSES.length);
  const people = [...chat().people.values()];
  const online = people.filter((p) => p.online).sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  const offline = people.filter((p) => !p.online).sort((a, b) => (b.lastSeen || 0) - (a.lastSeen || 0) || a.name.localeCompare(b.name));
  return { online, offline };
}

/** The chats pane's order: the main chat, then the rest by latest activity. */
export function chatOrder() {
  const convs = [...chat().conversations.values()];
  const rest = convs.filter((c) => c.key !== MAIN).sort((a, b) => b.lastActivity - a.lastActivity || a.name.localeCompare(b.name));
  return [chat().conversations.get(MAIN), ...rest];
}

// --- read receipts (client/state.py has the same) ---------------------------------------------

/** The check after one of the user's private messages: "✓" sent (the server's copy is
 * what the page shows), "✓✓" read by the other person (a receipt covers it); "" else. */
export function receiptMark(conv, entry) {
  if (!entry.own || entry.kind !== "message" || conv.group || conv.key === MAIN) return "";
  const read = chat().readMarks.get(conv.key);
  return read !== undefined && entry.ts <= read ? "✓✓" : "✓";
}

/** A "receipt" event: `name` has read the user's messages sent up to `until`. */
export function onReceipt(e) {
  const key = nameKey(e.name);
  const until = parseTs(e.until);
  chat().readMarks.set(key, Math.max(until, chat().readMarks.get(key) || until));
  const conv = chat().conversations.get(key);
  if (conv) conv.dirtyFrom = 0;
}

/** [name, ms] for a /read to send: the private conversation `key` holds a message from
 * the other person newer than the last one reported read; null if none. */
export function unreportedRead(key) {
  const conv = chat().conversations.get(key);
  if (!conv || conv.group || conv.key === MAIN) return null;
  let newest = 0;
  for (const entry of conv.entries) if (!entry.own && entry.kind === "message") newest = Math.max(newest, entry.ts);
  if (newest <= conv.readReported) return null;
  conv.readReported = newest;
  return [conv.name, newest];
}
