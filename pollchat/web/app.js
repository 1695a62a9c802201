/* pollchat web client (seed 003): chat from a browser.
 *
 * One WebSocket to /ws on the page's own origin. Each text message carries one line of
 * pollchat's JSON mode: the server sends one event object per message (the endpoint
 * starts in JSON mode, so the first one is the greeting), the page sends plain protocol
 * lines ("login", "alice,secret", "hello", "/msg bob hi"...), exactly what a TCP client
 * types. docs/protocol.md describes every line and event.
 *
 * The logic follows the terminal client (pollchat/client/state.py, groups.py, app.py):
 * one state object fed by server events, conversations keyed by the lower-cased name
 * ("" for the main chat, "#name" for a group), unread counts only for live lines from
 * others, replayed history merged without duplicates, and a queue of the requests the
 * page sent by itself so their answers are not shown as if the user had asked.
 *
 * Security: the server sends a strict CSP (no inline script or style), so there is no
 * inline anything here, and every piece of server or user text reaches the page through
 * textContent or createTextNode, never innerHTML. Credentials live in `state.credentials`
 * only (memory): never in localStorage, sessionStorage, cookies or the URL.
 */
(() => {
  "use strict";

  // --- constants -----------------------------------------------------------------------

  const MAIN = "";                    // the main chat's conversation key
  const MAX_ENTRIES = 2000;           // lines kept per conversation (oldest go first)
  const TYPING_TTL = 8000;            // a "typing" indicator without refresh lasts this long
  const TYPING_ON_EVERY = 3000;       // at most one "/typing on" per this many ms
  const TYPING_IDLE_OFF = 5000;       // "/typing off" after this long without a keystroke
  const DUPLICATE_WINDOW = 90000;     // a replayed line this close to an identical one is it
  const SERVER_NOTICE_TTL = 120000;   // announcements stay in the notification bar this long
  // No periodic /who: the server counts every line, commands included, as activity, so
  // a poll would keep the user "active" forever. Statuses come as live events; idle times
  // are measured at login and restarted when someone speaks or types.
  const LOGIN_HISTORY = 100;          // /history N asked after login (fills private chats)
  const GROUP_HISTORY = 50;           // /history #g N asked when a group is first opened
  const MAX_WIRE_BYTES = 4000;        // longer typed lines are split (server limit: 4096)
  const INPUT_HISTORY = 100;          // sent lines remembered for Up/Down
  const NOTE_MS = 6000;               // how long a note under the input box stays
  const BACKOFF_FIRST = 1000;
  const BACKOFF_MAX = 30000;
  const STATUSES = ["active", "busy", "away", "inactive"];
  const STATUS_MARK = { active: "+", busy: "!", away: "~", inactive: "z", offline: "-" };
  const COLOURS = 12;                 // sender colour classes .c0 ... .c11 in app.css
  const EMOTICONS = { shrug: "¯\\_(ツ)_/¯", tableflip: "(╯°□°)╯︵ ┻━┻", unflip: "┬─┬ノ( º _ ºノ)" };
  const LOCAL_COMMANDS = new Set(["focus", "me", ...Object.keys(EMOTICONS)]);

  // Errors that end a login attempt; the transient ones are retried with back-off when
  // the page reconnects by itself (e.g. the old session is not gone yet).
  const AUTH_ERRORS = new Set([
    "wrong_password", "already_online", "name_taken", "bad_format", "server_full",
    "too_many_attempts", "banned", "server_closing", "too_many_connections", "internal",
    "login_timeout",
  ]);
  const TRANSIENT_ERRORS = new Set([
    "already_online", "server_full", "server_closing", "too_many_connections", "internal",
    "login_timeout",
  ]);
  // After these the server closes the connection and coming back makes no sense.
  const FINAL_NOTICES = new Set(["kicked", "banned_now", "unregistered", "goodbye"]);

  // Group changes as the group's own conversation shows them (the server's wording
  // without its "[#group] " prefix: inside the group it says nothing).
  const GROUP_TEXT = {
    created: (e) => `${e.text} group created: others join with /join #${e.group}`,
    joined: (e) => `${e.name} has joined the group`,
    left: (e) => `${e.name} has left the group`,
    requested: () => "your request to join was sent to the owner: analysis in progress",
    request: (e) => `${e.name} asks to join the group`, // the page shows Accept / Reject buttons
    accepted: (e) => `your request to join was accepted by ${e.by}`,
    rejected: (e) => `your request to join was rejected by ${e.by}`,
    request_rejected: (e) => `the request of ${e.name} was rejected by ${e.by}`,
    kicked: (e) => `${e.name} was removed from the group by ${e.by}`,
    banned: (e) => `${e.name} was banned from the group by ${e.by}`,
    unbanned: (e) => `${e.name} is no longer banned from the group`,
    owner: (e) => `${e.name} is now the owner`,
    renamed: (e) => `the group is now #${e.text} (renamed by ${e.by})`,
    deleted: (e) => `the group was deleted by ${e.by}`,
    disbanded: () => "the group was deleted: its last member left",
    topic: (e) => `${e.by} set the topic: ${e.text}`,
    topic_cleared: (e) => `${e.by} cleared the topic`,
    topic_is: (e) => `topic: ${e.text}`,
    no_topic: () => "no topic set",
  };
  const GONE_FOR_ALL = { deleted: "the group was deleted", disbanded: "the group was deleted" };
  const GONE_IF_ME = { left: "you left the group", kicked: "you were removed from the group",
                       banned: "you were removed from the group" };

  // --- pure helpers ----------------------------------------------------------------------

  /** The case-insensitive identity of a name (server: NFC + casefold). */
  function nameKey(name) {
    return String(name).normalize("NFC").toLowerCase().normalize("NFC");
  }

  /** The conversation key of group `name` (with or without its "#"). */
  function groupKey(name) {
    return "#" + nameKey(String(name).replace(/^#/, ""));
  }

  const NAME_RE = /^[\p{L}\p{Nd}_.-]+$/u;

  /** `name` in NFC if it is a valid account or group name (1 to 32 letters, digits,
   * _ - .), else null. */
  function normalizeName(name) {
    const nfc = String(name).normalize("NFC");
    const length = [...nfc].length;
    return length >= 1 && length <= 32 && NAME_RE.test(nfc) ? nfc : null;
  }

  /** A stable colour class for a sender: FNV-1a of the name's key, so everyone sees
   * the same person in the same colour and it survives reloads. */
  function colourClass(name) {
    let hash = 0x811c9dc5;
    for (const ch of nameKey(name)) {
      hash ^= ch.codePointAt(0);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return "c" + (hash % COLOURS);
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /** The pattern that finds "@name" (the server's rule: not inside a word or an e-mail
   * address; a final "." is punctuation). Matched against nameKey(text). */
  function mentionPattern(name) {
    return new RegExp(
      "(?<![\\p{L}\\p{N}_.@-])@" + escapeRegExp(nameKey(name)) + "(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}_-])",
      "u",
    );
  }

  /** Server time (ISO 8601) to milliseconds; the client's clock if it is missing. */
  function parseTs(text) {
    const ms = typeof text === "string" ? Date.parse(text) : NaN;
    return Number.isFinite(ms) ? ms : Date.now();
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  /** "14:32" today, "Mar 3 14:32" another day (local time). */
  function shortTime(ms) {
    const when = new Date(ms);
    const today = new Date();
    const sameDay = when.toDateString() === today.toDateString();
    return sameDay ? timeFormat.format(when) : `${dayFormat.format(when)} ${timeFormat.format(when)}`;
  }

  /** 42s, 5m, 3h, 2d: whole units, rounded down (the server's format). */
  function formatDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
      if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
    }
    return `${seconds}s`;
  }

  const encoder = new TextEncoder();
  const utf8Length = (text) => encoder.encode(text).length;

  /** `prefix + text` as lines of at most `limit` UTF-8 bytes, cut on characters
   * (preferably at a space), the prefix repeated on each (client/outgoing.py). */
  function splitForWire(prefix, text, limit = MAX_WIRE_BYTES) {
    const room = Math.max(1, limit - utf8Length(prefix));
    const lines = [];
    let chars = [...text];
    while (chars.length) {
      const rest = chars.join("");
      if (utf8Length(rest) <= room) {
        lines.push(prefix + rest);
        break;
      }
      let cut = 0;
      let size = 0;
      for (let i = 0; i < chars.length; i++) {
        size += utf8Length(chars[i]);
        if (size > room) break;
        cut = i + 1;
      }
      const head = chars.slice(0, cut).join("");
      const space = head.lastIndexOf(" ");
      if (space > head.length / 2) cut = [...head.slice(0, space + 1)].length;
      lines.push(prefix + chars.slice(0, cut).join("").replace(/ +$/, ""));
      chars = chars.slice(cut);
    }
    return lines;
  }

  /** Whether a typed line is a command (protocol.md: "/" but not "//", or !membres). */
  function isCommandLine(line) {
    const stripped = line.trimStart();
    const head = (stripped.split(/\s+/, 1)[0] || "").toLowerCase();
    return (stripped.startsWith("/") && !stripped.startsWith("//")) || head === "!membres";
  }

  /** {name, words, rest}: the command without "/", lower case; its whitespace-separated
   * words; and everything after the command word (a message text keeps its spaces). */
  function parseCommand(line) {
    const stripped = line.trim();
    const match = /^(\S+)\s*([\s\S]*)$/.exec(stripped);
    const head = match ? match[1].toLowerCase() : "";
    const rest = match ? match[2] : "";
    const name = head === "!membres" ? "who" : head.replace(/^\//, "");
    return { name, rest, words: rest ? rest.split(/\s+/) : [] };
  }

  // --- the state ---------------------------------------------------------------------------

  function newConversation(key, name, group = false) {
    return {
      key, name, group,
      entries: [],          // {kind, ts, text, sender, own, history, mention}, oldest first
      unread: 0,            // live lines from others while it was not on screen
      mentions: 0,
      activity: false,      // anything new (system lines too) while it was not on screen
      lastActivity: 0,
      topic: "", members: null, role: "", gone: "",
      dirtyFrom: 0,         // first entry the message pane must redraw (Infinity: none)
    };
  }

  function newChat() {
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
    };
  }

  const state = {
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
    newPassword: null,       // from a /passwd typed, until the server confirms it
    typingOut: { target: null, lastOn: -Infinity, lastKey: 0 },
    whoisPanel: null,        // the name the user clicked, whose /whois fills the dialog
    inputHistory: [],
    inputIndex: 0,
    noteUntil: 0,
    pane: "conversation",    // which pane a phone-sized screen shows
  };

  const chat = () => state.chat;
  const current = () => chat().conversations.get(chat().openKey) || chat().conversations.get(MAIN);
  const isMe = (name) => chat().me !== null && nameKey(name) === nameKey(chat().me);

  /** The conversation is on screen and the user can see it (the tab is visible). */
  function isViewing(key) {
    return key === chat().openKey && !document.hidden;
  }

  function know(name) {
    const key = nameKey(name);
    let person = chat().people.get(key);
    if (!person) {
      person = { name, online: false, status: "active", message: "", idle: null, measuredAt: 0, lastSeen: null };
      chat().people.set(key, person);
    }
    return person;
  }

  function conversationWith(name) {
    const key = nameKey(name);
    let conv = chat().conversations.get(key);
    if (!conv) {
      conv = newConversation(key, name);
      chat().conversations.set(key, conv);
      know(name);
    }
    return conv;
  }

  function groupConversation(name) {
    const key = groupKey(name);
    let conv = chat().conversations.get(key);
    if (!conv) {
      conv = newConversation(key, name, true);
      chat().conversations.set(key, conv);
    }
    conv.name = name; // the server's latest spelling
    return conv;
  }

  function convLabel(conv) {
    return conv.key === MAIN ? "main chat" : conv.group ? "#" + conv.name : conv.name;
  }

  function trim(conv) {
    if (conv.entries.length > MAX_ENTRIES) {
      conv.entries.splice(0, conv.entries.length - MAX_ENTRIES);
      conv.dirtyFrom = 0;
    }
  }

  function append(conv, entry, countsUnread) {
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
  function insertHistory(conv, entry) {
    const from = Math.max(0, conv.entries.length - 500);
    for (let i = conv.entries.length - 1; i >= from; i--) {
      const old = conv.entries[i];
      if (old.kind === entry.kind && old.text === entry.text && old.own === entry.own
          && nameKey(old.sender) === nameKey(entry.sender) && Math.abs(old.ts - entry.ts) <= DUPLICATE_WINDOW) {
        return;
      }
    }
    let at = conv.entries.length;
    while (at > 0 && conv.entries[at - 1].ts > entry.ts) at--;
    conv.entries.splice(at, 0, entry);
    conv.dirtyFrom = Math.min(conv.dirtyFrom, at);
    trim(conv);
    conv.lastActivity = Math.max(conv.lastActivity, entry.ts);
  }

  /** A system or error line in conversation `key` (the main chat if it is gone). */
  function addLine(key, text, ts, kind = "system") {
    const conv = chat().conversations.get(key) || chat().conversations.get(MAIN);
    append(conv, { kind, ts, text: String(text), sender: "", own: false, history: false, mention: false }, false);
  }

  /** A line the user sent that the server does not echo back (main chat and group
   * lines, /me...). Private messages are echoed (outgoing copy), so not shown here. */
  function addOwn(key, text, kind = "message") {
    const conv = chat().conversations.get(key) || chat().conversations.get(MAIN);
    append(conv, { kind, ts: Date.now(), text, sender: chat().me || "", own: true, history: false, mention: false }, false);
  }

  function mentionsMe(text) {
    return chat().mention !== null && chat().mention.test(nameKey(text));
  }

  function notify(kind, who, where, text, ts) {
    if (kind === "private") {
      // one "wrote to you" per conversation is enough
      chat().notifications = chat().notifications.filter((n) => !(n.kind === "private" && n.where === where));
    }
    chat().notifications.push({ kind, who, where, text, ts, at: Date.now() });
    flashNotification();
  }

  /** A chat line (main, group or private) from `sender`, live or replayed. */
  function onChatLine(conv, kind, sender, text, ts, history, isPrivate) {
    const own = isMe(sender);
    if (!own) {
      const person = know(sender);
      if (!history) Object.assign(person, { idle: 0, measuredAt: Date.now() }); // they are here
    }
    const mention = !own && !isPrivate && mentionsMe(text);
    const entry = { kind, ts, text, sender, own, history: Boolean(history), mention };
    stopTypingIn(conv.key, sender);
    if (history) {
      insertHistory(conv, entry);
      return;
    }
    const counts = !own && !isViewing(conv.key);
    append(conv, entry, counts);
    if (!counts) return;
    if (mention && !chat().serverMentions) {
      // A server with "mention" events follows the line with one, which notifies.
      conv.mentions += 1;
      notify("mention", sender, conv.key, text, ts);
    } else if (isPrivate) {
      notify("private", sender, conv.key, text, ts);
    }
  }

  function openConversation(key) {
    const c = chat();
    if (!c.conversations.has(key)) key = MAIN;
    if (key !== c.openKey) {
      typingStop();
      c.openKey = key;
      const conv = c.conversations.get(key);
      conv.dirtyFrom = 0;
      renderState.messagesKey = null; // draw the new conversation from scratch
    }
    markRead(key);
    fetchHistoryFor(key);
    showPane("conversation");
    render();
  }

  function markRead(key) {
    const conv = chat().conversations.get(key);
    if (!conv) return;
    conv.unread = 0;
    conv.mentions = 0;
    conv.activity = false;
    chat().notifications = chat().notifications.filter((n) => n.where !== key || n.kind === "server");
  }

  function stopTypingIn(convKey, name) {
    chat().typing.delete(convKey + "\u0000" + nameKey(name));
  }

  function stopTypingEverywhere(name) {
    const who = nameKey(name);
    for (const [key, value] of chat().typing) {
      if (nameKey(value.name) === who) chat().typing.delete(key);
    }
  }

  function typingNames(convKey) {
    const now = Date.now();
    return [...chat().typing.values()].filter((t) => t.conv === convKey && t.until > now).map((t) => t.name);
  }

  function rename(oldName, newName) {
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
  }

  /** The connection is gone: nobody is known to be online or typing any more. */
  function markDisconnected() {
    const now = Date.now();
    for (const person of chat().people.values()) {
      if (person.online) {
        person.online = false;
        person.lastSeen = now;
      }
    }
    chat().typing.clear();
  }

  // --- groups (client/groups.py) -----------------------------------------------------------

  function requestsOf(group) {
    const key = groupKey(group);
    if (!chat().requests.has(key)) chat().requests.set(key, new Map());
    return chat().requests.get(key);
  }

  function onGroupChange(e, ts) {
    const change = e.change;
    const me = Boolean(e.name) && isMe(e.name);
    const describe = GROUP_TEXT[change];
    const inside = describe ? describe(e) : change;
    let conv = chat().conversations.get(groupKey(e.group));
    if (change === "created" || change === "accepted" || (change === "joined" && me)) {
      conv = groupConversation(e.group);
      conv.gone = "";
      conv.role = change === "created" ? "owner" : conv.role || "member";
      if (change === "created") conv.members = 1;
    }
    if (change === "joined" || change === "request_rejected") requestsOf(e.group).delete(nameKey(e.name));
    if (!conv) {
      // about a group the user is not in (a request answered, an admin's act)
      addLine(chat().openKey, `[#${e.group}] ${inside}`, ts);
      return;
    }
    if (change === "renamed") {
      conv = renameGroup(conv, e.text);
    } else if (GONE_FOR_ALL[change] || (me && GONE_IF_ME[change])) {
      conv.gone = GONE_FOR_ALL[change] || GONE_IF_ME[change];
      conv.role = "";
      chat().requests.delete(conv.key);
    } else if (change === "topic" || change === "topic_is") {
      conv.topic = e.text;
    } else if (change === "no_topic" || change === "topic_cleared") {
      conv.topic = "";
    } else if (change === "owner" && me) {
      conv.role = "owner";
    }
    if (conv.members !== null && !me) {
      if (change === "joined") conv.members += 1;
      else if (change === "left" || change === "kicked" || change === "banned") conv.members = Math.max(0, conv.members - 1);
    }
    addLine(conv.key, inside, ts);
    if (change === "request") {
      // the owner has to answer: buttons in the group, and a notification
      requestsOf(e.group).set(nameKey(e.name), e.name);
      notify("request", e.name, conv.key, `${e.name} asks to join #${conv.name}`, ts);
    }
    if (change === "created" || (change === "joined" && me)) openConversation(conv.key); // the user just asked for it
  }

  function renameGroup(conv, newName) {
    const c = chat();
    const oldKey = conv.key;
    const newKey = groupKey(newName);
    if (newKey !== oldKey) {
      const stale = c.conversations.get(newKey); // a deleted group's old lines
      if (stale) conv.entries = [...stale.entries, ...conv.entries].sort((a, b) => a.ts - b.ts);
      c.conversations.delete(oldKey);
      conv.key = newKey;
      conv.dirtyFrom = 0;
      c.conversations.set(newKey, conv);
      if (c.openKey === oldKey) {
        c.openKey = newKey;
        renderState.messagesKey = null;
      }
      for (const n of c.notifications) if (n.where === oldKey) n.where = newKey;
      for (const [key, t] of c.typing) {
        if (t.conv === oldKey) {
          c.typing.delete(key);
          t.conv = newKey;
          c.typing.set(newKey + "\u0000" + nameKey(t.name), t);
        }
      }
      if (c.requests.has(oldKey)) {
        c.requests.set(newKey, c.requests.get(oldKey));
        c.requests.delete(oldKey);
      }
      if (state.historyFetched.delete(oldKey)) state.historyFetched.add(newKey);
    }
    conv.name = newName;
    return conv;
  }

  /** A /groups answer: the user's groups become conversations; the ones no longer
   * listed are marked gone. Returns the groups the user owns. */
  function reconcileGroups(groups) {
    chat().serverMentions = true; // only a server with groups answers /groups
    const mine = new Set();
    const owned = [];
    for (const entry of groups) {
      let conv = chat().conversations.get(groupKey(entry.name));
      if (entry.role === "owner" || entry.role === "member") {
        conv = groupConversation(entry.name);
        conv.gone = "";
        mine.add(conv.key);
        if (entry.role === "owner") owned.push(entry.name);
      }
      if (conv) {
        conv.role = entry.role;
        conv.members = entry.members;
        conv.topic = entry.topic;
      }
    }
    for (const conv of chat().conversations.values()) {
      if (conv.group && !mine.has(conv.key) && !conv.gone) conv.gone = "you are not a member";
    }
    return owned;
  }

  function onMention(e, ts) {
    chat().serverMentions = true;
    const conv = e.group ? groupConversation(e.group) : chat().conversations.get(MAIN);
    // highlight the line itself, even if the local @name rule missed it
    for (let i = conv.entries.length - 1; i >= Math.max(0, conv.entries.length - 50); i--) {
      const entry = conv.entries[i];
      if (!entry.history && entry.text === e.text && nameKey(entry.sender) === nameKey(e.sender)) {
        if (!entry.mention) {
          entry.mention = true;
          conv.dirtyFrom = Math.min(conv.dirtyFrom, i);
        }
        break;
      }
    }
    if (isMe(e.sender) || isViewing(conv.key)) return;
    // before the first mention event the page matched "@me" itself: that line counted
    const counted = chat().notifications.some((n) => n.kind === "mention" && n.where === conv.key
      && n.text === e.text && nameKey(n.who) === nameKey(e.sender) && Math.abs(n.ts - ts) <= 5000);
    if (counted) return;
    conv.mentions += 1;
    conv.activity = true;
    notify("mention", e.sender, conv.key, e.text, ts);
  }

  // --- server events ---------------------------------------------------------------------

  function onServerMessage(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      // not JSON: show it as it is (a server that is not in JSON mode, a proxy...)
      if (typeof data === "string" && data.trim()) addLine(chat().openKey, data, Date.now());
      render();
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
    render();
  }

  function handleEvent(e, ts) {
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
        onChatLine(conv, e.type, e.sender, String(e.text), ts, e.history, false);
        return;
      }
      case "private": {
        const conv = conversationWith(e.outgoing ? e.recipient : e.sender);
        onChatLine(conv, "message", e.sender, String(e.text), ts, e.history, true);
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
      case "shutdown":
        addLine(MAIN, "server is shutting down", ts, "error");
        return;
      default:
        return; // an event this page does not know yet: nothing to show
    }
  }

  function onGreeting() {
    // The endpoint starts in JSON mode: the greeting is the cue to log in. A second
    // greeting on the same socket (the server did not take a line as login/register)
    // must not resend the password.
    if (state.sentCredentials || !state.credentials) return;
    const { register, name, password } = state.credentials;
    state.sentCredentials = true;
    send(register ? "register" : "login");
    send(`${name},${password}`);
    setLoginProgress(`logging in as ${name}…`);
  }

  function onWelcome(e, ts) {
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
    $("login-password").value = "";
    showChatScreen();
    // The answer to this /who arrives after everything the server says at login (the
    // replay, notices), so it is where the page asks for the rest (onWho).
    state.afterWelcome = true;
    requestWho();
  }

  function onError(e, ts) {
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
    if (code === "no_such_user" && answerPending("whois", (arg) => text === `no such user: ${arg}`)) return;
    if ((code === "not_member" || code === "no_such_group") && groupRequestRefused(text)) return;
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

  function onNotice(e, ts) {
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
    addLine(chat().openKey, text, ts, FINAL_NOTICES.has(code) ? "error" : "system");
  }

  function onWho(e, ts) {
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

  function onWhois(e, ts) {
    if (!isMe(e.name)) {
      const person = know(e.name);
      person.online = Boolean(e.online);
      if (e.online) Object.assign(person, { status: e.status, message: e.message || "", idle: e.idle, measuredAt: Date.now() });
      else person.lastSeen = e.since ? parseTs(e.since) : person.lastSeen;
    }
    const request = takePendingItem("whois");
    if (request && request.panel) {
      fillUserInfo(e);
      return;
    }
    if (!request || !request.auto) addLine(chat().openKey, whoisText(e), ts);
  }

  function onGroups(e, ts) {
    const owned = reconcileGroups(e.groups || []);
    const request = takePendingItem("groups");
    if (!request || !request.auto) addLine(chat().openKey, groupsText(e.groups || []), ts);
    if (request && request.auto) {
      // owners: the waiting join requests come with /members
      for (const name of owned) sendAuto("members", `/members #${name}`, name);
    }
    fetchHistoryFor(chat().openKey);
  }

  function onMembers(e, ts) {
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

  function markOfflineUnread(key, sender, ts) {
    const conv = chat().conversations.get(key);
    if (!conv || isViewing(key)) return;
    conv.unread += 1;
    conv.activity = true;
    notify("private", sender, key, "", ts);
  }

  // Text forms of list answers, as the server's text mode words them.
  function whoText(users) {
    const lines = [`online users (${users.length}):`];
    for (const u of users) {
      lines.push(`  ${u.name} - ${u.message ? `${u.status}: ${u.message}` : u.status}, idle ${formatDuration(u.idle || 0)}`);
    }
    return lines.join("\n");
  }

  function whoisText(e) {
    if (e.online) {
      const status = e.message ? `${e.status}: ${e.message}` : e.status;
      const since = e.since ? fullFormat.format(new Date(parseTs(e.since))) : "?";
      return `${e.name}: ${status}, online since ${since}, idle ${formatDuration(e.idle || 0)}, ${e.kind} account`;
    }
    if (!e.since) return `${e.name}: offline, never seen, ${e.kind} account`;
    return `${e.name}: offline, last seen ${fullFormat.format(new Date(parseTs(e.since)))}, ${e.kind} account`;
  }

  function groupsText(groups) {
    const lines = [`groups (${groups.length}):`];
    for (const g of groups) {
      lines.push(`  #${g.name} - ${g.visibility}, ${g.members} member(s)${g.role ? ", " + g.role : ""}${g.topic ? "; topic: " + g.topic : ""}`);
    }
    if (!groups.length) lines.push("  none yet: /create #name starts one");
    return lines.join("\n");
  }

  function membersText(e) {
    const members = e.members || [];
    const lines = [`members of #${e.group} (${members.length}):`];
    for (const m of members) lines.push(`  ${m.name} - ${m.status}${m.owner ? ", owner" : ""}`);
    if (e.pending && e.pending.length) lines.push(`  waiting to join: ${e.pending.join(", ")}`);
    return lines.join("\n");
  }

  // --- requests the page is waiting answers for ------------------------------------------------

  function sendAuto(cmd, line, arg = "") {
    if (send(line)) state.pending.push({ cmd, auto: true, arg, at: Date.now() });
  }

  function takePendingItem(cmd) {
    const index = state.pending.findIndex((p) => p.cmd === cmd);
    return index === -1 ? null : state.pending.splice(index, 1)[0];
  }

  /** Dequeue the oldest request for `cmd`; whether the page sent it by itself. */
  function takePending(cmd) {
    const item = takePendingItem(cmd);
    return Boolean(item && item.auto);
  }

  function takePendingPeek(cmd) {
    return state.pending.some((p) => p.cmd === cmd);
  }

  /** An error that answers the oldest `cmd` request if `matches(arg)`: dequeue it;
   * true (swallow the error) if the page asked by itself. A clicked /whois shows the
   * error in the user dialog. */
  function answerPending(cmd, matches) {
    const index = state.pending.findIndex((p) => p.cmd === cmd);
    if (index === -1 || !matches(state.pending[index].arg)) return false;
    const [item] = state.pending.splice(index, 1);
    if (item.panel) {
      showUserInfoError(item.arg);
      return true;
    }
    return item.auto;
  }

  /** "not a member" / "no such group" answering our /history #g or /members #g. */
  function groupRequestRefused(text) {
    const index = state.pending.findIndex((p) => (p.cmd === "history" || p.cmd === "members") && p.arg);
    if (index === -1) return false;
    const item = state.pending[index];
    const wanted = [`you are not a member of #${item.arg}`, `no such group: #${item.arg}`].map((t) => t.toLowerCase());
    if (!wanted.includes(text.toLowerCase())) return false;
    state.pending.splice(index, 1);
    const conv = chat().conversations.get(groupKey(item.arg));
    if (conv && conv.group && !conv.gone) conv.gone = "you are not a member";
    return item.auto;
  }

  function dropUserPending(cmd) {
    for (let i = state.pending.length - 1; i >= 0; i--) {
      if (state.pending[i].cmd === cmd && !state.pending[i].auto) {
        state.pending.splice(i, 1);
        return;
      }
    }
  }

  function requestWho() {
    sendAuto("who", "/who");
  }

  /** Ask once per connection for the recent lines of a group or private conversation
   * when it is opened (as the TUI does for groups; private chats are filled at login). */
  function fetchHistoryFor(key) {
    const conv = chat().conversations.get(key);
    if (!conv || !conv.group || conv.gone || state.historyFetched.has(key) || state.phase !== "chatting") return;
    state.historyFetched.add(key);
    sendAuto("history", `/history #${conv.name} ${GROUP_HISTORY}`, conv.name);
  }

  // --- the connection --------------------------------------------------------------------------

  function socketUrl() {
    // Same origin; ws:// or wss:// as the page came. Relative, so a page served under a
    // path prefix by a proxy talks to that prefix's /ws.
    const url = new URL("ws", window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    url.search = "";
    return url.href;
  }

  function connect() {
    dropSocket();
    state.phase = "connecting";
    state.sentCredentials = false;
    state.reconnectAt = null;
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      onSocketClosed(`cannot connect: ${error.message}`);
      return;
    }
    state.ws = ws;
    // Each handler checks that its socket is still the current one: a socket dropped
    // by the page may still report its end later.
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (ws === state.ws) render();
    };
    ws.onmessage = (message) => { if (ws === state.ws) onServerMessage(message.data); };
    ws.onclose = (event) => {
      if (ws !== state.ws) return;
      state.ws = null;
      onSocketClosed(!opened ? "cannot connect to the chat server"
        : event.code === 1000 || event.code === 1005 ? "the server closed the connection"
          : "connection to the server lost");
    };
    render();
  }

  /** Forget the current socket (its late events are ignored) and close it. */
  function dropSocket() {
    const ws = state.ws;
    state.ws = null;
    if (ws) {
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  function send(line) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(line);
    return true;
  }

  function onSocketClosed(reason) {
    const wasChatting = state.phase === "chatting";
    typingForget();
    state.pending = [];
    if (state.finalNotice !== null) {
      // kicked, banned, /quit, /unregister: no coming back by ourselves
      const text = state.finalNotice;
      state.credentials = null;
      state.loggedInOnce = false;
      backToForm(text === "You logged out." ? "" : text, text === "You logged out." ? text : "");
      return;
    }
    if (state.phase === "login") return;
    if (!state.loggedInOnce) {
      backToForm(reason);
      return;
    }
    if (wasChatting) {
      markDisconnected();
      addLine(MAIN, reason, Date.now(), "error");
    }
    state.lastError = reason;
    scheduleReconnect();
  }

  function scheduleReconnect() {
    // 1 s, 2 s, 4 s ... 30 s, each drawn between half and all of it so many pages do
    // not all come back at the same instant after a server restart.
    const ceiling = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** state.backoffStep);
    state.backoffStep += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    state.phase = "reconnecting";
    state.reconnectAt = Date.now() + delay;
    render();
  }

  function reconnectNow() {
    if (state.phase === "reconnecting" && state.credentials) connect();
  }

  function loginRefused(code, text) {
    if (state.loggedInOnce && TRANSIENT_ERRORS.has(code)) {
      // e.g. the old session is still there: try again later with the same password
      state.lastError = text;
      dropSocket();
      scheduleReconnect();
      return;
    }
    const hints = {
      bad_format: "A name is 1 to 32 letters, digits, _, - or . and the password may not be empty.",
      wrong_password: "Check the name and the password (or choose Register for a new account).",
      name_taken: "Someone has that name already: choose another, or Log in if it is yours.",
      server_full: "The chat is full right now: try again later.",
    };
    state.credentials = null;
    state.loggedInOnce = false;
    backToForm(text, "", hints[code] || "");
  }

  // --- typing indicators (client/outgoing.py) --------------------------------------------------

  function typingTarget() {
    const conv = current();
    if (conv.key === MAIN) return MAIN;
    if (conv.group) return conv.gone ? null : "#" + conv.name;
    return conv.name;
  }

  function typingLine(onOff, target) {
    return target === MAIN ? `/typing ${onOff}` : `/typing ${onOff} ${target}`;
  }

  function typingKeystroke() {
    if (!state.typingSupported || state.phase !== "chatting") return;
    const text = $("message-input").value;
    const target = !text.trim() || isCommandLine(text) ? null : typingTarget();
    const out = state.typingOut;
    if (out.target !== null && out.target !== target) typingStop();
    if (target === null) return;
    const now = Date.now();
    out.lastKey = now;
    if (out.target !== target || now - out.lastOn >= TYPING_ON_EVERY) {
      out.target = target;
      out.lastOn = now;
      send(typingLine("on", target));
    }
  }

  function typingStop() {
    const out = state.typingOut;
    if (out.target === null) return;
    const target = out.target;
    out.target = null;
    out.lastOn = -Infinity;
    if (state.typingSupported && state.phase === "chatting") send(typingLine("off", target));
  }

  function typingForget() {
    state.typingOut.target = null;
    state.typingOut.lastOn = -Infinity;
  }

  // --- what the user types ---------------------------------------------------------------------

  /** Send one typed line from the open conversation; false if it was refused here
   * (the note under the input says why) and should stay in the box. */
  function submitLine(text) {
    if (!text.trim()) return false;
    if (state.phase !== "chatting") {
      showNote("not connected: the line was kept, send it again once connected");
      return false;
    }
    typingStop();
    const conv = current();
    if (isCommandLine(text)) {
      const command = parseCommand(text);
      if (LOCAL_COMMANDS.has(command.name)) return localCommand(command, text, conv);
      send(text); // as typed: every server command works from the input box
      afterCommand(command);
      return true;
    }
    let escaped = false;
    if (text.startsWith("//")) {
      text = text.slice(1); // the literal line "/text"
      escaped = true;
    }
    if (conv.group) {
      if (!mayWrite(conv)) return false;
      // "/msg #g text" rather than "#g text": a group deleted meanwhile gets an error
      // instead of the line landing in the main chat.
      const prefix = `/msg #${conv.name} `;
      for (const line of splitForWire(prefix, text)) {
        send(line);
        addOwn(conv.key, line.slice(prefix.length));
      }
    } else if (conv.key === MAIN) {
      for (const line of splitForWire(escaped ? "/" : "", text)) {
        send(line);
        const [key, shown] = addressed(escaped ? line.slice(1) : line);
        addOwn(key, shown);
      }
    } else {
      for (const line of splitForWire(`/msg ${conv.name} `, text)) send(line); // echoed back by the server
    }
    return true;
  }

  function mayWrite(conv) {
    if (conv.gone) {
      showNote(`not sent: #${conv.name}: ${conv.gone} (/join #${conv.name} to come back)`);
      return false;
    }
    return true;
  }

  /** Where the server puts a main-chat line: "#name text" goes to group name when the
   * user is in it. Returns [conversation key, text shown]. */
  function addressed(text) {
    const stripped = text.trimStart();
    if (stripped.startsWith("#")) {
      const match = /^#(\S+)\s+([\s\S]*\S)/.exec(stripped);
      const name = match ? normalizeName(match[1]) : null;
      const conv = name ? chat().conversations.get(groupKey(name)) : null;
      if (conv && conv.group && !conv.gone) return [conv.key, match[2].trim()];
    }
    return [MAIN, text];
  }

  function localCommand(command, text, conv) {
    if (command.name === "focus") {
      // The page never moves the server's focus (lines typed in the main chat must keep
      // going to the main chat): opening the conversation is the focus.
      if (!command.words.length) {
        openConversation(MAIN);
        return true;
      }
      const name = normalizeName(command.words[0].replace(/^#/, ""));
      const target = name ? chat().conversations.get(groupKey(name)) : null;
      if (!target || !target.group) {
        showNote(`not a group you are in: ${command.words[0]}`);
        return false;
      }
      openConversation(target.key);
      return true;
    }
    if (!conv.group) {
      send(text);
      afterCommand(command);
      return true;
    }
    if (!mayWrite(conv)) return false;
    if (command.name === "me") {
      if (!command.rest) {
        send(text); // the server answers with the usage line
        return true;
      }
      send(`/me #${conv.name} ${command.rest}`); // acts in the group
      addOwn(conv.key, command.rest, "action");
      return true;
    }
    // /shrug, /tableflip, /unflip in a group: composed here and sent with /msg #g
    const emoticon = EMOTICONS[command.name];
    const line = command.rest ? `${command.rest} ${emoticon}` : emoticon;
    send(`/msg #${conv.name} ${line}`);
    addOwn(conv.key, line);
    return true;
  }

  /** Local effects of a command the user typed: public lines are not echoed to their
   * sender, so the page shows them; answers to list commands are awaited. */
  function afterCommand(command) {
    const { name, words, rest } = command;
    const wait = (arg = "") => state.pending.push({ cmd: name, auto: false, arg, at: Date.now() });
    if (name === "me" && rest) {
      const [key, shown] = addressed(rest);
      addOwn(key, shown, "action");
    } else if (EMOTICONS[name]) {
      const [key, shown] = addressed(rest ? `${rest} ${EMOTICONS[name]}` : EMOTICONS[name]);
      addOwn(key, shown);
    } else if (name === "who" && !words.length) {
      wait();
    } else if (name === "whois" && words.length === 1) {
      wait(words[0]);
    } else if (name === "groups" && !words.length) {
      wait();
    } else if (name === "history" && words.length <= 2) {
      wait(words.length && words[0].startsWith("#") ? words[0].slice(1) : "");
    } else if (name === "members" && words.length === 1) {
      wait(words[0].replace(/^#/, ""));
    } else if (name === "passwd" && rest.includes(",")) {
      // if the server says "password changed", the next automatic login needs the new one
      state.newPassword = rest.slice(rest.indexOf(",") + 1);
    }
  }

  function showNote(text) {
    state.noteUntil = Date.now() + NOTE_MS;
    const note = $("composer-note");
    note.textContent = text;
    note.hidden = false;
  }

  // --- screens and forms -----------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setLoginProgress(text) {
    $("login-progress").textContent = text;
  }

  /** The login error: the server's words as they are, and an optional explanation. */
  function showLoginError(text, hint = "") {
    const box = $("login-error");
    box.replaceChildren(document.createTextNode(text));
    if (hint) box.append(el("span", "login-error-hint", hint));
    box.hidden = !text;
  }

  function backToForm(error, info = "", hint = "") {
    dropSocket();
    state.phase = "login";
    state.reconnectAt = null;
    state.lastError = "";
    state.finalNotice = null;
    closeUserInfo();
    $("chat-screen").hidden = true;
    $("login-screen").hidden = false;
    showLoginError(error, hint);
    setLoginProgress(info);
    $("login-submit").disabled = false;
    $("login-password").value = "";
    const focus = $("login-name").value ? $("login-password") : $("login-name");
    focus.focus();
    document.title = "pollchat";
  }

  function showChatScreen() {
    if (!$("chat-screen").hidden) return;
    $("login-screen").hidden = true;
    $("chat-screen").hidden = false;
    showLoginError("");
    setLoginProgress("");
    $("login-submit").disabled = false;
    renderState.messagesKey = null;
    $("message-input").focus();
  }

  function onLoginSubmit(event) {
    event.preventDefault();
    const register = $("login-mode-register").checked;
    const name = $("login-name").value.trim();
    const password = $("login-password").value;
    if (!name) return loginFieldError("type your name", "login-name");
    if (!password) return loginFieldError("type your password", "login-password");
    // "name,password" is one line: a comma in the name would move it into the password.
    if (/[,\s]/.test(name)) return loginFieldError("a name has no commas or spaces: 1 to 32 letters, digits, _, - or .", "login-name");
    state.credentials = { register, name, password };
    state.loggedInOnce = false;
    state.finalNotice = null;
    state.lastError = "";
    showLoginError("");
    setLoginProgress("connecting…");
    $("login-submit").disabled = true;
    connect();
  }

  function loginFieldError(text, field) {
    showLoginError(text);
    $(field).focus();
  }

  function logOut() {
    if (state.phase === "chatting" && send("/quit")) {
      state.finalNotice = "You logged out."; // in case the goodbye is not read before the close
      return;
    }
    state.credentials = null;
    state.loggedInOnce = false;
    backToForm("", "You logged out.");
  }

  // --- the user dialog (/whois) ------------------------------------------------------------

  function openUserInfo(name) {
    const dialog = $("user-info");
    state.whoisPanel = name;
    $("user-info-name").textContent = name;
    $("user-info-name").className = "user-info-name " + colourClass(name);
    $("user-info-text").textContent = "asking the server…";
    $("user-info-text").classList.remove("sr-only");
    $("user-info-details").replaceChildren();
    $("user-info-message").hidden = isMe(name);
    if (send(`/whois ${name}`)) {
      state.pending.push({ cmd: "whois", auto: false, arg: name, panel: true, at: Date.now() });
    } else {
      $("user-info-text").textContent = "not connected";
    }
    if (!dialog.open) dialog.showModal();
  }

  function fillUserInfo(e) {
    if (!$("user-info").open) return;
    $("user-info-name").textContent = e.name;
    // the server's one-line answer stays for screen readers; the list below shows it
    $("user-info-text").textContent = whoisText(e);
    $("user-info-text").classList.add("sr-only");
    const rows = [];
    const status = e.online ? (e.message ? `${e.status}: ${e.message}` : e.status) : "offline";
    rows.push(["Status", status]);
    if (e.online && e.since) rows.push(["Online since", fullFormat.format(new Date(parseTs(e.since)))]);
    if (e.online && e.idle !== null && e.idle !== undefined) rows.push(["Idle", formatDuration(e.idle)]);
    if (!e.online) rows.push(["Last seen", e.since ? fullFormat.format(new Date(parseTs(e.since))) : "never"]);
    rows.push(["Account", e.kind]);
    const list = $("user-info-details");
    list.replaceChildren();
    for (const [term, value] of rows) {
      list.append(el("dt", "", term), el("dd", "", value));
    }
    $("user-info").dataset.status = e.online ? e.status : "offline";
  }

  function showUserInfoError(name) {
    if (!$("user-info").open) return;
    $("user-info-text").textContent = `no such user: ${name}`;
    $("user-info-text").classList.remove("sr-only");
    $("user-info-message").hidden = true;
  }

  function closeUserInfo() {
    const dialog = $("user-info");
    if (dialog.open) dialog.close();
    state.whoisPanel = null;
  }

  // --- rendering -------------------------------------------------------------------------------

  // What was drawn last, so panes are only rebuilt when their content changed (and the
  // focused button of a list survives an update).
  const renderState = { scheduled: false, messagesKey: null, signatures: {} };

  /** Redraw on the next frame: many events in a burst cost one redraw. The tab's title
   * is set at once: frames do not run in a background tab, where it matters most. */
  function render() {
    drawTitle();
    if (renderState.scheduled) return;
    renderState.scheduled = true;
    requestAnimationFrame(() => {
      renderState.scheduled = false;
      draw();
    });
  }

  function draw() {
    if (isViewing(chat().openKey)) markRead(chat().openKey);
    drawTitle();
    drawConnection();
    if ($("chat-screen").hidden) return;
    drawTopbar();
    drawPeople();
    drawChats();
    drawConversationHeader();
    drawRequests();
    drawMessages();
    drawTyping();
    drawTabs();
  }

  /** Replace a list's items only when `signature` changed; keep keyboard focus on the
   * item with the same data-focus-key. */
  function rebuild(list, name, signature, build) {
    if (renderState.signatures[name] === signature) return;
    renderState.signatures[name] = signature;
    const active = document.activeElement;
    const focusKey = active && list.contains(active) ? active.dataset.focusKey : undefined;
    list.replaceChildren(...build());
    if (focusKey !== undefined) {
      const again = [...list.querySelectorAll("[data-focus-key]")].find((node) => node.dataset.focusKey === focusKey);
      if (again) again.focus();
    }
  }

  function drawConnection() {
    const pill = $("connection-state");
    const banner = $("reconnect-banner");
    const phase = state.phase;
    const wording = { login: "offline", connecting: "connecting…", chatting: "connected", reconnecting: "reconnecting…" };
    const data = phase === "chatting" ? "online" : phase === "login" ? "offline" : phase;
    pill.dataset.state = data;
    pill.textContent = wording[phase];
    const trouble = state.loggedInOnce && (phase === "reconnecting" || phase === "connecting");
    banner.hidden = !trouble;
    if (trouble) {
      let text;
      if (phase === "connecting") {
        text = "Reconnecting…";
      } else {
        const seconds = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
        text = `${state.lastError || "connection lost"}: reconnecting in ${seconds} s…`;
      }
      $("reconnect-text").textContent = text;
      $("reconnect-now").hidden = phase !== "reconnecting";
    }
    const input = $("message-input");
    input.placeholder = phase === "chatting" ? placeholderFor(current()) : "(not connected)";
  }

  function placeholderFor(conv) {
    if (conv.key === MAIN) return "Message everyone…";
    if (conv.group) return conv.gone ? `#${conv.name}: ${conv.gone}` : `Message #${conv.name}…`;
    return `Message ${conv.name}…`;
  }

  function missedCount() {
    let total = 0;
    for (const conv of chat().conversations.values()) total += conv.unread;
    return total;
  }

  function drawTopbar() {
    const c = chat();
    $("me-name").textContent = c.me || "";
    $("me-name").title = c.myMessage ? `${c.myStatus}: ${c.myMessage}` : c.myStatus;
    const mark = $("me-status-mark");
    mark.dataset.status = state.phase === "chatting" ? c.myStatus : "offline";
    mark.textContent = STATUS_MARK[mark.dataset.status] || "";
    const select = $("status-select");
    if (document.activeElement !== select && select.value !== c.myStatus && STATUSES.includes(c.myStatus)) select.value = c.myStatus;

    // notifications: server notices expire; the newest one is shown
    const now = Date.now();
    c.notifications = c.notifications.filter((n) => n.kind !== "server" || now - n.at < SERVER_NOTICE_TTL);
    const bar = $("notification");
    const newest = c.notifications[c.notifications.length - 1];
    bar.hidden = !newest;
    if (newest) {
      const where = newest.where === MAIN ? "the main chat" : convLabel(c.conversations.get(newest.where) || { key: newest.where, name: newest.who });
      const text = newest.kind === "mention" ? `${newest.who} mentioned you in ${where}`
        : newest.kind === "private" ? `${newest.who} wrote to you`
          : newest.text;
      const more = c.notifications.length > 1 ? ` (+${c.notifications.length - 1} more)` : "";
      const marks = { mention: "@", private: "✉", request: "+", server: "!" };
      bar.textContent = `${marks[newest.kind] || "!"} ${text}${more}`;
      bar.dataset.kind = newest.kind;
      bar.dataset.where = newest.where;
    }
    const missed = missedCount();
    $("missed").hidden = missed === 0;
    $("missed").textContent = `${missed} missed`;
  }

  function drawTitle() {
    if (state.phase === "login") return;
    const missed = missedCount();
    const title = missed ? `(${missed}) pollchat` : chat().me ? `pollchat · ${chat().me}` : "pollchat";
    if (document.title !== title) document.title = title;
  }

  function flashNotification() {
    const bar = $("notification");
    bar.classList.remove("flash");
    // restart the animation on the next frame
    requestAnimationFrame(() => bar.classList.add("flash"));
  }

  function peopleList() {
    const order = (p) => (STATUSES.includes(p.status) ? STATUSES.indexOf(p.status) : STATUSES.length);
    const people = [...chat().people.values()];
    const online = people.filter((p) => p.online).sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
    const offline = people.filter((p) => !p.online).sort((a, b) => (b.lastSeen || 0) - (a.lastSeen || 0) || a.name.localeCompare(b.name));
    return { online, offline };
  }

  function idleOf(person) {
    if (person.idle === null || person.idle === undefined) return null;
    return person.idle + Math.max(0, (Date.now() - person.measuredAt) / 1000);
  }

  function personDetail(p) {
    if (!p.online) return p.lastSeen ? `seen ${formatDuration((Date.now() - p.lastSeen) / 1000)} ago` : "offline";
    const idle = idleOf(p);
    const parts = [p.message ? `${p.status}: ${p.message}` : p.status];
    if (p.status !== "active" && idle !== null && idle >= 60) parts.push(`idle ${formatDuration(idle)}`);
    return parts.join(" · ");
  }

  function drawPeople() {
    const { online, offline } = peopleList();
    $("online-count").textContent = `(${online.length})`;
    $("tab-people-count").textContent = String(online.length);
    const typingNow = new Set([...chat().typing.values()].filter((t) => t.until > Date.now()).map((t) => nameKey(t.name)));
    const item = (p) => {
      const status = p.online ? p.status : "offline";
      const conv = chat().conversations.get(nameKey(p.name));
      return { name: p.name, status, detail: personDetail(p), typing: typingNow.has(nameKey(p.name)), unread: conv ? conv.unread : 0 };
    };
    const model = { online: online.map(item), offline: offline.map(item) };
    rebuild($("people"), "people", JSON.stringify(model), () => {
      const nodes = [];
      if (!model.online.length) nodes.push(el("li", "empty", state.phase === "chatting" ? "nobody else yet" : "not connected"));
      for (const p of model.online) nodes.push(personItem(p, true));
      if (model.offline.length) nodes.push(el("li", "divider", "offline"));
      for (const p of model.offline) nodes.push(personItem(p, false));
      return nodes;
    });
  }

  function personItem(p, online) {
    const li = el("li", "person");
    li.dataset.user = p.name;
    li.dataset.status = p.status;
    li.dataset.online = String(online);
    const button = el("button", "person-button");
    button.type = "button";
    button.dataset.focusKey = "p:" + nameKey(p.name);
    button.dataset.user = p.name;
    button.title = `${p.name}: ${p.detail} (click for details)`;
    const mark = el("span", "status-mark", STATUS_MARK[p.status] || "-");
    mark.dataset.status = p.status;
    mark.setAttribute("aria-hidden", "true");
    const name = el("span", "person-name " + colourClass(p.name), p.name);
    const detail = el("span", "person-detail", p.detail);
    button.append(mark, name);
    if (p.typing) {
      const typing = el("span", "person-typing", "✎");
      typing.title = "typing";
      button.append(typing);
    }
    if (p.unread) button.append(el("span", "badge", p.unread));
    button.append(detail);
    li.append(button);
    return li;
  }

  function chatOrder() {
    const convs = [...chat().conversations.values()];
    const rest = convs.filter((c) => c.key !== MAIN).sort((a, b) => b.lastActivity - a.lastActivity || a.name.localeCompare(b.name));
    return [chat().conversations.get(MAIN), ...rest];
  }

  function drawChats() {
    const c = chat();
    const groups = [...c.conversations.values()].filter((conv) => conv.group && !conv.gone).length;
    $("group-count").textContent = groups ? `· ${groups} group${groups === 1 ? "" : "s"}` : "";
    const model = chatOrder().map((conv) => {
      const person = conv.group || conv.key === MAIN ? null : c.people.get(conv.key);
      return {
        key: conv.key, label: convLabel(conv), group: conv.group, gone: Boolean(conv.gone),
        unread: conv.unread, mentions: conv.mentions, activity: conv.activity,
        open: conv.key === c.openKey, status: person ? (person.online ? person.status : "offline") : "",
        requests: conv.group ? (c.requests.get(conv.key) || new Map()).size : 0,
      };
    });
    rebuild($("chats"), "chats", JSON.stringify(model), () => model.map(chatItem));
    const missed = missedCount();
    $("tab-chats-badge").hidden = missed === 0;
    $("tab-chats-badge").textContent = String(missed);
  }

  function chatItem(m) {
    const li = el("li", "chat-item");
    li.dataset.conv = m.key;
    const button = el("button", "chat-button");
    button.type = "button";
    button.dataset.conv = m.key;
    button.dataset.focusKey = "c:" + m.key;
    button.dataset.unread = String(m.unread);
    if (m.open) button.setAttribute("aria-current", "true");
    if (m.gone) button.classList.add("gone");
    if (m.activity) button.classList.add("activity");
    // plain symbols, not emoji: a LAN machine may have no emoji font
    const icon = el("span", "chat-icon", m.key === MAIN ? "⌂" : m.group ? "#" : STATUS_MARK[m.status] || "@");
    icon.setAttribute("aria-hidden", "true");
    if (m.status) icon.dataset.status = m.status;
    const label = el("span", "chat-label " + (m.group || m.key === MAIN ? "" : colourClass(m.label)), m.group ? m.label.slice(1) : m.label);
    button.append(icon, label);
    if (m.gone) button.append(el("span", "chat-gone", "✗"));
    if (m.requests) {
      const req = el("span", "badge waiting", `+${m.requests}`);
      req.title = `${m.requests} asking to join`;
      button.append(req);
    }
    if (m.unread) {
      const badge = el("span", "badge" + (m.mentions ? " mention" : ""), m.mentions ? `@${m.unread}` : m.unread);
      badge.title = `${m.unread} unread${m.mentions ? `, ${m.mentions} mentioning you` : ""}`;
      button.append(badge);
    } else if (m.activity) {
      const dot = el("span", "dot", "●");
      dot.title = "new activity";
      button.append(dot);
    }
    li.append(button);
    return li;
  }

  function drawConversationHeader() {
    const conv = current();
    const c = chat();
    const title = $("conv-title");
    title.textContent = convLabel(conv);
    title.className = "conv-title" + (conv.group || conv.key === MAIN ? "" : " " + colourClass(conv.name));
    let detail;
    if (conv.key === MAIN) {
      const online = [...c.people.values()].filter((p) => p.online).length + (state.phase === "chatting" ? 1 : 0);
      detail = `${online} online`;
    } else if (conv.group) {
      detail = conv.gone || conv.topic || (conv.members !== null ? `${conv.members} member(s)` : "group");
    } else {
      const person = c.people.get(conv.key);
      detail = person ? personDetail(person) : "";
    }
    $("conv-detail").textContent = detail;
    $("conversation-pane").dataset.conv = conv.key;
    $("conv-whois").hidden = conv.group || conv.key === MAIN;
    $("conv-members").hidden = !conv.group || Boolean(conv.gone);
    $("conv-leave").hidden = !conv.group || Boolean(conv.gone);
    $("conv-join").hidden = !conv.group || !conv.gone;
  }

  function drawRequests() {
    const conv = current();
    const waiting = conv.group && !conv.gone ? [...(chat().requests.get(conv.key) || new Map()).values()] : [];
    const box = $("requests");
    box.hidden = waiting.length === 0;
    rebuild($("request-list"), "requests", JSON.stringify([conv.key, waiting]), () => waiting.map((name) => {
      const li = el("li", "request");
      li.dataset.user = name;
      const who = el("span", "request-name " + colourClass(name), name);
      const accept = el("button", "accept", "Accept");
      accept.type = "button";
      accept.dataset.accept = name;
      accept.dataset.focusKey = "a:" + nameKey(name);
      accept.setAttribute("aria-label", `Accept ${name} into #${conv.name}`);
      const reject = el("button", "reject", "Reject");
      reject.type = "button";
      reject.dataset.reject = name;
      reject.dataset.focusKey = "r:" + nameKey(name);
      reject.setAttribute("aria-label", `Reject ${name}'s request to join #${conv.name}`);
      li.append(who, el("span", "request-text", " asks to join"), accept, reject);
      return li;
    }));
  }

  function drawMessages() {
    const list = $("messages");
    const conv = current();
    const fresh = renderState.messagesKey !== conv.key;
    if (!fresh && conv.dirtyFrom === Infinity) return;
    // Stay at the bottom if the reader was there; keep their place if they scrolled up.
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    let from = fresh ? 0 : Math.min(conv.dirtyFrom, list.children.length);
    if (fresh) list.replaceChildren();
    while (list.children.length > from) list.lastChild.remove();
    const nodes = [];
    for (let i = from; i < conv.entries.length; i++) nodes.push(messageItem(conv.entries[i]));
    list.append(...nodes);
    if (!conv.entries.length) list.append(emptyConversation(conv));
    conv.dirtyFrom = Infinity;
    renderState.messagesKey = conv.key;
    if (fresh || atBottom) list.scrollTop = list.scrollHeight;
  }

  function emptyConversation(conv) {
    const text = conv.key === MAIN ? "No messages yet. Say hello!"
      : conv.group ? `Nothing in #${conv.name} yet.`
        : `This is the start of your private conversation with ${conv.name}.`;
    const li = el("li", "empty", text);
    li.dataset.kind = "empty";
    return li;
  }

  function messageItem(entry) {
    const li = el("li", `msg kind-${entry.kind}`);
    li.dataset.kind = entry.kind;
    if (entry.sender) li.dataset.sender = entry.sender;
    if (entry.own) li.classList.add("own");
    if (entry.mention) li.classList.add("mention");
    if (entry.history) li.classList.add("history");
    li.dataset.own = String(entry.own);
    li.dataset.mention = String(entry.mention);
    li.dataset.history = String(entry.history);
    const time = el("time", "msg-time", shortTime(entry.ts));
    time.dateTime = new Date(entry.ts).toISOString();
    time.title = fullFormat.format(new Date(entry.ts)) + (entry.history ? " (history)" : "");
    li.append(time);
    const text = el("span", "msg-text");
    if (entry.kind === "message" || entry.kind === "action") {
      const who = el("span", "msg-sender " + colourClass(entry.sender), entry.own ? "you" : entry.sender);
      if (entry.own) who.title = entry.sender;
      if (entry.kind === "action") {
        li.append(el("span", "msg-star", "*"), who);
        text.append(" ");
      } else {
        li.append(who);
      }
      appendRichText(text, entry.text);
    } else {
      text.textContent = entry.text;
    }
    li.append(text);
    return li;
  }

  const AT_RE = /@[\p{L}\p{N}_.-]*[\p{L}\p{N}_-]/gu;

  /** Text with "@name" marked (yours stronger): text nodes and spans only, never HTML. */
  function appendRichText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(AT_RE)) {
      const before = match.index > 0 ? text[match.index - 1] : "";
      if (before && /[\p{L}\p{N}_.@-]/u.test(before)) continue; // inside a word or an address
      if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
      const me = chat().me !== null && nameKey(match[0].slice(1)) === nameKey(chat().me);
      parent.append(el(me ? "mark" : "span", me ? "at me" : "at", match[0]));
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  function drawTyping() {
    const names = typingNames(chat().openKey);
    const text = names.length === 0 ? ""
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…`
          : "several people are typing…";
    const line = $("typing");
    if (line.textContent !== text) line.textContent = text;
    const note = $("composer-note");
    if (!note.hidden && Date.now() > state.noteUntil) note.hidden = true;
  }

  function drawTabs() {
    for (const button of document.querySelectorAll("#pane-tabs button")) {
      button.setAttribute("aria-pressed", String(button.dataset.show === state.pane));
    }
  }

  function showPane(pane) {
    state.pane = pane;
    $("chat-screen").dataset.pane = pane;
    drawTabs();
  }

  // --- wiring ------------------------------------------------------------------------------------

  /** Once a second: typing off after a pause, countdowns, expiries, idle times. */
  function tick() {
    const now = Date.now();
    const out = state.typingOut;
    if (out.target !== null && now - out.lastKey >= TYPING_IDLE_OFF) typingStop();
    if (state.phase === "reconnecting" && state.reconnectAt !== null && now >= state.reconnectAt) connect();
    for (const [key, t] of chat().typing) if (t.until <= now) chat().typing.delete(key);
    render();
  }

  function onMessageKeyDown(event) {
    const input = event.target;
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      // recall earlier lines, as in a terminal (only when the caret is not mid-text)
      const history = state.inputHistory;
      if (!history.length || (input.value && state.inputIndex === history.length)) return;
      event.preventDefault();
      state.inputIndex = Math.max(0, Math.min(history.length, state.inputIndex + (event.key === "ArrowUp" ? -1 : 1)));
      input.value = state.inputIndex < history.length ? history[state.inputIndex] : "";
    } else if (event.key === "Escape" && input.value) {
      input.value = "";
      typingStop();
    }
  }

  function onMessageSubmit(event) {
    event.preventDefault();
    const input = $("message-input");
    const text = input.value;
    if (!submitLine(text)) {
      render();
      return;
    }
    state.inputHistory = [...state.inputHistory, text].slice(-INPUT_HISTORY);
    state.inputIndex = state.inputHistory.length;
    input.value = "";
    $("messages").scrollTop = $("messages").scrollHeight;
    render();
  }

  function onNewChat(event) {
    event.preventDefault();
    const input = $("new-chat-name");
    const text = input.value.trim();
    if (!text) return;
    sideError("");
    if (text.startsWith("#")) {
      const name = normalizeName(text.slice(1));
      if (!name) return sideError(`invalid group name '${text}': # then 1 to 32 letters, digits, _, - or .`);
      const conv = chat().conversations.get(groupKey(name));
      if (conv && !conv.gone) {
        openConversation(conv.key);
      } else if (!send(`/join #${name}`)) {
        return sideError("not connected");
      }
      // a public group opens when the server says we joined; a private one asks the owner
    } else {
      const name = normalizeName(text);
      if (!name) return sideError(`invalid name '${text}': 1 to 32 letters, digits, _, - or .`);
      if (isMe(name)) return sideError("that is you: pick someone else");
      const person = chat().people.get(nameKey(name));
      openConversation(conversationWith(person ? person.name : name).key);
    }
    input.value = "";
    render();
  }

  function onNewGroup(event) {
    event.preventDefault();
    const input = $("new-group-name");
    const text = input.value.trim().replace(/^#/, "");
    if (!text) return;
    const name = normalizeName(text);
    if (!name) return sideError(`invalid group name '#${text}': 1 to 32 letters, digits, _, - or .`);
    const visibility = $("new-group-private").checked ? "private" : "public";
    if (!send(`/create #${name} ${visibility}`)) return sideError("not connected");
    sideError("");
    input.value = "";
    $("new-group-private").checked = false;
  }

  function sideError(text) {
    const box = $("side-error");
    box.textContent = text;
    box.hidden = !text;
  }

  function onStatusSubmit(event) {
    event.preventDefault();
    const status = $("status-select").value;
    const message = $("status-message").value.trim();
    if (!STATUSES.includes(status)) return;
    if (!send(message ? `/status ${status} ${message}` : `/status ${status}`)) showNote("not connected");
    $("status-message").value = "";
  }

  function wire() {
    $("login-form").addEventListener("submit", onLoginSubmit);
    for (const radio of document.querySelectorAll("input[name=mode]")) {
      radio.addEventListener("change", () => {
        const register = $("login-mode-register").checked;
        $("login-submit").textContent = register ? "Register" : "Log in";
        $("login-password").autocomplete = register ? "new-password" : "current-password";
      });
    }
    $("login-server").textContent = window.location.host || "";
    $("message-form").addEventListener("submit", onMessageSubmit);
    $("message-input").addEventListener("input", typingKeystroke);
    $("message-input").addEventListener("keydown", onMessageKeyDown);
    $("new-chat-form").addEventListener("submit", onNewChat);
    $("new-group-form").addEventListener("submit", onNewGroup);
    $("status-form").addEventListener("submit", onStatusSubmit);
    // choosing a status sends it at once; the message field is sent with it if filled
    $("status-select").addEventListener("change", () => $("status-form").requestSubmit());
    $("logout").addEventListener("click", logOut);
    $("reconnect-now").addEventListener("click", reconnectNow);
    $("chats").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-conv]");
      if (button) openConversation(button.dataset.conv);
    });
    $("people").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-user]");
      if (button) openUserInfo(button.dataset.user);
    });
    $("request-list").addEventListener("click", (event) => {
      const conv = current();
      const button = event.target.closest("button[data-accept], button[data-reject]");
      if (!button || !conv.group) return;
      const accept = button.dataset.accept !== undefined;
      const name = accept ? button.dataset.accept : button.dataset.reject;
      // the buttons go when the server confirms (joined / request rejected)
      if (send(`/${accept ? "accept" : "reject"} ${name} #${conv.name}`)) button.disabled = true;
    });
    $("notification").addEventListener("click", () => {
      const where = $("notification").dataset.where;
      const newest = chat().notifications[chat().notifications.length - 1];
      if (newest && newest.kind === "server") chat().notifications.pop();
      openConversation(where || MAIN);
    });
    $("conv-whois").addEventListener("click", () => openUserInfo(current().name));
    $("conv-members").addEventListener("click", () => {
      const conv = current();
      if (send(`/members #${conv.name}`)) state.pending.push({ cmd: "members", auto: false, arg: conv.name, at: Date.now() });
    });
    $("conv-leave").addEventListener("click", () => send(`/leave #${current().name}`));
    $("conv-join").addEventListener("click", () => send(`/join #${current().name}`));
    $("user-info-close").addEventListener("click", closeUserInfo);
    $("user-info").addEventListener("close", () => { state.whoisPanel = null; });
    $("user-info").addEventListener("click", (event) => {
      if (event.target === $("user-info")) closeUserInfo(); // a click on the backdrop
    });
    $("user-info-message").addEventListener("click", () => {
      const name = $("user-info-name").textContent;
      closeUserInfo();
      if (!name || isMe(name)) return;
      const person = chat().people.get(nameKey(name));
      openConversation(conversationWith(person ? person.name : name).key);
      $("message-input").focus();
    });
    for (const button of document.querySelectorAll("#pane-tabs button")) {
      button.addEventListener("click", () => showPane(button.dataset.show));
    }
    // timers are slowed down in a background tab: catch up (countdowns, reconnect) on return
    document.addEventListener("visibilitychange", tick);
    window.addEventListener("online", reconnectNow); // the network is back: do not wait
    setInterval(tick, 1000);
    $("login-name").focus();
  }

  wire();
})();
