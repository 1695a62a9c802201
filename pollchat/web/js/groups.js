/* pollchat web client: groups (pollchat/client/groups.py): group changes, /groups
 * answers, the server's mention events, join requests for owners. No DOM. */
import { MAIN, nameKey, groupKey } from "./util.js";
import { state, chat, isMe, isViewing, groupConversation, addLine, notify, openConversation } from "./state.js";

// Group changes as the group's own conversation shows them (the server's wording
// without its "[#group] " prefix: inside the group it says nothing).
export const GROUP_TEXT = {
  created: (e) => `${e.text} group created: others join with /join #${e.group}`,
  joined: (e) => `${e.name} has joined the group`,
  left: (e) => `${e.name} has left the group`,
  requested: () => "your request to join was sent to the owner: analysis in progress",
  request: (e) => `${e.name} asks to join: /accept ${e.name} #${e.group} or /reject ${e.name} #${e.group}`, // and buttons
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
export const GONE_FOR_ALL = { deleted: "the group was deleted", disbanded: "the group was deleted" };
export const GONE_IF_ME = { left: "you left the group", kicked: "you were removed from the group",
                     banned: "you were removed from the group" };

// --- groups (client/groups.py) -----------------------------------------------------------

export function requestsOf(group) {
  const key = groupKey(group);
  if (!chat().requests.has(key)) chat().requests.set(key, new Map());
  return chat().requests.get(key);
}

export function onGroupChange(e, ts) {
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
  directoryChange(e, me);
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
  // A ban may name someone who was not a member: the count waits for /groups.
  if (conv.members !== null && !me) {
    if (change === "joined") conv.members += 1;
    else if (change === "left" || change === "kicked") conv.members = Math.max(0, conv.members - 1);
  }
  addLine(conv.key, inside, ts);
  if (change === "request") {
    // the owner has to answer: buttons in the group, and a notification
    requestsOf(e.group).set(nameKey(e.name), e.name);
    notify("request", e.name, conv.key, `${e.name} asks to join #${conv.name}`, ts);
  }
  if (change === "created" || (change === "joined" && me)) openConversation(conv.key); // the user just asked for it
}

export function renameGroup(conv, newName) {
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
    if (c.openKey === oldKey) c.openKey = newKey; // drawn afresh: the key changed
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
export function reconcileGroups(groups) {
  chat().serverMentions = true; // only a server with groups answers /groups
  chat().directory = groups.map((g) => ({ name: String(g.name), visibility: g.visibility, members: g.members,
                                          role: g.role || "", topic: g.topic || "" }));
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

export function onMention(e, ts) {
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


// --- finding groups: the /groups answer as a directory -------------------------------------

/** Keep the directory (the last /groups answer) current with a change about the user:
 * asked to join, let in or turned down, joined, left; a renamed or deleted group. */
export function directoryChange(e, me) {
  const directory = chat().directory;
  if (!directory) return;
  const key = groupKey(e.group);
  const index = directory.findIndex((g) => groupKey(g.name) === key);
  const change = e.change;
  if (index === -1) {
    if (change === "created") directory.push({ name: e.group, visibility: e.text === "private" ? "private" : "public",
                                               members: 1, role: "owner", topic: "" });
    return;
  }
  const entry = directory[index];
  if (change === "deleted" || change === "disbanded") directory.splice(index, 1);
  else if (change === "renamed") entry.name = e.text;
  else if (change === "requested") entry.role = "pending";
  else if (change === "rejected") entry.role = "";
  else if (change === "accepted" || (change === "joined" && me)) {
    if (entry.role !== "owner" && entry.role !== "member") entry.members += 1;
    entry.role = entry.role === "owner" ? "owner" : "member";
  } else if ((change === "left" || change === "kicked" || change === "banned") && me && entry.role) {
    if (entry.role !== "pending") entry.members = Math.max(0, entry.members - 1);
    entry.role = "";
  }
}

/** The directory as the "Find groups" dialog lists it: groups whose name or topic
 * contains `filter` (case-insensitive), the user's own first, then by member count and
 * name. Each row: {name, key, visibility, members, topic, action}; `action` is "open"
 * (the user is in it), "join" (public), "ask" (private: the owner lets people in) or
 * "asked" (a request is waiting). Members and topic of the user's groups come from
 * their conversations, which group events keep current. null before any answer. */
export function directoryRows(filter = "") {
  const directory = chat().directory;
  if (!directory) return null;
  const needle = nameKey(filter.trim().replace(/^#/, ""));
  const rows = [];
  for (const g of directory) {
    const key = groupKey(g.name);
    const conv = chat().conversations.get(key);
    const inside = Boolean(conv && conv.group && !conv.gone);
    if (needle && !nameKey(g.name).includes(needle) && !nameKey(g.topic || "").includes(needle)) continue;
    rows.push({
      name: inside ? conv.name : g.name, key, visibility: g.visibility,
      members: inside && conv.members !== null ? conv.members : g.members,
      topic: inside ? conv.topic : g.topic,
      action: inside ? "open" : g.role === "pending" ? "asked" : g.visibility === "private" ? "ask" : "join",
    });
  }
  const mine = (row) => (row.action === "open" ? 0 : 1);
  return rows.sort((a, b) => mine(a) - mine(b) || b.members - a.members || a.name.localeCompare(b.name));
}
