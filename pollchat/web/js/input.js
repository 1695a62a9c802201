/* pollchat web client: what the user types: commands as typed, plain lines where the
 * open conversation is (main chat, "/say #..." for a main-chat line starting with "#",
 * "/msg NAME", "/msg #group"), split for the wire. */
import { MAIN, EMOTICONS, LOCAL_COMMANDS, groupKey, normalizeName, splitForWire, isCommandLine, parseCommand } from "./util.js";
import { state, chat, current, addOwn, openConversation } from "./state.js";
import { send } from "./connection.js";
import { typingStop } from "./typing.js";
import { showNote } from "./screens.js";

// --- what the user types ---------------------------------------------------------------------

/** Send one typed line from conversation `conv` (the open one unless a pasted line
 * goes to where it was pasted); false if it was refused here (the note under the input
 * says why) and should stay in the box. */
export function submitLine(text, conv = current()) {
  if (!text.trim()) return false;
  if (state.phase !== "chatting") {
    showNote("not connected: the line was kept, send it again once connected");
    return false;
  }
  typingStop();
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
  } else if (conv.key === MAIN && ((!escaped && saysAsIs(text)) || splitForWire("", text).length > 1)) {
    // Typed in the main chat, so meant for it: as typed, the server would take
    // "#name text" as a group line (or refuse it for a group the user is not in),
    // and so it would any piece of a long line that starts with "#" or "/".
    for (const line of splitForWire(SAY_PREFIX, text)) {
      send(line);
      addOwn(MAIN, line.slice(SAY_PREFIX.length));
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

/** Sent before a main-chat line that saysAsIs() picks: the server sends "/say text" to
 * the main chat as it is, whatever it starts with (docs/protocol.md, Groups). */
export const SAY_PREFIX = "/say ";

/** Whether a plain line typed in the main chat must go as "/say text": one that starts
 * with "#" after any spaces, which the server would otherwise route to group #name or
 * refuse ("#1 fan", "#hashtag", "#familia hi" all stay in the main chat). */
export function saysAsIs(text) {
  return text.trimStart().startsWith("#");
}

export function mayWrite(conv) {
  if (conv.gone) {
    showNote(`not sent: #${conv.name}: ${conv.gone} (/join #${conv.name} to come back)`);
    return false;
  }
  return true;
}

/** Where the server puts a main-chat line: "#name text" goes to group name when the
 * user is in it. Returns [conversation key, text shown]. */
export function addressed(text) {
  const stripped = text.trimStart();
  if (stripped.startsWith("#")) {
    const match = /^#(\S+)\s+([\s\S]*\S)/.exec(stripped);
    const name = match ? normalizeName(match[1]) : null;
    const conv = name ? chat().conversations.get(groupKey(name)) : null;
    if (conv && conv.group && !conv.gone) return [conv.key, match[2].trim()];
  }
  return [MAIN, text];
}

export function localCommand(command, text, conv) {
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
export function afterCommand(command) {
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
