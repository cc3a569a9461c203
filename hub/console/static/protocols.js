// The centre's operator protocols: pick an alarm kind, edit its steps in ca/es/en, save
// (the centre's own replaces the shipped one) or go back to the shipped protocol.
import { api, t, formatDateTime, escapeHtml as h } from "/static/web/ta.js";
import { startHeartbeat } from "./presence.js";

const LANGS = ["ca", "es", "en"];
const MAX_STEPS = 12;
const errorBox = document.getElementById("protocols-error");
const notice = document.getElementById("protocols-notice");
const rows = document.getElementById("protocol-rows");
let kinds = [];
let selected = null;

function fail(err) {
  const key = "err_" + (err.code || "");
  const text = t(key);
  errorBox.textContent = text !== key ? text : t("error_generic", { message: err.message });
  errorBox.hidden = false;
  notice.hidden = true;
}

function kindName(kind) {
  if (kind === "default") return t("pkind_default");
  const k = kinds.find((x) => x.kind === kind);
  return (k && k.name) || kind;
}

function rowHtml(step, index) {
  const cells = LANGS.map((lang) => `<td><textarea rows="2" maxlength="200" data-lang="${lang}" aria-label="${h(t("lang_name_" + lang))} ${index + 1}">${h(step[lang] || "")}</textarea></td>`).join("");
  return `<tr data-row="${index}"><td class="num">${index + 1}</td><td><input type="text" data-field="key" maxlength="32" value="${h(step.key || "")}" aria-label="${h(t("protocol_key"))} ${index + 1}"></td>${cells}<td><button type="button" class="btn btn-small" data-remove="${index}" aria-label="${h(t("protocol_remove_step"))} ${index + 1}">✕</button></td></tr>`;
}

function current() {
  return [...rows.querySelectorAll("tr[data-row]")].map((tr) => {
    const step = { key: tr.querySelector("[data-field=key]").value.trim() };
    for (const lang of LANGS) step[lang] = tr.querySelector(`[data-lang=${lang}]`).value.trim();
    return step;
  });
}

function drawSteps(steps) {
  rows.innerHTML = steps.map(rowHtml).join("");
  document.getElementById("protocol-add").disabled = steps.length >= MAX_STEPS;
}

function drawKind() {
  const k = kinds.find((x) => x.kind === selected);
  if (!k) return;
  document.getElementById("protocol-heading").textContent = kindName(k.kind);
  document.getElementById("protocol-own").innerHTML = k.own
    ? `<span class="badge info">${h(t("protocol_own", { who: k.updated_by, when: formatDateTime(k.updated_at) }))}</span>`
    : `<span class="badge">${h(t("protocol_shipped"))}</span>`;
  document.getElementById("protocol-reset").hidden = !k.own;
  drawSteps(k.steps);
  document.querySelectorAll("#protocol-kinds [data-kind]").forEach((a) => a.setAttribute("aria-current", a.dataset.kind === selected ? "true" : "false"));
}

async function load() {
  try {
    kinds = (await api("/api/console/protocols/edit")).kinds;
    if (!selected) selected = kinds[0].kind;
    document.getElementById("protocol-kinds").innerHTML = kinds
      .map((k) => `<li><a href="#${h(k.kind)}" data-kind="${h(k.kind)}">${h(kindName(k.kind))}${k.own ? ` <span class="badge info">${h(t("protocol_own_short"))}</span>` : ""}</a></li>`)
      .join("");
    drawKind();
    errorBox.hidden = true;
  } catch (err) {
    fail(err);
  }
}

document.getElementById("protocol-kinds").addEventListener("click", (event) => {
  const a = event.target.closest("[data-kind]");
  if (!a) return;
  event.preventDefault();
  selected = a.dataset.kind;
  notice.hidden = true;
  errorBox.hidden = true;
  drawKind();
});

rows.addEventListener("click", (event) => {
  const button = event.target.closest("[data-remove]");
  if (!button) return;
  const steps = current();
  steps.splice(Number(button.dataset.remove), 1);
  drawSteps(steps);
});

document.getElementById("protocol-add").addEventListener("click", () => {
  drawSteps([...current(), { key: "", ca: "", es: "", en: "" }]);
});

document.getElementById("protocol-reset").addEventListener("click", async () => {
  try {
    await api(`/api/console/protocols/${selected}`, { method: "DELETE" });
    notice.textContent = t("protocol_was_reset");
    notice.hidden = false;
    await load();
  } catch (err) {
    fail(err);
  }
});

document.getElementById("protocol-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`/api/console/protocols/${selected}`, { method: "PUT", body: { steps: current() } });
    notice.textContent = t("protocol_saved");
    notice.hidden = false;
    errorBox.hidden = true;
    await load();
  } catch (err) {
    fail(err);
  }
});

startHeartbeat();
load();
