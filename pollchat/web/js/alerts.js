/* pollchat web client: browser notifications and their sound, the decisions only (no
 * DOM, no Notification, no AudioContext here: main.js does those), so Node can test
 * when the page alerts.
 *
 * The page alerts for what is addressed to the user (a mention, a private message)
 * while its tab is hidden (document.hidden): a visible page shows the notification bar
 * and the counts instead. The user turns alerts on with a click (the browser asks its
 * permission then, never on load), and the sound can be turned off; both choices are
 * remembered in localStorage under SETTINGS_KEY.
 */

export const SETTINGS_KEY = "pollchat.alerts";
export const ALERT_KINDS = new Set(["mention", "private"]);
export const DEFAULT_SETTINGS = Object.freeze({ enabled: false, sound: true });
export const ALERT_BODY_MAX = 160;      // characters of the line shown in a notification

/** The remembered choices from `storage` (a Storage or anything with getItem); the
 * defaults when nothing, or something unreadable, is stored. Never throws (a browser
 * may refuse storage altogether). */
export function loadSettings(storage) {
  let raw = null;
  try {
    raw = storage ? storage.getItem(SETTINGS_KEY) : null;
  } catch {
    raw = null;
  }
  let saved = {};
  try {
    saved = raw ? JSON.parse(raw) : {};
  } catch {
    saved = {};
  }
  if (!saved || typeof saved !== "object") saved = {};
  return {
    enabled: typeof saved.enabled === "boolean" ? saved.enabled : DEFAULT_SETTINGS.enabled,
    sound: typeof saved.sound === "boolean" ? saved.sound : DEFAULT_SETTINGS.sound,
  };
}

/** Remember `settings` ({enabled, sound}); false when the browser refuses storage. */
export function saveSettings(storage, settings) {
  try {
    storage.setItem(SETTINGS_KEY, JSON.stringify({ enabled: Boolean(settings.enabled), sound: Boolean(settings.sound) }));
    return true;
  } catch {
    return false;
  }
}

/** What the page does for one notification (state.js, notify).
 *
 * Args: `kind` ("mention", "private", "request", "server"), `live` (false for lines
 * replayed at login), `hidden` (document.hidden), `settings` ({enabled, sound}),
 * `permission` (Notification.permission: "granted", "denied", "default", or
 * "unsupported" when the browser has no Notification).
 *
 * Returns {show, sound}: show a browser notification; play the sound. Both need alerts
 * turned on, a live mention or private message, and a hidden tab; the sound also plays
 * when the browser refused notifications (the user asked to be alerted). */
export function alertDecision({ kind, live, hidden, settings, permission }) {
  const wanted = Boolean(settings && settings.enabled) && Boolean(live) && Boolean(hidden) && ALERT_KINDS.has(kind);
  return { show: wanted && permission === "granted", sound: wanted && Boolean(settings.sound) };
}

/** {title, body, tag} of the browser notification for `kind` from `who` in conversation
 * `whereLabel` ("main chat", "#group", a name); one tag per conversation, so a second
 * alert replaces the first instead of piling up. */
export function alertText(kind, who, whereKey, whereLabel, text) {
  const line = String(text || "");
  const body = line.length > ALERT_BODY_MAX ? line.slice(0, ALERT_BODY_MAX - 1) + "…" : line;
  const title = kind === "private" ? `${who} wrote to you` : `${who} mentioned you in ${whereLabel}`;
  return { title, body, tag: `pollchat:${whereKey}` };
}

/** The line under the toggle: what the browser's permission means for the user. */
export function permissionNote(settings, permission) {
  if (permission === "unsupported") return "This browser cannot show notifications; the sound still plays.";
  if (!settings.enabled) return "Off: the page alerts only in the bar at the top.";
  if (permission === "denied") return "The browser blocks notifications for this page (its site settings can allow them); the sound still plays.";
  if (permission === "default") return "The browser has not been allowed yet: turn alerts off and on to be asked again.";
  return "On: mentions and private messages alert you while this tab is hidden.";
}
