// Date and time fields in the page's language (ADR 0172), whatever the browser's own locale.
//   import { dateFields, dateField, instantOf } from "/static/web/datefield.js";
//   dateFields(form);                      // every <input type=date|datetime-local|time> in it
//   dateField(document.getElementById("from")).value = "2026-12-07";
//
// A native date input shows the BROWSER's format: a Catalan operator on an English browser
// reads mm/dd/yyyy and a 12-hour clock. Each such input becomes a text field that shows
// and accepts the page's order (ca/es/en-GB: day first, 24 h; the patterns come from the
// catalogue: dd/mm/aaaa, dd/mm/yyyy), while the form keeps the ISO value: the original
// input turns into a hidden one with its name and data attributes ("2026-12-07",
// "2026-12-07T16:30", "16:30"), so what the page posts does not change. The visible field
// takes the input's id, so its <label for> (or aria-label) names it; it says its pattern
// (placeholder and description), shows an error under itself in words when the text is
// no date, and ArrowUp / ArrowDown step the part under the cursor. Formatting goes through
// Intl (ta.js's locale), not patterns written by hand.

import { locale, t, timeZone, zonedToUtc } from "/static/web/ta.js";

const KINDS = ["date", "datetime-local", "time"];
const FIELDS = new WeakMap();
const valueOf = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value");

const dayFormat = new Intl.DateTimeFormat(locale, { timeZone: "UTC", day: "2-digit", month: "2-digit", year: "numeric" });
const clockFormat = new Intl.DateTimeFormat(locale, { timeZone: "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
// The order of day, month and year in the page's language (day first in ca, es and en-GB).
const ORDER = dayFormat.formatToParts(new Date(Date.UTC(2000, 0, 31)))
  .map((p) => p.type).filter((type) => ["day", "month", "year"].includes(type));

const pad = (n, width = 2) => String(n).padStart(width, "0");

function isoDate({ year, month, day }) {
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

function realDate(year, month, day) {
  const d = new Date(Date.UTC(2000, month - 1, day));
  d.setUTCFullYear(year);
  return year >= 1000 && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** A typed date ("7/12/2026", "07-12-2026", "7.12.2026", or ISO "2026-12-07") or null. */
function parseDate(text) {
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
  let parts;
  if (iso) parts = { year: +iso[1], month: +iso[2], day: +iso[3] };
  else {
    const numbers = /^(\d{1,4})[/.\- ](\d{1,2})[/.\- ](\d{4})$/.exec(text);
    if (!numbers) return null;
    const values = { [ORDER[0]]: +numbers[1], [ORDER[1]]: +numbers[2], [ORDER[2]]: +numbers[3] };
    if (ORDER[2] !== "year") return null; // every language we speak puts the year last
    parts = { year: values.year, month: values.month, day: values.day };
  }
  return realDate(parts.year, parts.month, parts.day) ? parts : null;
}

/** A typed time ("16:30", "9:05", "9.05", "9h05", "0905") or null. */
function parseTime(text) {
  const m = /^(\d{1,2})(?:[:.h]?(\d{2}))?$/.exec(text);
  if (!m || (m[2] === undefined && text.length > 2)) return null;
  const hour = +m[1];
  const minute = m[2] === undefined ? 0 : +m[2];
  return hour < 24 && minute < 60 ? { hour, minute } : null;
}

function parse(kind, raw) {
  const text = raw.trim().replace(/\s+/g, " ");
  if (kind === "date") {
    const d = parseDate(text);
    return d && isoDate(d);
  }
  if (kind === "time") {
    const c = parseTime(text);
    return c && `${pad(c.hour)}:${pad(c.minute)}`;
  }
  const m = /^(.+?)(?:[ T,]+| a les | a las | at )(\d{1,2}[:.h]?\d{0,2})$/.exec(text);
  const d = m && parseDate(m[1].trim().replace(/,$/, ""));
  const c = m && parseTime(m[2]);
  return d && c ? `${isoDate(d)}T${pad(c.hour)}:${pad(c.minute)}` : null;
}

/** The ISO value as the page's language writes it ("" for no or a bad value). */
function display(kind, iso) {
  const m = /^(?:(\d{4})-(\d{2})-(\d{2}))?T?(?:(\d{2}):(\d{2}))?/.exec(iso || "");
  if (!m || !iso) return "";
  const day = m[1] ? dayFormat.format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]))) : "";
  const clock = m[4] ? clockFormat.format(new Date(Date.UTC(2000, 0, 1, +m[4], +m[5]))) : "";
  if (kind === "date") return day;
  if (kind === "time") return clock;
  return day && clock ? `${day} ${clock}` : "";
}

function pattern(kind) {
  const date = t("df_date_pattern");
  const time = t("df_time_pattern");
  return kind === "date" ? date : kind === "time" ? time : `${date} ${time}`;
}

function example(kind) {
  return display(kind, { date: "1940-03-25", time: "16:30", "datetime-local": "2026-03-25T16:30" }[kind]);
}

let counter = 0;

/** One date/time field: `value` is the ISO value the form sends ("" when empty or wrong). */
export class DateField {
  constructor(input) {
    this.kind = input.type;
    this.input = input;
    const text = document.createElement("input");
    this.text = text;
    const id = input.id || `ta-df-${++counter}`;
    input.removeAttribute("id");
    text.id = id;
    input.id = id + "-iso";
    text.type = "text";
    text.autocomplete = "off";
    text.inputMode = this.kind === "time" ? "numeric" : "text";
    text.placeholder = pattern(this.kind);
    text.className = ["ta-datefield", input.className].filter(Boolean).join(" ");
    if (input.getAttribute("style")) text.setAttribute("style", input.getAttribute("style"));
    for (const name of ["aria-label", "title"]) {
      if (!input.hasAttribute(name)) continue;
      text.setAttribute(name, input.getAttribute(name));
      input.removeAttribute(name); // the field's name is the visible one's alone
    }
    text.required = input.required;
    text.disabled = input.disabled;
    text.dataset.kind = this.kind;
    // The pattern in words for screen readers (the placeholder goes when typing), and the
    // error's slot, both named by the field.
    this.hint = document.createElement("span");
    this.hint.id = id + "-format";
    this.hint.className = "ta-datefield-hint";
    this.hint.textContent = t("df_format", { pattern: pattern(this.kind) });
    this.error = document.createElement("span");
    this.error.id = id + "-error";
    this.error.className = "error-text ta-datefield-error";
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    text.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), this.hint.id, this.error.id].filter(Boolean).join(" "));
    input.type = "hidden";
    input.required = false;
    input.after(text, this.hint, this.error);
    FIELDS.set(input, this);
    FIELDS.set(text, this);
    this.show();

    text.addEventListener("input", () => this.take(false));
    text.addEventListener("change", () => this.take(true));
    text.addEventListener("blur", () => this.take(true));
    text.addEventListener("invalid", () => this.check(true, true));
    text.addEventListener("keydown", (event) => this.step(event));
    // The value the page gave (a hidden input's value is its attribute: reset keeps ours).
    this.initial = this.value;
    const form = text.form;
    if (form) form.addEventListener("reset", () => queueMicrotask(() => { this.value = this.initial; }));
    if (form && !form.dataset.taDatefields) {
      form.dataset.taDatefields = "1";
      // Before the page's own submit handler: a field whose text is no date stops the
      // form (else it would send an empty value and be told "required").
      form.addEventListener("submit", (event) => {
        const wrong = [...form.querySelectorAll("input.ta-datefield")]
          .map((el) => FIELDS.get(el)).filter((field) => field && !field.check(true));
        if (!wrong.length) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        wrong[0].text.focus();
      }, true);
    }
  }

  get value() {
    return valueOf.get.call(this.input);
  }

  set value(iso) {
    valueOf.set.call(this.input, iso || "");
    this.show();
  }

  show() {
    this.text.value = display(this.kind, this.value);
    this.check(false);
  }

  /** Read the typed text; `final` (leaving the field): write it back in the page's format. */
  take(final) {
    const typed = this.text.value.trim();
    const iso = typed ? parse(this.kind, typed) : "";
    const before = this.value;
    valueOf.set.call(this.input, iso || "");
    if (iso && final) this.text.value = display(this.kind, iso);
    this.check(final || !this.error.hidden);
    if (this.value !== before) {
      this.input.dispatchEvent(new Event("input", { bubbles: true }));
      this.input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  /** Is the text empty or a date? `say`: show the error (or clear it); `required`: say
   * so of an empty required field too (the browser's own validation asked). */
  check(say, required = false) {
    const typed = this.text.value.trim();
    let message = "";
    if (typed && !parse(this.kind, typed)) {
      message = t("df_invalid_" + this.kind.replace("-local", ""), { pattern: pattern(this.kind), example: example(this.kind) });
    } else if (!typed && this.text.required) {
      message = t("df_required");
    }
    // The browser's own bubble (forms that validate) says the same, in the page's language.
    this.text.setCustomValidity(message);
    const wrong = Boolean(typed) && Boolean(message);
    const shown = wrong || (required && Boolean(message));
    if (say || !shown) {
      this.error.textContent = say && shown ? message : "";
      this.error.hidden = !(say && shown);
      if (say && shown) this.text.setAttribute("aria-invalid", "true");
      else this.text.removeAttribute("aria-invalid");
    }
    return !wrong;
  }

  /** ArrowUp / ArrowDown: one more or one less of the part under the cursor. */
  step(event) {
    if ((event.key !== "ArrowUp" && event.key !== "ArrowDown") || event.altKey || event.ctrlKey || event.metaKey) return;
    const by = event.key === "ArrowUp" ? 1 : -1;
    let iso = this.value || parse(this.kind, this.text.value.trim());
    if (!iso) iso = { date: todayIso(), time: "08:00", "datetime-local": todayIso() + "T08:00" }[this.kind];
    event.preventDefault();
    const at = this.text.selectionStart || 0;
    const before = this.text.value.slice(0, at);
    const index = this.text.value ? (before.match(/[^\d]+/g) || []).length : 0;
    const parts = this.kind === "time" ? ["hour", "minute"] : this.kind === "date" ? ORDER : [...ORDER, "hour", "minute"];
    const part = parts[Math.min(index, parts.length - 1)];
    const m = /^(?:(\d{4})-(\d{2})-(\d{2}))?T?(?:(\d{2}):(\d{2}))?$/.exec(iso);
    const when = new Date(Date.UTC(+(m[1] || 2000), +(m[2] || 1) - 1, +(m[3] || 1), +(m[4] || 0), +(m[5] || 0)));
    if (part === "year") when.setUTCFullYear(when.getUTCFullYear() + by);
    else if (part === "month") when.setUTCMonth(when.getUTCMonth() + by);
    else if (part === "day") when.setUTCDate(when.getUTCDate() + by);
    else if (part === "hour") when.setUTCHours(when.getUTCHours() + by);
    else when.setUTCMinutes(when.getUTCMinutes() + by);
    const stepped = when.toISOString().slice(0, 16);
    this.value = this.kind === "date" ? stepped.slice(0, 10) : this.kind === "time" ? stepped.slice(11) : stepped;
    // Keep the cursor in the same part.
    const starts = [0, ...[...this.text.value.matchAll(/[^\d]+/g)].map((s) => s.index + s[0].length)];
    const start = starts[Math.min(index, starts.length - 1)];
    this.text.setSelectionRange(start, start);
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
    this.input.dispatchEvent(new Event("change", { bubbles: true }));
  }
}

function todayIso() {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

/** Turn every date, date-and-time and time input under `root` into a DateField (once). */
export function dateFields(root = document) {
  const inputs = root instanceof HTMLInputElement ? [root] : [...root.querySelectorAll("input")];
  return inputs.filter((el) => KINDS.includes(el.type) && !FIELDS.has(el)).map((el) => new DateField(el));
}

/** The DateField of an input (the hidden ISO one or the visible one), made if needed. */
export function dateField(input) {
  if (!input) return null;
  return FIELDS.get(input) || (KINDS.includes(input.type) ? new DateField(input) : null);
}

/** The instant of a "YYYY-MM-DDTHH:MM" wall-clock value in the centre's zone (not the
 * browser's), or null. */
export function instantOf(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || "");
  return m ? zonedToUtc(+m[1], +m[2], +m[3], +m[4], +m[5]) : null;
}
