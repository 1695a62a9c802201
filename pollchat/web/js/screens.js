/* pollchat web client: the login form, the chat screen's notes and errors, and the
 * user dialog (/whois). DOM helpers `$` and `el` live here: text reaches the page only
 * through textContent and text nodes, never innerHTML. */
import { MAIN, NOTE_MS, colourClass, parseTs, fullFormat, formatDuration, whoisText } from "./util.js";
import { state, chat, isMe, convLabel, openConversation } from "./state.js";
import { connect, dropSocket, send } from "./connection.js";
import { renderState, render } from "./render.js";
import { loadSettings, saveSettings, alertDecision, alertText, permissionNote } from "./alerts.js";
import { PasteQueue, pastedLines, isMultiLinePaste, needsConfirm, asChatText } from "./paste.js";
import { sendAuto } from "./requests.js";
import { BROWSE } from "./events.js";
import { submitLine } from "./input.js";

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
    // whom the user ignores, asked once per login: the dialog's Ignore button says it
    if (!state.ignoreKnown && !state.pending.some((p) => p.cmd === "ignore")) sendAuto("ignore", "/ignore");
    render();
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


// --- alerts: browser notifications and a sound (alerts.js decides) ----------------------------

/** The remembered choices ({enabled, sound}) and the page's AudioContext, made on a
 * click or key press only (browsers start audio after a user gesture). */
export const alertState = { settings: { enabled: false, sound: true }, audio: null };

/** localStorage, or null where the browser refuses it (then nothing is remembered). */
export function pageStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function notificationPermission() {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** Read the remembered choices (main.js, at start). Nothing is asked of the browser. */
export function loadAlerts() {
  alertState.settings = loadSettings(pageStorage());
  drawAlerts();
}

export function drawAlerts() {
  const { enabled, sound } = alertState.settings;
  const button = $("alerts-open");
  button.dataset.enabled = String(enabled);
  button.textContent = enabled ? (sound ? "Alerts: on" : "Alerts: on, silent") : "Alerts: off";
  $("alerts-enabled").checked = enabled;
  $("alerts-sound").checked = sound;
  $("alerts-sound").disabled = !enabled;
  $("alerts-note").textContent = permissionNote(alertState.settings, notificationPermission());
}

/** The alerts checkbox was clicked: remember the choice; turning alerts on asks the
 * browser's permission if it was never asked (a click is the only time a page may). */
export async function onAlertsToggle() {
  alertState.settings.enabled = $("alerts-enabled").checked;
  saveSettings(pageStorage(), alertState.settings);
  if (alertState.settings.enabled) {
    startAudio();
    if (notificationPermission() === "default") {
      try {
        await Notification.requestPermission();
      } catch {
        // an old browser without the promise form: the note says what it allows
      }
    }
  }
  drawAlerts();
}

export function onSoundToggle() {
  alertState.settings.sound = $("alerts-sound").checked;
  saveSettings(pageStorage(), alertState.settings);
  if (alertState.settings.sound) startAudio();
  drawAlerts();
}

/** Make (or wake) the AudioContext; call from a user gesture only. */
export function startAudio() {
  const { enabled, sound } = alertState.settings;
  if (!enabled || !sound || typeof AudioContext === "undefined") return;
  if (!alertState.audio) alertState.audio = new AudioContext();
  if (alertState.audio.state === "suspended") alertState.audio.resume().catch(() => {});
}

/** A short two-note chime (about 0.3 s), made with WebAudio: no sound file. */
export function playChime() {
  const audio = alertState.audio;
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime + 0.01;
  for (const [offset, frequency] of [[0, 880], [0.12, 1318.5]]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.18, start + offset + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
    tone.connect(gain).connect(audio.destination);
    tone.start(start + offset);
    tone.stop(start + offset + 0.2);
  }
}

/** ui.alert: a notification was added (state.js, notify). */
export function alertFor(n) {
  const decision = alertDecision({ kind: n.kind, live: n.live, hidden: document.hidden,
                                   settings: alertState.settings, permission: notificationPermission() });
  if (decision.sound) playChime();
  if (!decision.show) return;
  const conv = chat().conversations.get(n.where);
  const where = n.where === MAIN ? "the main chat" : convLabel(conv || { key: n.where, name: n.who, group: false });
  const { title, body, tag } = alertText(n.kind, n.who, n.where, where, n.text);
  try {
    const shown = new Notification(title, { body, tag });
    shown.onclick = () => {
      window.focus();
      openConversation(n.where);
      shown.close();
    };
  } catch {
    // a browser that shows notifications only from a service worker: the bar still does
  }
}

// --- pasting several lines (paste.js decides) -----------------------------------------------

export const pasteQueue = new PasteQueue();
let pasteTimer = null;
let pasteWaiting = null; // {lines, key}: what the confirm dialog asks about

/** The input box's paste: one line is left to the browser; several are sent as as many
 * chat lines, in order, to the conversation they were pasted in (asking first above
 * PASTE_CONFIRM_ABOVE lines). */
export function onPaste(event) {
  const text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
  if (!isMultiLinePaste(text)) return;
  event.preventDefault();
  const input = event.target;
  const lines = pastedLines(text, input.value.slice(0, input.selectionStart), input.value.slice(input.selectionEnd));
  if (state.phase !== "chatting") {
    showNote("not connected: nothing was sent");
    return;
  }
  const key = chat().openKey;
  if (!needsConfirm(lines.length)) {
    input.value = "";
    queuePaste(lines, key);
    return;
  }
  pasteWaiting = { lines, key };
  const conv = chat().conversations.get(key);
  $("paste-confirm-text").textContent = `Send ${lines.length} lines to ${conv && key !== MAIN ? convLabel(conv) : "the main chat"}, `
    + "one message each, in this order?";
  const shown = lines.slice(0, 12);
  $("paste-preview").textContent = shown.join("\n") + (lines.length > shown.length ? `\n… ${lines.length - shown.length} more` : "");
  $("paste-send").textContent = `Send ${lines.length} lines`;
  $("paste-confirm").returnValue = "";
  $("paste-confirm").showModal();
  $("paste-send").focus();
}

/** The confirm dialog closed: send if the user chose to. */
export function onPasteConfirmClosed() {
  const waiting = pasteWaiting;
  pasteWaiting = null;
  if (!waiting) return;
  if ($("paste-confirm").returnValue === "send") {
    $("message-input").value = "";
    queuePaste(waiting.lines, waiting.key);
  }
  $("message-input").focus();
}

export function queuePaste(lines, key) {
  pasteQueue.add(lines.map(asChatText), key);
  pumpPaste();
}

/** Send the pasted lines that are due, and come back when the next one is. */
export function pumpPaste() {
  if (pasteTimer !== null) {
    clearTimeout(pasteTimer);
    pasteTimer = null;
  }
  const { dropped } = pasteQueue.drain(Date.now(), (line, key) => {
    const conv = chat().conversations.get(key);
    return Boolean(conv) && submitLine(line, conv);
  });
  if (dropped) showNote(`${dropped} pasted line(s) not sent`);
  const wait = pasteQueue.wait(Date.now());
  if (wait !== null) pasteTimer = setTimeout(pumpPaste, wait);
  render();
}

// --- finding groups ------------------------------------------------------------------------

/** "Find groups": ask the server for /groups (the user's groups and the public ones)
 * and list them; the answer fills the dialog (render.js, drawGroupFinder). */
export function openGroupFinder() {
  const dialog = $("group-finder");
  $("group-filter").value = "";
  renderState.signatures.directory = null;
  const asked = sendAuto("groups", "/groups", BROWSE);
  $("group-finder-note").textContent = asked ? "asking the server…" : "not connected";
  if (!dialog.open) dialog.showModal();
  $("group-filter").focus();
  render();
}

export function closeGroupFinder() {
  const dialog = $("group-finder");
  if (dialog.open) dialog.close();
}

/** A click in the list: open a group the user is in, join a public one, ask to join a
 * private one (the owner answers; the button then says "Asked"). */
export function onGroupFinderClick(event) {
  const button = event.target.closest("button[data-group]");
  if (!button) return;
  const { group, action } = button.dataset;
  if (action === "open") {
    closeGroupFinder();
    openConversation(button.dataset.key);
  } else if (action === "join" || action === "ask") {
    if (!send(`/join #${group}`)) {
      $("group-finder-note").textContent = "not connected";
      return;
    }
    button.disabled = true;
    // a public group opens when the server says the user joined (groups.js)
    if (action === "join") closeGroupFinder();
  }
}
