// Campaigns of wellbeing calls: a population from care-plan filters, its preview, and each
// campaign's completion (done, pending, no answer, per operator), refreshed every few seconds.
import { api, t, formatDateTime, escapeHtml as h } from "/static/web/ta.js";
import { startHeartbeat } from "./presence.js";

const REFRESH_MS = 5000;
const PREVIEW_NAMES = 12;
const MAX_ATTEMPTS = 3;
const errorBox = document.getElementById("campaigns-error");
const notice = document.getElementById("campaigns-notice");
const form = document.getElementById("campaign-form");
const previewOut = document.getElementById("c-preview-out");
let selected = null;
let formFilled = false;
const names = new Map(); // operator username -> display name

function message(err) {
  const key = "err_" + (err.code || "");
  const text = t(key);
  return text !== key ? text : t("error_generic", { message: err.message });
}

function fail(err) {
  errorBox.textContent = message(err);
  errorBox.hidden = false;
  notice.hidden = true;
}

function checked(name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((x) => x.value);
}

function filters() {
  const out = {};
  const age = document.getElementById("c-min-age").value;
  if (age !== "") out.min_age = Number(age);
  const alone = document.getElementById("c-alone").value;
  if (alone) out.lives_alone = alone === "yes";
  const areas = checked("area");
  if (areas.length) out.areas = areas;
  const levels = checked("level");
  if (levels.length) out.care_levels = levels;
  const languages = checked("language");
  if (languages.length) out.languages = languages;
  return out;
}

function fillForm(answer) {
  if (formFilled) return;
  formFilled = true;
  const boxes = (id, name, items) => {
    document.getElementById(id).insertAdjacentHTML(
      "beforeend",
      items.map(([value, label]) => `<label><input type="checkbox" name="${name}" value="${h(value)}"> ${h(label)}</label>`).join(""),
    );
  };
  boxes("c-areas", "area", answer.areas.map((a) => [a, a]));
  boxes("c-operators", "operator", answer.operators.map((o) => [o.username, o.display_name]));
  for (const o of answer.operators) names.set(o.username, o.display_name);
}

function bar(p) {
  const total = p.total || 1;
  const part = (key) => (p[key] ? `<span class="${key}" style="width:${(100 * p[key]) / total}%"></span>` : "");
  return `<div class="progress" aria-hidden="true">${part("done")}${part("no_answer")}${part("retrying")}${part("not_called")}</div>`;
}

function progressText(p) {
  return h(t("campaign_progress_text", { done: p.done, total: p.total, pending: p.pending + p.retrying, no_answer: p.no_answer }));
}

function person(username) {
  return username ? names.get(username) || username : t("unassigned");
}

function renderList(campaigns) {
  document.getElementById("campaigns-empty").hidden = campaigns.length > 0;
  document.querySelector("#campaigns tbody").innerHTML = campaigns
    .map((c) => {
      const state = c.closed_at
        ? `<span class="badge">${h(t("campaign_status_closed"))}</span>`
        : `<span class="badge ok">${h(t("campaign_status_open"))}</span>`;
      const prio = c.priority === "normal" ? "" : ` <span class="badge ${c.priority === "high" ? "danger" : "info"}">${h(t("prio_" + c.priority))}</span>`;
      return `<tr data-campaign="${c.id}" tabindex="0" aria-selected="${c.id === selected}"><td><strong>${h(c.name)}</strong>${prio}</td><td>${h(formatDateTime(c.starts_at))}</td><td>${bar(c.progress)}<div class="progress-text">${progressText(c.progress)}</div></td><td>${state}</td></tr>`;
    })
    .join("");
}

function figure(label, value, kind = "") {
  return `<div class="figure ${kind}"><div class="value">${value}</div><div class="label">${h(label)}</div></div>`;
}

function renderDetail(c) {
  const box = document.getElementById("campaign-detail");
  const p = c.progress;
  const operators = c.operators
    .map((o) => `<tr data-operator="${h(o.operator || "")}"><td>${h(person(o.operator))}</td><td class="num">${o.assigned}</td><td class="num">${o.done}</td><td class="num">${o.no_answer}</td><td class="num">${o.pending}</td></tr>`)
    .join("");
  const calls = c.calls
    .map((x) => {
      const state = x.outcome
        ? h(t("co_" + x.outcome))
        : x.attempts
          ? `<span class="badge warn">${h(t("attempt_n", { n: x.attempts + 1, max: MAX_ATTEMPTS }))}</span>`
          : `<span class="muted">${h(t("cp_pending"))}</span>`;
      return `<tr><td>${h(x.resident_name)}</td><td>${h(person(x.done_by || x.assigned_to))}</td><td>${state}</td><td>${h(formatDateTime(x.done_at))}</td></tr>`;
    })
    .join("");
  const close = c.closed_at ? "" : `<button type="button" class="btn btn-danger btn-small" id="campaign-close">${h(t("campaign_close"))}</button>`;
  box.innerHTML = `<div class="row"><h2 style="margin:0">${h(c.name)}</h2><span class="spacer"></span>${close}</div>
    ${c.script ? `<div class="campaign-script">${h(c.script)}</div>` : ""}
    <div class="campaign-figures" id="campaign-figures">
      ${figure(t("cp_done"), p.done, "good")}
      ${figure(t("cp_pending"), p.pending + p.retrying)}
      ${figure(t("cp_no_answer"), p.no_answer, p.no_answer ? "bad" : "")}
      ${figure(t("cp_follow_up"), p.reached_follow_up)}
    </div>
    <h3>${h(t("campaign_per_operator"))}</h3>
    <table class="table" id="campaign-operators"><thead><tr><th>${h(t("operator"))}</th><th class="num">${h(t("assigned_n"))}</th><th class="num">${h(t("cp_done"))}</th><th class="num">${h(t("cp_no_answer"))}</th><th class="num">${h(t("cp_pending"))}</th></tr></thead><tbody>${operators}</tbody></table>
    <details style="margin-top:10px"><summary>${h(t("campaign_calls"))} (${c.calls.length})</summary>
    <table class="table" id="campaign-calls"><thead><tr><th>${h(t("resident"))}</th><th>${h(t("operator"))}</th><th>${h(t("outcome"))}</th><th>${h(t("done"))}</th></tr></thead><tbody>${calls}</tbody></table></details>`;
  box.hidden = false;
  const button = document.getElementById("campaign-close");
  if (button) {
    button.addEventListener("click", async () => {
      if (!window.confirm(t("campaign_close_confirm", { name: c.name }))) return;
      try {
        await api(`/api/console/campaigns/${c.id}/close`, { method: "POST" });
        await load();
      } catch (err) {
        fail(err);
      }
    });
  }
}

async function load() {
  try {
    const answer = await api("/api/console/campaigns");
    fillForm(answer);
    renderList(answer.campaigns);
    if (selected === null && answer.campaigns.length) selected = answer.campaigns[0].id;
    if (selected !== null) renderDetail(await api(`/api/console/campaigns/${selected}`));
    errorBox.hidden = true;
  } catch (err) {
    fail(err);
  }
}

document.querySelector("#campaigns tbody").addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-campaign]");
  if (!row) return;
  selected = Number(row.dataset.campaign);
  load();
});

document.getElementById("c-preview").addEventListener("click", async () => {
  try {
    const answer = await api("/api/console/campaigns/preview", { method: "POST", body: { filters: filters() } });
    const names = answer.residents
      .slice(0, PREVIEW_NAMES)
      .map((r) => `<li>${h(r.name)}${r.age === null ? "" : ` (${r.age})`}${r.area ? ` · ${h(r.area)}` : ""}</li>`)
      .join("");
    const more = answer.count > PREVIEW_NAMES ? `<p class="muted small">${h(t("campaign_more", { more: answer.count - PREVIEW_NAMES }))}</p>` : "";
    previewOut.innerHTML = `<strong id="c-preview-count">${h(t("campaign_count", { count: answer.count }))}</strong><ul>${names}</ul>${more}`;
    previewOut.hidden = false;
    errorBox.hidden = true;
  } catch (err) {
    fail(err);
  }
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = document.getElementById("c-name").value.trim();
  if (!name) {
    fail({ code: "invalid_name" });
    return;
  }
  try {
    const made = await api("/api/console/campaigns", {
      method: "POST",
      body: {
        name,
        script: document.getElementById("c-script").value.trim(),
        filters: filters(),
        priority: document.getElementById("c-priority").value,
        operators: checked("operator"),
      },
    });
    selected = made.id;
    form.reset();
    previewOut.hidden = true;
    errorBox.hidden = true;
    let text = t("campaign_created", { count: made.progress.total });
    if (made.left_out.length) text += " " + t("campaign_left_out", { count: made.left_out.length });
    notice.textContent = text;
    notice.hidden = false;
    await load();
  } catch (err) {
    fail(err);
  }
});

startHeartbeat();
load();
setInterval(load, REFRESH_MS);
