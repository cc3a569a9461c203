// Supervisor view: figures for a chosen period, CSV export, who is on shift.
import { api, t, formatAge, formatDay, formatTime, escapeHtml as h, lang, timeZone } from "/static/web/ta.js";
import { dateField } from "/static/web/datefield.js";
import { getCodes } from "./alarms.js";
import { startHeartbeat } from "./presence.js";

const form = document.getElementById("period");
// From and to in the page's language (dd/mm/aaaa), whatever the browser's own locale.
const from = dateField(document.getElementById("from"));
const to = dateField(document.getElementById("to"));
const errorBox = document.getElementById("sup-error");
let codes = { rules: [], outcomes: [] };

function localToday() {
  // YYYY-MM-DD in the service's time zone.
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

function label(kind, code) {
  const found = (codes[kind] || []).find((x) => x.code === code);
  return found ? found.label : code;
}

// Every percentage with one decimal (97,5 %, 100,0 %, 66,7 %): the same figure reads the
// same in every tile, table and screen size.
const percent = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
/** The chosen period in the page's language, its days written as every date of the web
 * writes a day (ta.js formatDay, the server's rule): "3 de des. del 2026",
 * "1 dic 2026 – 3 dic 2026". */
function periodText(from, to) {
  const [a, b] = [formatDay(from), formatDay(to)];
  if (!a || !b) return "";
  return t("period_shown", { period: from === to ? a : `${a} – ${b}` });
}
const count = new Intl.NumberFormat(lang);
function share(value) {
  return value == null ? "—" : percent.format(value);
}
function seconds(value) {
  return value == null ? "—" : formatAge(value);
}

function tile(id, labelText, value, extra = "", cls = "") {
  return `<div class="figure ${cls}" id="${id}"><div class="label">${h(labelText)}</div><div class="value">${h(value)}</div>${extra ? `<div class="target muted">${h(extra)}</div>` : ""}</div>`;
}

function rows(tableId, items, render, footer = "") {
  const body = document.querySelector(`#${tableId} tbody`);
  body.innerHTML = items.length ? items.map(render).join("") : `<tr><td colspan="4" class="muted">${h(t("no_data"))}</td></tr>`;
  const foot = document.querySelector(`#${tableId} tfoot`);
  if (foot) foot.innerHTML = items.length ? footer : "";
}

/** "4 of 6" under a share: the count behind the percentage. */
function outOf(n, total, extra) {
  return n == null || !total ? extra : t("fig_of", { n, total }) + " · " + extra;
}

async function load() {
  const params = new URLSearchParams({ from: from.value, to: to.value });
  document.getElementById("csv").href = "/api/console/figures.csv?" + params;
  errorBox.hidden = true;
  document.getElementById("period-text").textContent = periodText(from.value, to.value);
  try {
    const f = await api("/api/console/figures?" + params);
    const good = (value, target) => (value == null ? "" : value >= target ? "good" : "bad");
    document.getElementById("figures").innerHTML = [
      tile("fig-alarms", t("fig_alarms"), count.format(f.care_alarms), t("fig_open", { n: f.care_open }) + " · " + t("fig_technical", { n: f.technical_alarms })),
      tile("fig-60", t("fig_within_60"), share(f.accepted_within_60s), outOf(f.accepted_within_60s_n, f.care_alarms, t("fig_target", { target: percent.format(f.target_60s) })), good(f.accepted_within_60s, f.target_60s)),
      tile("fig-180", t("fig_within_180"), share(f.accepted_within_180s), outOf(f.accepted_within_180s_n, f.care_alarms, t("fig_target", { target: percent.format(f.target_180s) })), good(f.accepted_within_180s, f.target_180s)),
      tile("fig-answer-60", t("fig_answered_60"), share(f.answered_within_60s), outOf(f.answered_within_60s_n, f.care_alarms, t("fig_answered_note", { n: f.speech_unit_alarms })), good(f.answered_within_60s, f.target_60s)),
      tile("fig-answer-180", t("fig_answered_180"), share(f.answered_within_180s), outOf(f.answered_within_180s_n, f.care_alarms, t("fig_target", { target: percent.format(f.target_180s) })), good(f.answered_within_180s, f.target_180s)),
      tile("fig-median", t("fig_median_accept"), seconds(f.median_accept_s)),
      tile("fig-voice", t("fig_median_voice"), seconds(f.median_voice_s), t("fig_voice_note", { n: f.voice_contacts, p95: seconds(f.p95_voice_s) })),
      tile("fig-p95", t("fig_p95_accept"), seconds(f.p95_accept_s)),
      tile("fig-resolve", t("fig_median_resolve"), seconds(f.median_resolve_s)),
    ].join("");
    rows("per-operator", f.by_operator, (o) => `<tr><td>${h(o.operator)}</td><td class="num">${h(count.format(o.accepted))}</td><td class="num">${h(count.format(o.resolved))}</td><td class="num">${h(seconds(o.median_accept_s))}</td></tr>`);
    // Both tables count care and technical alarms, and say so (their totals are not the
    // care-alarm tile's).
    const sum = (items, key) => items.reduce((total, x) => total + x[key], 0);
    const n = (value) => h(count.format(value));
    rows("by-type", f.by_rule, (r) => `<tr data-category="${h(r.category)}"><td>${h(label("rules", r.rule))}</td><td>${h(t("kind_" + r.category))}</td><td class="num">${n(r.count)}</td></tr>`,
      `<tr><th colspan="2">${h(t("total_both"))}</th><td class="num" id="by-type-total">${n(sum(f.by_rule, "count"))}</td></tr>`);
    rows("by-outcome", f.by_outcome, (o) => `<tr><td>${h(o.outcome === "open" ? t("outcome_open") : label("outcomes", o.outcome))}</td><td class="num">${n(o.care)}</td><td class="num">${n(o.technical)}</td><td class="num">${n(o.count)}</td></tr>`,
      `<tr><th>${h(t("col_total"))}</th><td class="num">${n(sum(f.by_outcome, "care"))}</td><td class="num">${n(sum(f.by_outcome, "technical"))}</td><td class="num" id="by-outcome-total">${n(sum(f.by_outcome, "count"))}</td></tr>`);
  } catch (err) {
    errorBox.textContent = t("error_generic", { message: err.message });
    errorBox.hidden = false;
  }
}

async function loadShift() {
  try {
    const result = await api("/api/console/on-shift");
    const body = document.querySelector("#on-shift tbody");
    body.innerHTML = result.on_shift.length
      ? result.on_shift.map((u) => `<tr><td>${h(u.username)}</td><td>${h(t("role_" + u.role))}</td><td>${h(formatTime(u.since))}</td></tr>`).join("")
      : `<tr><td colspan="3" class="muted">${h(t("on_shift_none"))}</td></tr>`;
  } catch (err) {
    console.warn("on shift", err);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});

from.value = from.value || localToday();
to.value = to.value || localToday();
startHeartbeat();
codes = await getCodes().catch(() => codes);
load();
loadShift();
setInterval(loadShift, 30000);
