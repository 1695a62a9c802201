/* pollchat web client (seed 003): chat from a browser. The page's entry point.
 *
 * One WebSocket to /ws on the page's own origin. Each text message carries one line of
 * pollchat's JSON mode: the server sends one event object per message (the endpoint
 * starts in JSON mode, so the first one is the greeting), the page sends plain protocol
 * lines ("login", "alice,secret", "hello", "/msg bob hi"...), exactly what a TCP client
 * types. docs/protocol.md describes every line and event; docs/web-client.md the
 * modules (no build step: the browser loads these ES modules as they are).
 *
 * The logic follows the terminal client (pollchat/client/state.py, groups.py, app.py),
 * and tests/cases/conversation_cases.json holds the cases both must agree on.
 *
 * Security: the server sends a strict CSP (no inline script or style), so there is no
 * inline anything here, and every piece of server or user text reaches the page through
 * textContent or createTextNode, never innerHTML. Credentials live in `state.credentials`
 * only (memory): never in localStorage, sessionStorage, cookies or the URL.
 */
import { MAIN, TYPING_IDLE_OFF, INPUT_HISTORY, STATUSES, nameKey, groupKey, normalizeName } from "./util.js";
import { ui, state, chat, current, isMe, conversationWith, openConversation, jumpTo } from "./state.js";
import { connect, send, reconnectNow } from "./connection.js";
import { openChatWith, pollWho, requestOlder, reportRead } from "./requests.js";
import { typingKeystroke, typingStop } from "./typing.js";
import { submitLine } from "./input.js";
import {
  $, onLoginSubmit, logOut, openUserInfo, closeUserInfo, fillUserInfo, showUserInfoError, showChatScreen,
  setLoginProgress, showNote, sideError, loadAlerts, drawAlerts, onAlertsToggle, onSoundToggle, startAudio, playChime,
  alertFor, onPaste, onPasteConfirmClosed, openGroupFinder, closeGroupFinder, onGroupFinderClick,
} from "./screens.js";
import { render, showPane, flashNotification } from "./render.js";

// --- wiring ------------------------------------------------------------------------------------

/** Once a second: typing off after a pause, countdowns, expiries, idle times, the
 * /who poll. */
function tick() {
  const now = Date.now();
  const out = state.typingOut;
  if (out.target !== null && now - out.lastKey >= TYPING_IDLE_OFF) typingStop();
  if (state.phase === "reconnecting" && state.reconnectAt !== null && now >= state.reconnectAt) connect();
  for (const [key, t] of chat().typing) if (t.until <= now) chat().typing.delete(key);
  pollWho(now);
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
    // opens when the server's /whois says the name exists (requests.js)
    if (!openChatWith(name)) return sideError("not connected");
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

function onStatusSubmit(event) {
  event.preventDefault();
  const status = $("status-select").value;
  const message = $("status-message").value.trim();
  if (!STATUSES.includes(status)) return;
  if (!send(message ? `/status ${status} ${message}` : `/status ${status}`)) showNote("not connected");
  $("status-message").value = "";
}

/** Connect the state's `ui` hooks to the page. */
function connectUi() {
  ui.hidden = () => document.hidden;
  ui.render = render;
  ui.opened = () => {
    showPane("conversation");
    render();
  };
  ui.flash = flashNotification;
  ui.alert = alertFor;
  ui.loginProgress = setLoginProgress;
  ui.welcomed = () => {
    $("login-password").value = "";
    showChatScreen();
  };
  ui.whoisAnswer = fillUserInfo;
  ui.whoisUnknown = showUserInfoError;
  ui.chatRefused = sideError;
  ui.searchResults = () => {
    if (!$("search").open) $("search").showModal();
    render();
  };
}

/** The search dialog: the words go to the server as /search (the answer fills the
 * list, render.js drawSearch); a result opens its conversation at the message. */
function openSearch() {
  if (!$("search").open) $("search").showModal();
  $("search-words").focus();
  render();
}

function onSearchSubmit(event) {
  event.preventDefault();
  const words = $("search-words").value.replace(/\s+/g, " ").trim();
  if (!words) return;
  $("search-note").textContent = send(`/search ${words}`) ? "searching…" : "not connected";
}

function onSearchClick(event) {
  const button = event.target.closest("button[data-result]");
  const found = chat().searchResults;
  if (!button || !found) return;
  const m = (found.results || [])[Number(button.dataset.result)];
  if (!m) return;
  $("search").close();
  jumpTo(m);
  render();
}

function wire() {
  connectUi();
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
  $("message-input").addEventListener("input", () => typingKeystroke($("message-input").value));
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
  // scrollback: at the top of the conversation, ask for the page before its first line
  // (a wheel or key at the top counts too: a short conversation cannot scroll at all)
  const messages = $("messages");
  messages.addEventListener("scroll", () => {
    if (messages.scrollTop < 40) requestOlder(current().key);
  }, { passive: true });
  messages.addEventListener("wheel", (event) => {
    if (event.deltaY < 0 && messages.scrollTop < 40) requestOlder(current().key);
  }, { passive: true });
  messages.addEventListener("keydown", (event) => {
    if ((event.key === "PageUp" || event.key === "Home" || event.key === "ArrowUp") && messages.scrollTop < 40) {
      requestOlder(current().key);
    }
  });
  $("conv-whois").addEventListener("click", () => openUserInfo(current().name));
  $("conv-members").addEventListener("click", () => {
    const conv = current();
    if (send(`/members #${conv.name}`)) state.pending.push({ cmd: "members", auto: false, arg: conv.name, at: Date.now() });
  });
  $("conv-leave").addEventListener("click", () => send(`/leave #${current().name}`));
  $("conv-join").addEventListener("click", () => send(`/join #${current().name}`));
  $("user-info-close").addEventListener("click", closeUserInfo);
  $("user-info-ignore").addEventListener("click", () => {
    // the server's notice (ignored / unignored) turns the button over (events.js)
    const name = $("user-info-name").textContent;
    if (!name || isMe(name)) return;
    send(`/${state.ignored.has(nameKey(name)) ? "unignore" : "ignore"} ${name}`);
  });
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
  // alerts: the browser's permission is asked on the checkbox's click only, never here
  loadAlerts();
  $("alerts-open").addEventListener("click", () => {
    drawAlerts();
    $("alerts").showModal();
  });
  $("alerts-enabled").addEventListener("change", onAlertsToggle);
  $("alerts-sound").addEventListener("change", onSoundToggle);
  $("alerts-test").addEventListener("click", () => {
    startAudio();
    playChime();
  });
  // a remembered "on" needs an AudioContext, which a browser starts after a gesture only
  for (const gesture of ["pointerdown", "keydown"]) document.addEventListener(gesture, startAudio, { passive: true });
  $("message-input").addEventListener("paste", onPaste);
  $("paste-confirm").addEventListener("close", onPasteConfirmClosed);
  $("search-open").addEventListener("click", openSearch);
  $("search-form").addEventListener("submit", onSearchSubmit);
  $("search-results").addEventListener("click", onSearchClick);
  $("search-close").addEventListener("click", () => $("search").close());
  $("groups-find").addEventListener("click", openGroupFinder);
  $("group-finder-close").addEventListener("click", closeGroupFinder);
  $("group-directory").addEventListener("click", onGroupFinderClick);
  $("group-filter").addEventListener("input", render);
  // timers are slowed down in a background tab: catch up (countdowns, reconnect) on return
  document.addEventListener("visibilitychange", tick);
  // back on the tab: the private conversation on screen is read now
  document.addEventListener("visibilitychange", () => reportRead(chat().openKey));
  window.addEventListener("online", reconnectNow); // the network is back: do not wait
  setInterval(tick, 1000);
  $("login-name").focus();
}

wire();
