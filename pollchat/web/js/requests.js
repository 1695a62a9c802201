/* pollchat web client: requests the page sends by itself or waits answers for, so an
 * answer it asked for is not shown as if the user had typed the command. No DOM. */
import { GROUP_HISTORY, WHO_EVERY, OLDER_PAGE, nameKey, groupKey, isoTs } from "./util.js";
import { ui, state, chat, openConversation, olderCursor, scrollbackTarget, unreportedRead, isViewing } from "./state.js";
import { send } from "./connection.js";

// --- requests the page is waiting answers for ------------------------------------------------

/** Send `line`, a request the page makes by itself, and wait for its answer; false
 * when not connected. */
export function sendAuto(cmd, line, arg = "") {
  if (!send(line)) return false;
  state.pending.push({ cmd, auto: true, arg, at: Date.now() });
  return true;
}

export function takePendingItem(cmd) {
  const index = state.pending.findIndex((p) => p.cmd === cmd);
  return index === -1 ? null : state.pending.splice(index, 1)[0];
}

/** Dequeue the oldest request for `cmd`; whether the page sent it by itself. */
export function takePending(cmd) {
  const item = takePendingItem(cmd);
  return Boolean(item && item.auto);
}

export function takePendingPeek(cmd) {
  return state.pending.some((p) => p.cmd === cmd);
}

/** An error that answers the oldest `cmd` request if `matches(arg)`: dequeue it;
 * true (swallow the error) if the page asked by itself. A clicked /whois shows the
 * error in the user dialog; the check before "Open a chat" says it beside that form. */
export function answerPending(cmd, matches) {
  const index = state.pending.findIndex((p) => p.cmd === cmd);
  if (index === -1 || !matches(state.pending[index].arg)) return false;
  const [item] = state.pending.splice(index, 1);
  if (item.panel) {
    ui.whoisUnknown(item.arg);
    return true;
  }
  if (item.open) {
    ui.chatRefused(`no such user: ${item.arg}: nobody has registered that name`);
    return true;
  }
  return item.auto;
}

/** "not a member" / "no such group" answering our /history #g or /members #g. */
export function groupRequestRefused(text) {
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

export function dropUserPending(cmd) {
  for (let i = state.pending.length - 1; i >= 0; i--) {
    if (state.pending[i].cmd === cmd && !state.pending[i].auto) {
      state.pending.splice(i, 1);
      return;
    }
  }
}

export function requestWho() {
  state.whoAt = Date.now() + WHO_EVERY;
  sendAuto("who", "/who");
}

/** The periodic /who (every WHO_EVERY ms while chatting): it refreshes statuses and
 * idle times, and the server does not count it as activity (a passive command). */
export function pollWho(now) {
  if (state.phase === "chatting" && now >= state.whoAt) requestWho();
}

/** "Open a chat" with person `name`. A conversation with them opens at once; otherwise
 * the page asks the server `/whois NAME` first: its answer opens the chat under the
 * server's spelling (events.js, onWhois), "no such user" says so once (ui.chatRefused)
 * and no contact is added for a name nobody has. False when not connected. */
export function openChatWith(name) {
  const conv = chat().conversations.get(nameKey(name));
  if (conv && !conv.group) {
    openConversation(conv.key);
    return true;
  }
  if (!send(`/whois ${name}`)) return false;
  state.pending.push({ cmd: "whois", auto: true, arg: name, open: true, at: Date.now() });
  return true;
}

/** Ask once per connection for the recent lines of a group or private conversation
 * when it is opened (as the TUI does for groups; private chats are filled at login). */
export function fetchHistoryFor(key) {
  const conv = chat().conversations.get(key);
  if (!conv || !conv.group || conv.gone || state.historyFetched.has(key) || state.phase !== "chatting") return;
  state.historyFetched.add(key);
  sendAuto("history", `/history #${conv.name} ${GROUP_HISTORY}`, conv.name);
}


/** Ask for the page of scrollback before the oldest line of conversation `key`
 * (/older), unless one is on its way or the server said nothing older is kept; whether
 * it was asked. The page scrolled to its top calls this (main.js). */
export function requestOlder(key) {
  const conv = chat().conversations.get(key);
  if (!conv || conv.olderWaiting || conv.olderDone || state.phase !== "chatting") return false;
  const words = ["/older", scrollbackTarget(conv), olderCursor(conv), String(OLDER_PAGE)].filter(Boolean);
  if (!sendAuto("older", words.join(" "), key)) return false;
  conv.olderWaiting = true;
  return true;
}

/** An error that answers our /older (an old server, a group left, a name gone):
 * stop asking for that conversation; true to swallow it. */
export function olderRefused(code, text) {
  const errors = ["usage", "bad_cursor", "no_such_user", "not_member", "no_such_group"];
  if (!errors.includes(code) && !(code === "unknown_command" && text.startsWith("unknown command /older"))) return false;
  const item = takePendingItem("older");
  if (!item) return false;
  const conv = chat().conversations.get(item.arg);
  if (conv) Object.assign(conv, { olderWaiting: false, olderDone: true });
  return true;
}

/** Tell the server (/read) that the user has seen the newest message from the other
 * person in private conversation `key`, once per new message, while it is on screen
 * and the tab is visible; a server without /read is asked once (events.js). */
export function reportRead(key) {
  if (!state.readSupported || state.phase !== "chatting" || !isViewing(key)) return;
  const unreported = unreportedRead(key);
  if (unreported) send(`/read @${unreported[0]} ${isoTs(unreported[1])}`);
}
