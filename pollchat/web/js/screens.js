/* pollchat web client: the login form, the chat screen's notes and errors, and the
 * user dialog (/whois). DOM helpers `$` and `el` live here: text reaches the page only
 * through textContent and text nodes, never innerHTML. */
import { NOTE_MS, colourClass, parseTs, fullFormat, formatDuration, whoisText } from "./util.js";
import { state, isMe } from "./state.js";
import { connect, dropSocket, send } from "./connection.js";
import { renderState } from "./render.js";

// --- screens and forms -----------------------------------------------------------------------

export function $(id) {
  return document.getElementById(id);
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function setLoginProgress(text) {
  $("login-progress").textContent = text;
}

/** The login error: the server's words as they are, and an optional explanation. */
export function showLoginError(text, hint = "") {
  const box = $("login-error");
  box.replaceChildren(document.createTextNode(text));
  if (hint) box.append(el("span", "login-error-hint", hint));
  box.hidden = !text;
}

export function backToForm(error, info = "", hint = "") {
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

export function showChatScreen() {
  if (!$("chat-screen").hidden) return;
  $("login-screen").hidden = true;
  $("chat-screen").hidden = false;
  showLoginError("");
  setLoginProgress("");
  $("login-submit").disabled = false;
  renderState.messagesKey = null;
  $("message-input").focus();
}

export function onLoginSubmit(event) {
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

export function loginFieldError(text, field) {
  showLoginError(text);
  $(field).focus();
}

export function logOut() {
  if (state.phase === "chatting" && send("/quit")) {
    state.finalNotice = "You logged out."; // in case the goodbye is not read before the close
    return;
  }
  state.credentials = null;
  state.loggedInOnce = false;
  backToForm("", "You logged out.");
}

export function showNote(text) {
  state.noteUntil = Date.now() + NOTE_MS;
  const note = $("composer-note");
  note.textContent = text;
  note.hidden = false;
}

export function sideError(text) {
  const box = $("side-error");
  box.textContent = text;
  box.hidden = !text;
}

// --- the user dialog (/whois) ------------------------------------------------------------

export function openUserInfo(name) {
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

export function fillUserInfo(e) {
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

export function showUserInfoError(name) {
  if (!$("user-info").open) return;
  $("user-info-text").textContent = `no such user: ${name}`;
  $("user-info-text").classList.remove("sr-only");
  $("user-info-message").hidden = true;
}

export function closeUserInfo() {
  const dialog = $("user-info");
  if (dialog.open) dialog.close();
  state.whoisPanel = null;
}

