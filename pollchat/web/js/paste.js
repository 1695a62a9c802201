/* pollchat web client: pasting several lines. No DOM, no clock of its own (the caller
 * passes the time), so Node can test it.
 *
 * A WebSocket message carries one line (docs/websocket.md refuses a message with a
 * newline), and the input box is one line: pasted text with line breaks becomes one chat
 * line per non-blank line, in order, never merged. Above PASTE_CONFIRM_ABOVE lines the
 * page asks first. The lines then go out at the pace below, under the server's flood
 * limit (docs/protocol.md, Limits: 10 lines a second, bursts of 30), so a long paste is
 * neither dropped nor a reason to disconnect.
 */

export const PASTE_CONFIRM_ABOVE = 5;   // more lines than this: ask before sending
export const PASTE_BURST = 5;           // lines sent at once when a paste starts
export const PASTE_EVERY = 250;         // then one line every this many ms (4 a second)

/** The chat lines of pasted `text` put into the input box at the caret: `before` and
 * `after` are the box's text on either side of it. CRLF, CR and LF all end a line;
 * blank lines are left out (the server has no empty chat line); other lines are kept
 * as they are, leading spaces included. */
export function pastedLines(text, before = "", after = "") {
  return (before + text + after).split(/\r\n|\r|\n/).filter((line) => line.trim() !== "");
}

/** Whether a paste is more than one line and so is sent by the page rather than put
 * into the box (a single line is left to the browser: it goes into the box as usual). */
export function isMultiLinePaste(text) {
  return /[\r\n]/.test(text) && pastedLines(text).length > 1;
}

/** Whether the user must confirm before `count` pasted lines are sent. */
export function needsConfirm(count) {
  return count > PASTE_CONFIRM_ABOVE;
}

/** A pasted line as typed chat text: a line starting with "/" is sent as "//..." (the
 * protocol's escape for a literal "/"), so pasting a log or code never runs commands. */
export function asChatText(line) {
  return line.trimStart().startsWith("/") ? "/" + line.trimStart() : line;
}

/** A queue of pasted lines, each for one conversation, sent at PASTE_BURST then one
 * every PASTE_EVERY ms. `send(line, convKey)` sends one line and returns false when it
 * could not (not connected): the rest is dropped and the queue says how many. */
export class PasteQueue {
  constructor() {
    this.items = [];      // {line, key}
    this.nextAt = 0;      // ms: the next line may go at this time
    this.credit = 0;      // lines that may go before the pace applies
  }

  /** Queue `lines` for conversation `key`. A paste into an idle queue starts with a
   * burst of PASTE_BURST lines. */
  add(lines, key) {
    if (!this.items.length) this.credit = PASTE_BURST;
    for (const line of lines) this.items.push({ line, key });
  }

  get size() {
    return this.items.length;
  }

  /** Send what is due at `now` (ms). Returns {sent, dropped}. */
  drain(now, send) {
    let sent = 0;
    while (this.items.length) {
      if (this.credit > 0) this.credit -= 1;
      else if (now < this.nextAt) break;
      const item = this.items.shift();
      if (!send(item.line, item.key)) {
        const dropped = this.items.length + 1;
        this.items = [];
        return { sent, dropped };
      }
      sent += 1;
      if (this.credit === 0) this.nextAt = now + PASTE_EVERY;
    }
    return { sent, dropped: 0 };
  }

  /** Milliseconds until the next line is due, or null when the queue is empty. */
  wait(now) {
    if (!this.items.length) return null;
    return this.credit > 0 ? 0 : Math.max(0, this.nextAt - now);
  }
}
