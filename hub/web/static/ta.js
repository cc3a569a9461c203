// Teleassist web shell helpers (an ES module, no dependencies).
//   import { api, t, pageData, LiveSocket, formatTime, formatAge } from "/static/web/ta.js";
// See docs/web.md.

const LANGUAGE_COOKIE = "ta_lang";

function readJson(id) {
  const el = document.getElementById(id);
  if (!el) return {};
  try {
    return JSON.parse(el.textContent || "{}");
  } catch (err) {
    console.error("bad JSON in #" + id, err);
    return {};
  }
}

const TEXTS = readJson("ta-texts");
export const lang = document.body.dataset.lang || "ca";
export const timeZone = document.body.dataset.tz || "Europe/Madrid";
// The service is in Catalonia: English readers get British order (day, month); every
// language reads a 24-hour clock (hourCycle h23 below). Same choices as hub/web/dates.py.
export const locale = { ca: "ca-ES", es: "es-ES", en: "en-GB" }[lang] || "ca-ES";

/** Data the server put in the page (<script id="ta-data" type="application/json">). */
export function pageData() {
  return readJson("ta-data");
}

/** The text for `key` in the page's language, with {name} placeholders filled. */
export function t(key, params = {}) {
  const template = TEXTS[key];
  if (template === undefined) {
    console.warn("missing text", key);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/**
 * The text for `key` agreeing with the count `n` (given to the text as {n}): `key_one`,
 * `key_other`, … by the page language's plural rules (Intl.PluralRules, CLDR), falling back to
 * `key_other` — "1 oberta", "2 obertes", never "2 oberta(es)". The same rule as tn() in the
 * pages' templates (hub/web/pages.py).
 */
export function tn(key, n, params = {}) {
  const chosen = `${key}_${new Intl.PluralRules(locale).select(Math.abs(n))}`;
  return t(chosen in TEXTS ? chosen : `${key}_other`, { ...params, n });
}

/**
 * A phone number as every page writes it: a Spanish number grouped "600 11 12 22", with
 * "+34 " when it was stored with the prefix; anything else (a foreign or short number) as it
 * was typed, with single spaces. The same rule as format_phone in hub/web/numbers.py.
 */
export function formatPhone(phone) {
  if (!phone) return "";
  const typed = String(phone);
  const compact = typed.trim().replace(/[\s.\-()/]/g, "");
  const found = /^(?:\+34|0034)?([5-9]\d{8})$/.exec(compact);
  if (!found) return typed.split(/\s+/).filter(Boolean).join(" ");
  const d = found[1];
  const grouped = `${d.slice(0, 3)} ${d.slice(3, 5)} ${d.slice(5, 7)} ${d.slice(7)}`;
  return /^(\+|00)/.test(compact) ? `+34 ${grouped}` : grouped;
}

/** An error answered by the API: `status`, stable `code` and a human `message`. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
}

let refreshing = null;

/** Swap the refresh cookie for a new token pair (one refresh at a time). */
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" })
      .then((r) => r.ok)
      .catch(() => false)
      .finally(() => {
        setTimeout(() => { refreshing = null; }, 0);
      });
  }
  return refreshing;
}

export function goToSignIn() {
  const next = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(next));
}

/**
 * Authenticated JSON fetch. The access token travels in the HttpOnly cookie; an expired
 * one is refreshed once and the call retried; if that fails the page goes to sign-in.
 * Resolves to the parsed JSON (or null for 204); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "network", t("error_network"));
    }
    if (response.status !== 401 || attempt > 0) break;
    if (!(await refreshSession())) break;
  }
  if (response.status === 401) {
    goToSignIn();
    throw new ApiError(401, "unauthorized", t("session_expired"));
  }
  if (raw) return response;
  if (response.status === 204) return null;
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await response.json();
  if (!response.ok) {
    const code = (data && data.error) || "http_" + response.status;
    const message = (data && data.message) || response.statusText;
    throw new ApiError(response.status, code, message, data);
  }
  return data;
}

/** Show a plain message under the top bar (`kind`: "error" | "stale" | ""); null hides it. */
export function banner(message, kind = "") {
  const el = document.getElementById("ta-banner");
  if (!el) return;
  if (!message) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  el.textContent = message;
  el.className = "banner " + kind;
  el.hidden = false;
}

/**
 * A websocket that reconnects by itself (back-off 0.5 s doubling to 10 s, with jitter).
 * `onOpen` runs on EVERY (re)connection: refetch the whole state there, so a page is
 * never left stale by messages missed while disconnected. `onState` gets
 * "connecting" | "open" | "reconnecting". A silent socket (no message or ping for
 * `silenceMs`) is treated as dead. Call close() to stop for good.
 * A socket waiting out its back-off tries again at once when the page learns the hub is
 * back (the "ta:hub-ready" event, sent by the console's health check) or the browser is
 * back online: the queue must not stay stale for up to 12 s after the banner has cleared.
 */
const liveSockets = new Set();
function retryAllNow() {
  for (const live of liveSockets) live.retryNow();
}
window.addEventListener("ta:hub-ready", retryAllNow);
window.addEventListener("online", retryAllNow);

export class LiveSocket {
  constructor(path, { onMessage, onOpen, onState, silenceMs = 45000 } = {}) {
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onOpen = onOpen || (() => {});
    this.onState = onState || (() => {});
    this.silenceMs = silenceMs;
    this.delay = 500;
    this.closed = false;
    this.socket = null;
    this.timer = null;
    this.watchdog = null;
    this.everOpened = false;
    this.state = "connecting";
    liveSockets.add(this);
    this.connect();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + this.path;
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  connect() {
    if (this.closed || this.socket) return; // one connection at a time
    clearTimeout(this.timer);
    this.timer = null;
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (err) {
      this.schedule();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.everOpened = true;
      this.delay = 500;
      this.kick();
      this.setState("open");
      Promise.resolve(this.onOpen()).catch((err) => console.error("refetch failed", err));
    };
    socket.onmessage = (event) => {
      this.kick();
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        console.error("bad live message", err);
        return;
      }
      if (data && data.type === "ping") return;
      this.onMessage(data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.watchdog);
      this.schedule();
    };
    socket.onerror = () => socket.close();
  }

  kick() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.socket) this.socket.close();
    }, this.silenceMs);
  }

  async schedule() {
    if (this.closed) return;
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    // The handshake may have failed because the access token expired: refresh first.
    await refreshSession();
    if (this.closed || this.socket) return; // retryNow() connected meanwhile
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(this.delay * 2, 10000);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /** Connect now instead of at the end of the back-off (nothing to do while connected). */
  retryNow() {
    if (this.closed || this.socket) return;
    this.delay = 500;
    this.connect();
  }

  /** Drop the connection now (it reconnects); used by tests and after long sleeps. */
  drop() {
    if (this.socket) this.socket.close();
  }

  close() {
    this.closed = true;
    liveSockets.delete(this);
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    if (this.socket) this.socket.close();
  }
}

/** Show a LiveSocket's state in an element with class "conn" (plain words, never only colour). */
/** Wait until a peer connection's ICE gathering is complete (calls send whole
 * descriptions, no trickle: aiortc on the tablet does not trickle). */
export function gathered(pc, ms = 4000) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, ms);
  });
}

export function showConnection(el, state) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = t("conn_" + state);
}

const timeFormats = new Map();
function formatter(options) {
  const key = JSON.stringify(options);
  if (!timeFormats.has(key)) {
    timeFormats.set(key, new Intl.DateTimeFormat(locale, { timeZone, hourCycle: "h23", ...options }));
  }
  return timeFormats.get(key);
}

/** Local (Europe/Madrid) time of an ISO timestamp: "14:05" today, else "23/11 14:05". */
export function formatTime(iso, { seconds = false, date = "auto" } = {}) {
  if (!iso) return "";
  const when = new Date(iso);
  const time = formatter({ hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}), hourCycle: "h23" });
  const day = formatter({ day: "2-digit", month: "2-digit" });
  const sameDay = day.format(when) === day.format(new Date());
  if (date === "never" || (date === "auto" && sameDay)) return time.format(when);
  return day.format(when) + " " + time.format(when);
}

/** The wall-clock parts of an instant in the centre's zone: {year, month, day, hour, minute}. */
export function zoned(when) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric",
  }).formatToParts(when);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour"), minute: get("minute") };
}

/** The instant whose wall-clock time in the centre's zone is the one given. */
export function zonedToUtc(year, month, day, hour, minute) {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const seen = zoned(new Date(guess));
    guess += wanted - Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute);
  }
  return new Date(guess);
}

// How the server writes a moment (hub/web/dates.py moment_rule, Babel's CLDR data): the
// browser fills the same pattern rather than trusting its own Intl data, which differs
// ("4 de des. 2026" in Chromium against "4 de des. del 2026" on the server's pages).
const momentRule = (() => {
  try {
    return JSON.parse(document.body.dataset.moment || "null");
  } catch (err) {
    return null;
  }
})();

/** Full local date and time, as the server writes it: "6 de des. del 2026, 21:45",
 * "6 dic 2026, 21:45", "6 Dec 2026, 21:45". */
export function formatDateTime(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  if (!momentRule) return formatter({ dateStyle: "medium", timeStyle: "short" }).format(when);
  const z = zoned(when);
  const fields = {
    d: String(z.day), MMM: momentRule.months[z.month - 1], y: String(z.year),
    HH: String(z.hour).padStart(2, "0"), mm: String(z.minute).padStart(2, "0"),
  };
  return momentRule.pattern.replace(/\{(\w+)\}/g, (m, name) => (name in fields ? fields[name] : m));
}

/** A day as the server writes it (hub/web/dates.py format_day): "3 de des. del 2026",
 * "3 dic 2026", "3 Dec 2026". Takes a calendar day ("2026-12-03", as a date field holds it)
 * or an ISO instant (its day in the centre's zone); "" for anything else. */
export function formatDay(value) {
  if (!value) return "";
  const calendar = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const z = calendar
    ? { year: Number(calendar[1]), month: Number(calendar[2]), day: Number(calendar[3]) }
    : Number.isNaN(new Date(value).getTime()) ? null : zoned(new Date(value));
  if (!z || z.month < 1 || z.month > 12) return "";
  if (!momentRule || !momentRule.day) {
    return formatter({ dateStyle: "medium", timeZone: "UTC" }).format(new Date(Date.UTC(z.year, z.month - 1, z.day)));
  }
  const fields = { d: String(z.day), MMM: momentRule.months[z.month - 1], y: String(z.year) };
  return momentRule.day.replace(/\{(\w+)\}/g, (m, name) => (name in fields ? fields[name] : m));
}

const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });

/** How long ago, in words: "fa 20 minuts", "hace 2 horas", "yesterday". */
export function formatAgo(minutes) {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return relativeFormat.format(-m, "minute");
  if (m < 48 * 60) return relativeFormat.format(-Math.floor(m / 60), "hour");
  return relativeFormat.format(-Math.floor(m / 1440), "day");
}

/** An age in seconds as "45 s", "3 min 05 s", "1 h 12 min". */
export function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
  const h = Math.floor(s / 3600);
  if (h < 48) return h + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
  return Math.floor(h / 24) + " d";
}

/** Escape text for building HTML strings. */
export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function setLanguageCookie(code) {
  document.cookie = LANGUAGE_COOKIE + "=" + code + "; path=/; max-age=31536000; SameSite=Strict";
}

async function switchLanguage(code) {
  setLanguageCookie(code);
  // Signed in: keep the choice on the user too, so it follows them to other machines.
  if (document.querySelector("[data-ta-signout]")) {
    try {
      await api("/api/me/language", { method: "PUT", body: { language: code } });
      // The access token carries the language the APIs answer in: get a fresh one.
      await refreshSession();
    } catch (err) {
      console.warn("language not saved on the user", err);
    }
  }
  location.reload();
}

async function signOut() {
  try {
    await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" });
  } finally {
    location.assign("/login");
  }
}

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const langButton = target.closest("[data-ta-lang]");
  if (langButton) {
    switchLanguage(langButton.dataset.taLang);
    return;
  }
  if (target.closest("[data-ta-signout]")) signOut();
});

export { setLanguageCookie };
