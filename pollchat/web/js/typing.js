/* pollchat web client: telling others the user is typing (client/outgoing.py): at
 * most one "/typing on" every few seconds, "/typing off" after a pause. No DOM. */
import { MAIN, TYPING_ON_EVERY, isCommandLine } from "./util.js";
import { state, current } from "./state.js";
import { send } from "./connection.js";

// --- typing indicators (client/outgoing.py) --------------------------------------------------

export function typingTarget() {
  const conv = current();
  if (conv.key === MAIN) return MAIN;
  if (conv.group) return conv.gone ? null : "#" + conv.name;
  return conv.name;
}

export function typingLine(onOff, target) {
  return target === MAIN ? `/typing ${onOff}` : `/typing ${onOff} ${target}`;
}

/** The input box now holds `text` (a key was pressed). */
export function typingKeystroke(text) {
  if (!state.typingSupported || state.phase !== "chatting") return;
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

export function typingStop() {
  const out = state.typingOut;
  if (out.target === null) return;
  const target = out.target;
  out.target = null;
  out.lastOn = -Infinity;
  if (state.typingSupported && state.phase === "chatting") send(typingLine("off", target));
}

export function typingForget() {
  state.typingOut.target = null;
  state.typingOut.lastOn = -Infinity;
}

