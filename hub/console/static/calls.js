// The wellbeing-call agenda: calls due (birthday, after discharge, weekly), outcomes, planning.
import { api, t, pageData, formatDateTime, escapeHtml as h } from "/static/web/ta.js";
import { startHeartbeat } from "./presence.js";
import { VoiceCall, renderVoice } from "./voice.js";

const data = pageData();
const canCall = Boolean(data.can_act);
const OUTCOMES = ["reached_fine", "reached_follow_up", "no_answer", "declined", "other"];
const errorBox = document.getElementById("calls-error");
// A wellbeing call through the resident's tablet: it rings there and one tap answers it.
const voice = new VoiceCall(() => renderVoicePanels());
window.__taVoice = voice;
if (canCall) voice.connect();

function renderVoicePanels() {
  for (const cell of document.querySelectorAll("[data-voice-for]")) {
    cell.innerHTML = renderVoice(voice, "resident:" + cell.dataset.voiceFor, null, canCall);
  }
  const on = (id, fn) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener("click", fn);
  };
  on("voice-mute", () => voice.toggleMute());
  on("voice-louder", () => voice.louder());
  on("voice-hangup", () => voice.hangup());
  for (const button of document.querySelectorAll("button[data-speak]")) button.disabled = voice.active();
}

function fail(err) {
  errorBox.textContent = t("error_generic", { message: err.message });
  errorBox.hidden = false;
}

async function load() {
  try {
    const [open, done] = await Promise.all([api("/api/console/calls?status=open"), api("/api/console/calls?status=done")]);
    errorBox.hidden = true;
    const now = Date.now();
    document.getElementById("calls-empty").hidden = open.calls.length > 0;
    document.querySelector("#calls tbody").innerHTML = open.calls
      .map((c) => {
        const late = Date.parse(c.due_at) < now;
        const buttons = canCall
          ? OUTCOMES.map((o) => `<button type="button" class="btn btn-small${o === "reached_fine" ? " btn-ok" : ""}" data-call="${c.id}" data-outcome="${o}">${h(t("co_" + o))}</button>`).join(" ")
          : "";
        const speak = canCall ? `<button type="button" class="btn btn-small btn-primary" data-speak="${c.resident_id}">${h(t("speak_home"))}</button> ` : "";
        return `<tr data-call-row="${c.id}"><td>${h(formatDateTime(c.due_at))}${late ? ` <span class="badge danger">${h(t("overdue"))}</span>` : ""}</td><td><strong>${h(c.resident_name)}</strong><div data-voice-for="${c.resident_id}"></div></td><td>${h(t("reason_" + c.reason))}</td><td>${h(c.notes)}</td><td><div class="row" style="gap:6px">${speak}${buttons}</div></td></tr>`;
      })
      .join("");
    renderVoicePanels();
    document.querySelector("#done-calls tbody").innerHTML = done.calls
      .slice(0, 20)
      .map((c) => `<tr><td>${h(formatDateTime(c.done_at))}</td><td>${h(c.resident_name)}</td><td>${h(t("reason_" + c.reason))}</td><td>${h(t("co_" + c.outcome))}</td><td class="muted">${h(c.done_by || "")}</td></tr>`)
      .join("");
  } catch (err) {
    fail(err);
  }
}

document.querySelector("#calls tbody").addEventListener("click", async (event) => {
  const speak = event.target.closest("button[data-speak]");
  if (speak) {
    voice.start({ resident: speak.dataset.speak });
    return;
  }
  const button = event.target.closest("button[data-outcome]");
  if (!button) return;
  try {
    await api(`/api/console/calls/${button.dataset.call}/outcome`, { method: "POST", body: { outcome: button.dataset.outcome } });
    await load();
  } catch (err) {
    fail(err);
  }
});

const form = document.getElementById("plan-form");
if (form) {
  api("/api/console/residents")
    .then((r) => {
      document.getElementById("plan-resident").innerHTML = r.residents.map((x) => `<option value="${x.id}">${h(x.name)}</option>`).join("");
    })
    .catch(fail);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const due = document.getElementById("plan-due").value;
    if (!due) return;
    try {
      await api("/api/console/calls", {
        method: "POST",
        body: {
          resident_id: Number(document.getElementById("plan-resident").value),
          reason: document.getElementById("plan-reason").value,
          due_at: new Date(due).toISOString(),
          notes: document.getElementById("plan-notes").value.trim(),
        },
      });
      form.reset();
      await load();
    } catch (err) {
      fail(err);
    }
  });
}

startHeartbeat();
load();
setInterval(load, 60000);
