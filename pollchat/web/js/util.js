/* pollchat web client: constants and pure helpers (no DOM, no state, no clock but
 * Date.now() where a time is missing). Names follow pollchat/protocol/names.py, the
 * wire rules pollchat/client/outgoing.py, the text forms the server's text mode. */

// --- constants -----------------------------------------------------------------------

export const MAIN = "";                    // the main chat's conversation key
export const MAX_ENTRIES = 2000;           // lines kept per conversation (oldest go first)
export const TYPING_TTL = 8000;            // a "typing" indicator without refresh lasts this long
export const TYPING_ON_EVERY = 3000;       // at most one "/typing on" per this many ms
export const TYPING_IDLE_OFF = 5000;       // "/typing off" after this long without a keystroke
export const DUPLICATE_WINDOW = 90000;     // a replayed line this close to an identical one is it
export const SERVER_NOTICE_TTL = 120000;   // announcements stay in the notification bar this long
// /who is a passive command (docs/protocol.md, statuses): polling it does not keep the
// user active, so the page refreshes statuses and idle times as the terminal client does.
export const WHO_EVERY = 30000;           // a /who poll this often while chatting (client/app.py)
export const LOGIN_HISTORY = 100;          // /history N asked after login (fills private chats)
export const GROUP_HISTORY = 50;           // /history #g N asked when a group is first opened
export const HISTORY_START = "start of the history: nothing older is kept"; // (texts.CLIENT_HISTORY_START)
export const JUMP_PAGES = 20;              // scrollback pages asked at most to reach a search result
export const OLDER_PAGE = 100;             // /older ... N: messages per scrollback page (the server's most)
export const MAX_WIRE_BYTES = 4000;        // longer typed lines are split (server limit: 4096)
export const INPUT_HISTORY = 100;          // sent lines remembered for Up/Down
export const NOTE_MS = 6000;               // how long a note under the input box stays
export const BACKOFF_FIRST = 1000;
export const BACKOFF_MAX = 30000;
export const STATUSES = ["active", "busy", "away", "inactive"];
export const STATUS_MARK = { active: "+", busy: "!", away: "~", inactive: "z", offline: "-" };
export const COLOURS = 12;                 // sender colour classes .c0 ... .c11 in app.css
export const EMOTICONS = { shrug: "¯\\_(ツ)_/¯", tableflip: "(╯°□°)╯︵ ┻━┻", unflip: "┬─┬ノ( º _ ºノ)" };
export const LOCAL_COMMANDS = new Set(["focus", "me", ...Object.keys(EMOTICONS)]);

// Errors that end a login attempt; the transient ones are retried with back-off when
// the page reconnects by itself (e.g. the old session is not gone yet).
export const AUTH_ERRORS = new Set([
  "wrong_password", "already_online", "name_taken", "bad_format", "server_full",
  "too_many_attempts", "banned", "server_closing", "too_many_connections", "internal",
  "login_timeout", "too_many_sessions",
]);
export const TRANSIENT_ERRORS = new Set([
  "already_online", "server_full", "server_closing", "too_many_connections", "internal",
  "login_timeout", "too_many_sessions",
]);

/** What the page says for the login refusal `code` (the server's `text`) of `name`:
 * the seed's "Password already used" does not say what happened, its code does. */
export function refusalInWords(code, text, name) {
  if (!name) return text;
  if (code === "already_online") return `${name} is already logged in elsewhere`;
  if (code === "too_many_sessions") {
    return `${name} is already logged in on as many devices as the server allows: log out on one of them first`;
  }
  return text;
}

/** The names an ignore notice is about (docs/protocol.md, "/ignore"): the notice's
 * code and the name in its text. Names have no spaces or commas. Returns
 * {add: [names]} | {remove: [names]} | {all: [names]} | null. */
export function ignoreChange(code, text) {
  let m;
  if ((code === "ignored" || code === "already_ignored") && (m = /^you ignore (\S+) (?:now|already)/.exec(text))) {
    return { add: [m[1]] };
  }
  if (code === "unignored" && (m = /^you no longer ignore (\S+)$/.exec(text))) return { remove: [m[1]] };
  if (code === "ignore_list" && (m = /^you ignore: (.+)$/.exec(text))) return { all: m[1].split(", ") };
  if (code === "ignore_none") return { all: [] };
  return null;
}
// After these the server closes the connection and coming back makes no sense.
export const FINAL_NOTICES = new Set(["kicked", "banned_now", "unregistered", "goodbye"]);

// --- pure helpers ----------------------------------------------------------------------

/** The case-insensitive identity of a name (server: NFC + casefold). */
export function nameKey(name) {
  return String(name).normalize("NFC").toLowerCase().normalize("NFC");
}

/** The conversation key of group `name` (with or without its "#"). */
export function groupKey(name) {
  return "#" + nameKey(String(name).replace(/^#/, ""));
}

export const NAME_RE = /^[\p{L}\p{Nd}_.-]+$/u;

/** `name` in NFC if it is a valid account or group name (1 to 32 letters, digits,
 * _ - .), else null. */
export function normalizeName(name) {
  const nfc = String(name).normalize("NFC");
  const length = [...nfc].length;
  return length >= 1 && length <= 32 && NAME_RE.test(nfc) ? nfc : null;
}

/** A stable colour class for a sender: FNV-1a of the name's key, so everyone sees
 * the same person in the same colour and it survives reloads. */
export function colourClass(name) {
  let hash = 0x811c9dc5;
  for (const ch of nameKey(name)) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return "c" + (hash % COLOURS);
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pattern that finds "@name" (the server's rule: not inside a word or an e-mail
 * address; a final "." is punctuation). Matched against nameKey(text). */
export function mentionPattern(name) {
  return new RegExp(
    "(?<![\\p{L}\\p{N}_.@-])@" + escapeRegExp(nameKey(name)) + "(?![\\p{L}\\p{N}_-]|\\.[\\p{L}\\p{N}_-])",
    "u",
  );
}

/** Server time (ISO 8601) to milliseconds; the client's clock if it is missing. */
export function parseTs(text) {
  const ms = typeof text === "string" ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : Date.now();
}

/** Milliseconds as the server writes times (ISO 8601 UTC with milliseconds). */
export function isoTs(ms) {
  return new Date(ms).toISOString();
}

export const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
export const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** "14:32" today, "Mar 3 14:32" another day (local time). */
export function shortTime(ms) {
  const when = new Date(ms);
  const today = new Date();
  const sameDay = when.toDateString() === today.toDateString();
  return sameDay ? timeFormat.format(when) : `${dayFormat.format(when)} ${timeFormat.format(when)}`;
}

/** 42s, 5m, 3h, 2d: whole units, rounded down (the server's format). */
export function formatDuration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  }
  return `${seconds}s`;
}

export const encoder = new TextEncoder();
export const utf8Length = (text) => encoder.encode(text).length;

/** `prefix + text` as lines of at most `limit` UTF-8 bytes, cut on characters
 * (preferably at a space), the prefix repeated on each (client/outgoing.py). */
export function splitForWire(prefix, text, limit = MAX_WIRE_BYTES) {
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
export function isCommandLine(line) {
  const stripped = line.trimStart();
  const head = (stripped.split(/\s+/, 1)[0] || "").toLowerCase();
  return (stripped.startsWith("/") && !stripped.startsWith("//")) || head === "!membres";
}

/** {name, words, rest}: the command without "/", lower case; its whitespace-separated
 * words; and everything after the command word (a message text keeps its spaces). */
export function parseCommand(line) {
  const stripped = line.trim();
  const match = /^(\S+)\s*([\s\S]*)$/.exec(stripped);
  const head = match ? match[1].toLowerCase() : "";
  const rest = match ? match[2] : "";
  const name = head === "!membres" ? "who" : head.replace(/^\//, "");
  return { name, rest, words: rest ? rest.split(/\s+/) : [] };
}

// Text forms of list answers, as the server's text mode words them.
export function whoText(users) {
  const lines = [`online users (${users.length}):`];
  for (const u of users) {
    lines.push(`  ${u.name} - ${u.message ? `${u.status}: ${u.message}` : u.status}, idle ${formatDuration(u.idle || 0)}`);
  }
  return lines.join("\n");
}

export function whoisText(e) {
  if (e.online) {
    const status = e.message ? `${e.status}: ${e.message}` : e.status;
    const since = e.since ? fullFormat.format(new Date(parseTs(e.since))) : "?";
    return `${e.name}: ${status}, online since ${since}, idle ${formatDuration(e.idle || 0)}, ${e.kind} account`;
  }
  if (!e.since) return `${e.name}: offline, never seen, ${e.kind} account`;
  return `${e.name}: offline, last seen ${fullFormat.format(new Date(parseTs(e.since)))}, ${e.kind} account`;
}

export function groupsText(groups) {
  const lines = [`groups (${groups.length}):`];
  for (const g of groups) {
    lines.push(`  #${g.name} - ${g.visibility}, ${g.members} member(s)${g.role ? ", " + g.role : ""}${g.topic ? "; topic: " + g.topic : ""}`);
  }
  if (!groups.length) lines.push("  none yet: /create #name starts one");
  return lines.join("\n");
}

export function membersText(e) {
  const members = e.members || [];
  const lines = [`members of #${e.group} (${members.length}):`];
  for (const m of members) lines.push(`  ${m.name} - ${m.status}${m.owner ? ", owner" : ""}`);
  if (e.pending && e.pending.length) lines.push(`  waiting to join: ${e.pending.join(", ")}`);
  return lines.join("\n");
}

// --- links and blocks in what the page shows ---------------------------------------------

// A URL starts at "http://" or "https://" (any case) not glued to a word before it, and
// runs to the next whitespace; punctuation that usually ends a sentence around it is
// left out (below). Other schemes (javascript:, data:, ftp:...) are never links.
const URL_START_RE = /(?<![\p{L}\p{N}_])https?:\/\/[^\s<>"]+/giu;
const TRAILING_RE = /[.,;:!?'"*_~]$/u;
const CLOSERS = { ")": "(", "]": "[", "}": "{" };

/** `candidate` without the punctuation a sentence put after it: a final ".", ",", "!",
 * quote... and a closing bracket that has no opening one inside the URL (so
 * `(see https://x.org/a)` ends before ")" but `https://en.wikipedia.org/wiki/C_(language)`
 * keeps it). */
export function trimUrl(candidate) {
  let url = candidate;
  for (;;) {
    const last = url.slice(-1);
    if (TRAILING_RE.test(last)) {
      url = url.slice(0, -1);
    } else if (CLOSERS[last] && url.split(CLOSERS[last]).length <= url.split(last).length - 1) {
      url = url.slice(0, -1); // more closers than openers: this one belongs to the sentence
    } else {
      return url;
    }
  }
}

/** The address a link to `text` opens, or null when it is no http(s) URL a browser
 * accepts (the URL parser decides; only its http: and https: results are links). */
export function linkHref(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) return null;
  return url.href;
}

/** `text` as a list of pieces `{text}` and `{text, href}` (an http or https link), in
 * order: joining every piece's `text` gives `text` back exactly. Pure: the page turns
 * the pieces into text nodes and <a> elements (render.js). */
export function linkPieces(text) {
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(URL_START_RE)) {
    const url = trimUrl(match[0]);
    const href = url.length > match[0].indexOf("//") + 2 ? linkHref(url) : null;
    if (href === null) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
    pieces.push({ text: url, href });
    last = match.index + url.length;
  }
  if (last < text.length || !pieces.length) pieces.push({ text: text.slice(last) });
  return pieces.filter((piece, index) => piece.text !== "" || (index === 0 && pieces.length === 1));
}

/** Whether a line is drawn as a monospace block: a notice or error of several lines
 * (/help, /who, /groups, /members answers and the like), whose columns must line up. */
export function isBlock(entry) {
  return (entry.kind === "system" || entry.kind === "error") && String(entry.text).includes("\n");
}
