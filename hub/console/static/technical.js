// Technical alarms (offline, low battery, tamper, power) with the maintenance workflow.
import { api, t, pageData, LiveSocket, showConnection, formatTime, formatDateTime, escapeHtml as h } from "/static/web/ta.js";
import { dateField, dateFields, instantOf } from "/static/web/datefield.js";
import * as alarmsApi from "./alarms.js";
import { startHeartbeat } from "./presence.js";

const data = pageData();
const canAct = Boolean(data.can_act);
const body = document.querySelector("#technical tbody");
const errorBox = document.getElementById("tech-error");
let alarms = [];
let tickets = new Map();
const names = new Map();

function status(ticket) {
  if (!ticket) return `<span class="badge danger">${h(t("mt_none"))}</span>`;
  if (ticket.status === "visit_planned") return `<span class="badge warn">${h(t("mt_visit_planned", { when: formatDateTime(ticket.visit_at) }))}</span>`;
  if (ticket.status === "fixed") return `<span class="badge ok">${h(t("mt_fixed"))}</span>`;
  return `<span class="badge info">${h(t("mt_acknowledged"))}</span>`;
}

function actions(a, ticket) {
  if (!canAct) return "";
  const step = ticket ? ticket.status : null;
  const out = [];
  if (!step) out.push(`<button type="button" class="btn btn-small" data-step="acknowledged" data-id="${h(a.id)}">${h(t("do_acknowledge"))}</button>`);
  if (step !== "visit_planned" && step !== "fixed")
    out.push(`<span class="row" style="gap:6px"><input type="datetime-local" aria-label="${h(t("visit_when"))}" data-visit="${h(a.id)}" style="width:auto"><button type="button" class="btn btn-small" data-step="visit_planned" data-id="${h(a.id)}">${h(t("do_plan_visit"))}</button></span>`);
  if (step !== "fixed") out.push(`<button type="button" class="btn btn-small btn-ok" data-step="fixed" data-id="${h(a.id)}">${h(t("do_fixed"))}</button>`);
  else out.push(`<button type="button" class="btn btn-small btn-primary" data-close="${h(a.id)}">${h(t("do_close"))}</button>`);
  return `<div class="row" style="gap:6px">${out.join("")}</div>`;
}

function render() {
  document.getElementById("tech-empty").hidden = alarms.length > 0;
  body.innerHTML = alarms
    .map((a) => {
      const ticket = tickets.get(a.id);
      return `<tr data-id="${h(a.id)}"><td><span class="badge p${a.priority}">${h(t("p" + a.priority))}</span> <strong>${h(a.rule_label || a.rule)}</strong></td><td>${h(names.get(String(a.resident_id)) || "…")}</td><td>${h(a.explanation_text || "")}</td><td>${h(formatTime(a.raised_at))}</td><td data-status>${status(ticket)}</td><td>${actions(a, ticket)}</td></tr>`;
    })
    .join("");
  dateFields(body); // the visit's date and time in the page's language
}

let latestFetch = 0;

async function refetch() {
  // Every event starts a fetch; only the latest one's answer is shown, so an answer read
  // before an alarm was stored cannot arrive last and hide it.
  const mine = ++latestFetch;
  try {
    const [list, result] = await Promise.all([alarmsApi.listAlarms({ status: "open", category: "technical" }), api("/api/console/maintenance")]);
    if (mine !== latestFetch) return;
    alarms = list;
    tickets = new Map(result.tickets.map((x) => [x.alarm_id, x]));
    const missing = [...new Set(list.map((a) => String(a.resident_id)))].filter((id) => !names.has(id) && /^\d+$/.test(id));
    if (missing.length) {
      const found = await api("/api/console/residents?ids=" + missing.join(","));
      for (const r of found.residents) names.set(String(r.id), r.name);
    }
    errorBox.hidden = true;
    render();
  } catch (err) {
    errorBox.textContent = t("error_generic", { message: err.message });
    errorBox.hidden = false;
  }
}

body.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  try {
    if (button.dataset.step) {
      const id = button.dataset.id;
      const payload = { status: button.dataset.step };
      if (payload.status === "visit_planned") {
        const input = body.querySelector(`[data-visit="${CSS.escape(id)}"]`);
        if (!input.value) {
          dateField(input).text.focus();
          return;
        }
        payload.visit_at = instantOf(input.value).toISOString(); // the centre's wall clock
      }
      await api(`/api/console/maintenance/${encodeURIComponent(id)}`, { method: "PUT", body: payload });
    } else if (button.dataset.close) {
      const id = button.dataset.close;
      const alarm = alarms.find((a) => a.id === id);
      if (alarm && !alarm.claimed_by) await alarmsApi.accept(id);
      await alarmsApi.resolve(id, "technical_fixed", "");
    }
    await refetch();
  } catch (err) {
    errorBox.textContent = t("error_generic", { message: err.message });
    errorBox.hidden = false;
  }
});

startHeartbeat();
new LiveSocket(alarmsApi.LIVE_PATH, {
  onOpen: refetch,
  onMessage: (m) => {
    if (m.alarm && m.alarm.category === "technical") refetch();
  },
  onState: (s) => showConnection(document.getElementById("conn"), s),
});
