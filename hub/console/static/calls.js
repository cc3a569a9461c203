// The wellbeing-call agenda: calls due (campaigns, birthday, after discharge, weekly, care
// plan), outcomes, planning. A campaign call shows its campaign's name, script and attempt.
import { api, t, pageData, formatDateTime, formatTime, escapeHtml as h } from "/static/web/ta.js";
import { dateField, instantOf } from "/static/web/datefield.js";
import { startHeartbeat } from "./presence.js";
import { VoiceCall, renderVoice } from "./voice.js";

const data = pageData();
const canCall = Boolean(data.can_act);
const OUTCOMES = ["reached_fine", "reached_follow_up", "no_answer", "declined", "other"];
const MAX_ATTEMPTS = 3;
const errorBox = document.getElementById("calls-error");
// Whose open calls: an operator's own (and nobody's) by default, everyone's on request; the
// hub answers which it listed (a coordinator gets everyone's).
let who = null;
const whoBox = document.getElementById("calls-who");
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

function reasonCell(c) {
  if (!c.campaign_name) return h(t("reason_" + c.reason));
  const prio = c.priority > 1 ? ` <span class="badge danger">${h(t("prio_high"))}</span>` : "";
  const attempt = c.attempts && !c.done_at ? `<div><span class="badge warn">${h(t("attempt_n", { n: c.attempts + 1, max: MAX_ATTEMPTS }))}</span></div>` : "";
  return `<div class="muted small">${h(t("reason_campaign"))}</div><span class="calls-campaign">${h(c.campaign_name)}</span>${prio}${attempt}`;
}

function notesCell(c) {
  const script = c.campaign_script ? `<div class="campaign-script" data-script>${h(c.campaign_script)}</div>` : "";
  return script + h(c.notes);
}

function renderWho(open) {
  if (!whoBox) return;
  const more = (n) => (n ? ` (+${n})` : "");
  whoBox.innerHTML = ["mine", "all"]
    .map((w) => `<button type="button" class="btn btn-small${w === open.who ? " btn-primary" : ""}" data-who="${w}" aria-pressed="${w === open.who}">${h(t("calls_who_" + w))}${w === "all" && open.who === "mine" ? more(open.hidden) : ""}</button>`)
    .join(" ");
  const note = document.getElementById("calls-hidden");
  if (note) {
    note.hidden = !(open.who === "mine" && open.hidden);
    note.textContent = t("calls_hidden");
  }
}

if (whoBox) {
  whoBox.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-who]");
    if (!button || button.dataset.who === who) return;
    who = button.dataset.who;
    load();
  });
}

function fail(err) {
  errorBox.textContent = t("error_generic", { message: err.message });
  errorBox.hidden = false;
}

async function load() {
  try {
    const [open, done] = await Promise.all([api(`/api/console/calls?status=open${who ? "&who=" + who : ""}`), api("/api/console/calls?status=done")]);
    errorBox.hidden = true;
    who = open.who;
    renderWho(open);
    document.getElementById("calls-empty").hidden = open.calls.length > 0;
    document.querySelector("#calls tbody").innerHTML = open.calls
      .map((c) => {
        // Overdue by the hub's clock: a campaign's call at the end of its calling day, not
        // the moment the campaign was created.
        const late = c.overdue;
        const until = c.campaign_id && !late ? `<div class="small muted" data-due-by>${h(t("calls_due_by", { time: formatTime(c.due_by) }))}</div>` : "";
        const buttons = canCall
          ? OUTCOMES.map((o) => `<button type="button" class="btn btn-small${o === "reached_fine" ? " btn-ok" : ""}" data-call="${c.id}" data-outcome="${o}">${h(t("co_" + o))}</button>`).join(" ")
          : "";
        const speak = canCall ? `<button type="button" class="btn btn-small btn-primary" data-speak="${c.resident_id}">${h(t("speak_home"))}</button> ` : "";
        const mine = c.assigned_to && c.assigned_to === data.user.username;
        const who = c.assigned_to ? `<div class="small ${mine ? "" : "muted"}">${h(t("assigned_to", { name: c.assigned_to }))}</div>` : "";
        return `<tr data-call-row="${c.id}"${c.campaign_id ? ` data-campaign="${c.campaign_id}"` : ""}><td>${h(formatDateTime(c.due_at))}${late ? ` <span class="badge danger">${h(t("overdue"))}</span>` : ""}${until}</td><td><strong>${h(c.resident_name)}</strong>${who}<div data-voice-for="${c.resident_id}"></div></td><td>${reasonCell(c)}</td><td>${notesCell(c)}</td><td><div class="row" style="gap:6px">${speak}${buttons}</div></td></tr>`;
      })
      .join("");
    renderVoicePanels();
    document.querySelector("#done-calls tbody").innerHTML = done.calls
      .slice(0, 20)
      .map((c) => `<tr><td>${h(formatDateTime(c.done_at))}</td><td>${h(c.resident_name)}</td><td>${c.campaign_name ? h(c.campaign_name) : h(t("reason_" + c.reason))}</td><td>${h(t("co_" + c.outcome))}</td><td class="muted">${h(c.done_by || "")}</td></tr>`)
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
  // The due time in the page's language, not the browser's; its value is ISO.
  const dueField = dateField(document.getElementById("plan-due"));
  api("/api/console/residents")
    .then((r) => {
      document.getElementById("plan-resident").innerHTML = r.residents.map((x) => `<option value="${x.id}">${h(x.name)}</option>`).join("");
    })
    .catch(fail);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const due = dueField.value;
    if (!due) return;
    try {
      await api("/api/console/calls", {
        method: "POST",
        body: {
          resident_id: Number(document.getElementById("plan-resident").value),
          reason: document.getElementById("plan-reason").value,
          due_at: instantOf(due).toISOString(), // the centre's wall clock
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
