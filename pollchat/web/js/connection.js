/* pollchat web client: the WebSocket (same origin, /ws), sending lines, and coming
 * back after a drop with exponential back-off and jitter. */
import { MAIN, BACKOFF_FIRST, BACKOFF_MAX, TRANSIENT_ERRORS, refusalInWords } from "./util.js";
import { ui, state, addLine, markDisconnected } from "./state.js";
import { onServerMessage } from "./events.js";
import { typingForget } from "./typing.js";
import { backToForm } from "./screens.js";

// --- the connection --------------------------------------------------------------------------

const OPEN = 1; // WebSocket.OPEN, spelled out so that Node (no WebSocket before 22) can import this

export function socketUrl() {
  // Same origin; ws:// or wss:// as the page came. Relative, so a page served under a
  // path prefix by a proxy talks to that prefix's /ws.
  const url = new URL("ws", window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  url.search = "";
  return url.href;
}

export function connect() {
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
    if (ws === state.ws) ui.render();
  };
  ws.onmessage = (message) => { if (ws === state.ws) onServerMessage(message.data); };
  ws.onclose = (event) => {
    if (ws !== state.ws) return;
    state.ws = null;
    onSocketClosed(!opened ? "cannot connect to the chat server"
      : event.code === 1000 || event.code === 1005 ? "the server closed the connection"
        : "connection to the server lost");
  };
  ui.render();
}

/** Forget the current socket (its late events are ignored) and close it. */
export function dropSocket() {
  const ws = state.ws;
  state.ws = null;
  if (ws) {
    try { ws.close(); } catch { /* already closed */ }
  }
}

export function send(line) {
  const ws = state.ws;
  if (!ws || ws.readyState !== OPEN) return false;
  ws.send(line);
  return true;
}

export function onSocketClosed(reason) {
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

export function scheduleReconnect() {
  // 1 s, 2 s, 4 s ... 30 s, each drawn between half and all of it so many pages do
  // not all come back at the same instant after a server restart.
  const ceiling = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** state.backoffStep);
  state.backoffStep += 1;
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  state.phase = "reconnecting";
  state.reconnectAt = Date.now() + delay;
  ui.render();
}

export function reconnectNow() {
  if (state.phase === "reconnecting" && state.credentials) connect();
}

export function loginRefused(code, text) {
  // e.g. the old session is still there: try again later with the same password
  text = refusalInWords(code, text, state.credentials ? state.credentials.name : "");
  if (state.loggedInOnce && TRANSIENT_ERRORS.has(code)) {
    state.lastError = text;
    dropSocket();
    scheduleReconnect();
    return;
  }
  const hints = {
    already_online: "Log out there first, or wait until that session has ended.",
    too_many_sessions: "Log out on one of your other devices first.",
    bad_format: "A name is 1 to 32 letters, digits, _, - or . and the password may not be empty.",
    wrong_password: "Check the name and the password (or choose Register for a new account).",
    name_taken: "Someone has that name already: choose another, or Log in if it is yours.",
    server_full: "The chat is full right now: try again later.",
  };
  state.credentials = null;
  state.loggedInOnce = false;
  backToForm(text, "", hints[code] || "");
}

