/* pollchat web client: drawing the chat screen from the state, at most once a frame;
 * a list is rebuilt only when what it shows changed. */
import { MAIN, SERVER_NOTICE_TTL, STATUSES, STATUS_MARK, nameKey, colourClass, fullFormat, shortTime, formatDuration, linkPieces, isBlock } from "./util.js";
import { state, chat, current, isViewing, convLabel, receiptMark, markRead, typingNames, missedCount, onlineCount, peopleList, chatOrder } from "./state.js";
import { $, el } from "./screens.js";
import { directoryRows } from "./groups.js";

// --- rendering -------------------------------------------------------------------------------

// What was drawn last, so panes are only rebuilt when their content changed (and the
// focused button of a list survives an update).
export const renderState = { scheduled: false, messagesKey: null, signatures: {} };

/** Redraw on the next frame: many events in a burst cost one redraw. The tab's title
 * is set at once: frames do not run in a background tab, where it matters most. */
export function render() {
  drawTitle();
  if (renderState.scheduled) return;
  renderState.scheduled = true;
  requestAnimationFrame(() => {
    renderState.scheduled = false;
    draw();
  });
}

export function draw() {
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
  drawGroupFinder();
  drawSearch();
  drawIgnoreButton();
}

/** The person dialog's Ignore button says whether the user ignores that person now
 * (state.ignored follows the server's ignore notices). */
export function drawIgnoreButton() {
  const button = $("user-info-ignore");
  const name = $("user-info-name").textContent;
  const hidden = !$("user-info").open || !name || !state.ignoreKnown || nameKey(name) === nameKey(chat().me || "");
  button.hidden = hidden;
  const ignored = !hidden && state.ignored.has(nameKey(name));
  button.textContent = ignored ? "Unignore" : "Ignore";
  button.setAttribute("aria-pressed", String(ignored));
  $("user-info-ignored").hidden = !ignored;
}

/** Replace a list's items only when `signature` changed; keep keyboard focus on the
 * item with the same data-focus-key. */
export function rebuild(list, name, signature, build) {
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

export function drawConnection() {
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

export function placeholderFor(conv) {
  if (conv.key === MAIN) return "Message everyone…";
  if (conv.group) return conv.gone ? `#${conv.name}: ${conv.gone}` : `Message #${conv.name}…`;
  return `Message ${conv.name}…`;
}

export function drawTopbar() {
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

export function drawTitle() {
  if (state.phase === "login") return;
  const missed = missedCount();
  const title = missed ? `(${missed}) pollchat` : chat().me ? `pollchat · ${chat().me}` : "pollchat";
  if (document.title !== title) document.title = title;
}

export function flashNotification() {
  const bar = $("notification");
  bar.classList.remove("flash");
  // restart the animation on the next frame
  requestAnimationFrame(() => bar.classList.add("flash"));
}

export function idleOf(person) {
  if (person.idle === null || person.idle === undefined) return null;
  return person.idle + Math.max(0, (Date.now() - person.measuredAt) / 1000);
}

export function personDetail(p) {
  if (!p.online) return p.lastSeen ? `seen ${formatDuration((Date.now() - p.lastSeen) / 1000)} ago` : "offline";
  const idle = idleOf(p);
  const parts = [p.message ? `${p.status}: ${p.message}` : p.status];
  if (p.status !== "active" && idle !== null && idle >= 60) parts.push(`idle ${formatDuration(idle)}`);
  return parts.join(" · ");
}

export function drawPeople() {
  const { online, offline } = peopleList();
  // one count (state.js, onlineCount) for the title, the tab and the main chat's header
  const count = onlineCount();
  $("online-count").textContent = `(${count})`;
  $("tab-people-count").textContent = String(count);
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

export function personItem(p, online) {
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

export function drawChats() {
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

export function chatItem(m) {
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

export function drawConversationHeader() {
  const conv = current();
  const c = chat();
  const title = $("conv-title");
  title.textContent = convLabel(conv);
  title.className = "conv-title" + (conv.group || conv.key === MAIN ? "" : " " + colourClass(conv.name));
  let detail;
  if (conv.key === MAIN) {
    detail = `${onlineCount()} online`; // the user excluded, as in the People title
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

export function drawRequests() {
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

export function drawMessages() {
  const list = $("messages");
  const conv = current();
  const fresh = renderState.messagesKey !== conv.key;
  if (!fresh && conv.dirtyFrom === Infinity) return;
  // Stay at the bottom if the reader was there; keep their place if they scrolled up,
  // also when older lines come in above them (a scrollback page).
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  const fromBottom = list.scrollHeight - list.scrollTop;
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
  else if (from === 0) list.scrollTop = list.scrollHeight - fromBottom;
  if (conv.jumpTo && !conv.jumpTarget) {
    // a search result opened, now among the lines: show it in the middle of the pane
    const item = list.querySelector(`li.msg[data-id="${conv.jumpTo}"]`);
    if (item) {
      item.scrollIntoView({ block: "center" });
      conv.jumpTo = 0;
    }
  }
}

export function emptyConversation(conv) {
  const text = conv.key === MAIN ? "No messages yet. Say hello!"
    : conv.group ? `Nothing in #${conv.name} yet.`
      : `This is the start of your private conversation with ${conv.name}.`;
  const li = el("li", "empty", text);
  li.dataset.kind = "empty";
  return li;
}

export function messageItem(entry) {
  const li = el("li", `msg kind-${entry.kind}`);
  li.dataset.kind = entry.kind;
  if (entry.sender) li.dataset.sender = entry.sender;
  if (entry.own) li.classList.add("own");
  if (entry.mention) li.classList.add("mention");
  if (entry.history) li.classList.add("history");
  if (entry.id) li.dataset.id = String(entry.id);
  if (entry.id && entry.id === current().marked) li.classList.add("jumped");
  li.dataset.own = String(entry.own);
  li.dataset.mention = String(entry.mention);
  li.dataset.history = String(entry.history);
  const time = el("time", "msg-time", shortTime(entry.ts));
  time.dateTime = new Date(entry.ts).toISOString();
  time.title = fullFormat.format(new Date(entry.ts)) + (entry.history ? " (history)" : "");
  li.append(time);
  if (isBlock(entry)) {
    // command output (/help, /who...): a monospace block, so its columns line up
    li.classList.add("block");
    li.append(el("pre", "msg-text msg-block", entry.text));
    return li;
  }
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
  const mark = receiptMark(current(), entry);
  if (mark) {
    const receipt = el("span", "msg-receipt", mark);
    receipt.dataset.receipt = mark === "✓✓" ? "read" : "sent";
    receipt.title = mark === "✓✓" ? "read" : "sent";
    receipt.setAttribute("aria-label", receipt.title);
    li.append(receipt);
  }
  return li;
}

export const AT_RE = /@[\p{L}\p{N}_.-]*[\p{L}\p{N}_-]/gu;

/** A chat line's text: http(s) URLs as links (util.js, linkPieces), "@name" marked in
 * the rest. Text nodes and elements only, never HTML. */
export function appendRichText(parent, text) {
  for (const piece of linkPieces(text)) {
    if (piece.href) parent.append(linkElement(piece));
    else appendMentions(parent, piece.text);
  }
}

/** An <a> that opens `piece.href` in a new tab, without giving the page a handle on
 * this one (noopener), without a Referer (noreferrer) and without vouching for it
 * (nofollow); its text is the URL as written. */
export function linkElement(piece) {
  const a = el("a", "link", piece.text);
  a.href = piece.href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return a;
}

/** Text with "@name" marked (yours stronger): text nodes and spans only, never HTML. */
export function appendMentions(parent, text) {
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

export function drawTyping() {
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

export function drawTabs() {
  for (const button of document.querySelectorAll("#pane-tabs button")) {
    button.setAttribute("aria-pressed", String(button.dataset.show === state.pane));
  }
}

export function showPane(pane) {
  state.pane = pane;
  $("chat-screen").dataset.pane = pane;
  drawTabs();
}


/** The "Find groups" dialog, while it is open: the directory (groups.js) filtered by
 * the box, each group with its action button. */
export function drawGroupFinder() {
  if (!$("group-finder").open) return;
  const filter = $("group-filter").value;
  const rows = directoryRows(filter);
  const note = $("group-finder-note");
  if (rows === null) {
    if (!note.textContent) note.textContent = "asking the server…";
  } else if (!rows.length) {
    note.textContent = filter.trim() ? "no group matches" : "no groups yet: New group starts one";
  } else {
    note.textContent = `${rows.length} group${rows.length === 1 ? "" : "s"}: yours, the public ones and those you asked to join`;
  }
  rebuild($("group-directory"), "directory", JSON.stringify(rows), () => (rows || []).map(groupRow));
}

const GROUP_ACTIONS = { open: "Open", join: "Join", ask: "Ask to join", asked: "Asked" };

export function groupRow(row) {
  const li = el("li", "group-row");
  li.dataset.group = row.key;
  const info = el("span", "group-info");
  info.append(el("span", "group-name", "#" + row.name));
  info.append(el("span", "group-meta", `${row.visibility} · ${row.members} member${row.members === 1 ? "" : "s"}`));
  if (row.topic) info.append(el("span", "group-topic", row.topic));
  const button = el("button", row.action === "join" ? "primary" : "", GROUP_ACTIONS[row.action]);
  button.type = "button";
  button.dataset.group = row.name;
  button.dataset.key = row.key;
  button.dataset.action = row.action;
  button.dataset.focusKey = "g:" + row.key;
  button.disabled = row.action === "asked";
  button.setAttribute("aria-label", `${GROUP_ACTIONS[row.action]} #${row.name}`);
  li.append(info, button);
  return li;
}

/** The search dialog's results (the last /search answer), newest first: when, where,
 * who, the line; each a button that opens the conversation at the message. */
export function drawSearch() {
  if (!$("search").open) return;
  const found = chat().searchResults;
  const note = $("search-note");
  if (found) {
    const count = (found.results || []).length;
    note.textContent = count ? `${count} result(s) for '${found.query}', newest first (at most ${found.limit})`
      : `no messages match '${found.query}'`;
  }
  rebuild($("search-results"), "search", JSON.stringify(found), () => ((found && found.results) || []).map(searchRow));
}

export function searchRow(m, index) {
  const li = el("li");
  const button = el("button", "search-result");
  button.type = "button";
  button.dataset.result = String(index);
  const where = !m.conversation ? "main chat" : m.conversation.startsWith("@") ? m.conversation.slice(1) : m.conversation;
  const when = fullFormat.format(new Date(Date.parse(m.sent)));
  button.append(el("span", "search-where", `${when} · ${where}`));
  const text = el("span", "search-text");
  text.append(el("span", "msg-sender " + colourClass(m.sender), m.kind === "action" ? `* ${m.sender} ` : `${m.sender}: `));
  appendRichText(text, String(m.text));
  button.append(text);
  li.append(button);
  return li;
}
