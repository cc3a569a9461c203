// Supervisor view: figures for a chosen period, CSV export, who is on shift.
import { api, t, formatAge, formatTime, escapeHtml as h, lang, timeZone } from "/static/web/ta.js";
import { getCodes } from "./alarms.js";
import { startHeartbeat } from "./presence.js";

const form = document.getElementById("period");
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

const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
function share(value) {
  return value == null ? "—" : percent.format(value);
}
function seconds(value) {
  return value == null ? "—" : formatAge(value);
}

function tile(id, labelText, value, extra = "", cls = "") {
  return `<div class="figure ${cls}" id="${id}"><div class="label">${h(labelText)}</div><div class="value">${h(value)}</div>${extra ? `<div class="target muted">${h(extra)}</div>` : ""}</div>`;
}

function rows(tableId, items, render) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.innerHTML = items.length ? items.map(render).join("") : `<tr><td colspan="4" class="muted">${h(t("no_data"))}</td></tr>`;
}

async function load() {
  const params = new URLSearchParams({ from: form.from.value, to: form.to.value });
  document.getElementById("csv").href = "/api/console/figures.csv?" + params;
  errorBox.hidden = true;
  try {
    const f = await api("/api/console/figures?" + params);
    const good = (value, target) => (value == null ? "" : value >= target ? "good" : "bad");
    document.getElementById("figures").innerHTML = [
      tile("fig-alarms", t("fig_alarms"), String(f.care_alarms), t("fig_technical", { n: f.technical_alarms }) + " · " + t("fig_open", { n: f.open })),
      tile("fig-60", t("fig_within_60"), share(f.accepted_within_60s), t("fig_target", { target: percent.format(f.target_60s) }), good(f.accepted_within_60s, f.target_60s)),
      tile("fig-180", t("fig_within_180"), share(f.accepted_within_180s), t("fig_target", { target: percent.format(f.target_180s) }), good(f.accepted_within_180s, f.target_180s)),
      tile("fig-answer-60", t("fig_answered_60"), share(f.answered_within_60s), t("fig_answered_note", { n: f.speech_unit_alarms }), good(f.answered_within_60s, f.target_60s)),
      tile("fig-answer-180", t("fig_answered_180"), share(f.answered_within_180s), t("fig_target", { target: percent.format(f.target_180s) }), good(f.answered_within_180s, f.target_180s)),
      tile("fig-median", t("fig_median_accept"), seconds(f.median_accept_s)),
      tile("fig-voice", t("fig_median_voice"), seconds(f.median_voice_s), t("fig_voice_note", { n: f.voice_contacts, p95: seconds(f.p95_voice_s) })),
      tile("fig-p95", t("fig_p95_accept"), seconds(f.p95_accept_s)),
      tile("fig-resolve", t("fig_median_resolve"), seconds(f.median_resolve_s)),
    ].join("");
    rows("per-operator", f.by_operator, (o) => `<tr><td>${h(o.operator)}</td><td class="num">${o.accepted}</td><td class="num">${o.resolved}</td><td class="num">${h(seconds(o.median_accept_s))}</td></tr>`);
    rows("by-type", f.by_rule, (r) => `<tr><td>${h(label("rules", r.rule))}</td><td class="num">${r.count}</td></tr>`);
    rows("by-outcome", f.by_outcome, (o) => `<tr><td>${h(o.outcome === "open" ? t("outcome_open") : label("outcomes", o.outcome))}</td><td class="num">${o.count}</td></tr>`);
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

form.from.value = form.from.value || localToday();
form.to.value = form.to.value || localToday();
startHeartbeat();
codes = await getCodes().catch(() => codes);
load();
loadShift();
setInterval(loadShift, 30000);
