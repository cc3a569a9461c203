// Service lifecycle pages: every <form data-api="/api/..."> posts its fields as JSON and
// then does what data-then says; the work-order page follows the hub's confirmations.
import { api, formatDateTime, lang, pageData } from "/static/web/ta.js";
import { dateFields } from "/static/web/datefield.js";

// Birth date, resume date, a medicine's first and last day: in the page's language, sent as ISO.
dateFields();

function setPath(target, path, value) {
  const parts = path.split(".");
  let node = target;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]);
    if (last) node[part] = value;
    else {
      if (node[part] === undefined) node[part] = nextIsIndex ? [] : {};
      node = node[part];
    }
  });
}

function collect(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    let value;
    if (el.type === "checkbox" && el.dataset.list !== undefined) {
      // A group of checkboxes with one name: the list of the checked values.
      if (!Array.isArray(body[el.name])) body[el.name] = [];
      if (el.checked) body[el.name].push(el.value);
      continue;
    }
    if (el.type === "checkbox") value = el.checked;
    else if (el.type === "radio") { if (!el.checked) continue; value = el.value; }
    else if (el.dataset.type === "bool") value = el.value === "true";
    else if (el.dataset.type === "int") { if (el.value.trim() === "") continue; value = Number(el.value); }
    else if (el.dataset.type === "number") {
      if (el.value.trim() === "") continue;
      value = Number(el.value.replace(",", "."));  // "19,5" as typed in Catalan and Spanish
    }
    else value = el.value;
    if (el.dataset.default !== undefined) {
      // A setting left at (or put back to) the care level's default is sent as null, so it
      // keeps following the level instead of freezing today's default.
      const same = el.dataset.type === "number" || el.dataset.type === "int"
        ? value === Number(el.dataset.default)
        : String(value).replace(/\s+/g, "") === el.dataset.default.replace(/\s+/g, "");
      if (same || (typeof value === "string" && value.trim() === "")) value = null;
    }
    setPath(body, el.name, value);
  }
  const meds = form.querySelector("[data-medications]");
  if (meds) {
    // One medicine per row (an empty row is left out): the whole list is sent each time.
    const list = [];
    for (const row of meds.querySelectorAll("tr[data-med]")) {
      const field = (name) => row.querySelector(`[data-med-field="${name}"]`).value.trim();
      if (!field("name") && !field("times")) continue;
      list.push({
        name: field("name"),
        times: field("times"),
        days: [...row.querySelectorAll("[data-med-day]:checked")].map((el) => el.dataset.medDay),
        start: field("start") || null,
        end: field("end") || null,
      });
    }
    setPath(body, "rules.medications", list);
  }
  return body;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll("[data-error-for], [data-form-error]")) { el.hidden = true; el.textContent = ""; }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(form, field, message) {
  const slot = field ? form.querySelector(`[data-error-for="${CSS.escape(field)}"]`) : null;
  const target = slot || form.querySelector("[data-form-error]");
  if (target) { target.textContent = target.textContent ? target.textContent + " " + message : message; target.hidden = false; }
  const input = field ? form.querySelector(`[name="${CSS.escape(field)}"]`) : null;
  if (input) input.setAttribute("aria-invalid", "true");
  return input || target;
}

const THEN = {
  reload: () => location.reload(),
  work_order: (result) => location.assign("/service/work-orders/" + result.result.work_order),
  // A referral typed in by staff: straight to its page (assessment next).
  referred: (result) => location.assign("/service/referrals/" + result.reference),
  applied: (result, form) => {
    form.hidden = true;
    document.getElementById("applied-reference").textContent = result.reference;
    document.getElementById("applied-check").textContent = result.check_value;
    const panel = document.getElementById("applied");
    panel.hidden = false;
    panel.scrollIntoView();
  },
  paired: (result) => {
    if (!result.credentials) { location.reload(); return; }
    // The device's broker password is shown once, here; the hub keeps only its hash.
    document.getElementById("wo-cred-user").textContent = result.credentials.username;
    document.getElementById("wo-cred-secret").textContent = result.credentials.secret;
    const panel = document.getElementById("wo-credentials");
    panel.hidden = false;
    panel.scrollIntoView();
  },
  linkcode: (result, form) => {
    // A linking code made on the resident's behalf: read it to the new member once.
    form.hidden = true;
    document.getElementById("circle-code-value").textContent = result.code;
    document.getElementById("circle-code-result").hidden = false;
  },
  setupcode: (result, form) => {
    // The tablet's one-time setup code: the installer types it on the tablet's digit pad;
    // once the tablet has paired it appears on this line (the page reloads then).
    form.hidden = true;
    document.getElementById("wo-setup-code-value").textContent = result.code;
    // Written like the page's other moments ("4 de des. del 2026, 10:30"), not 04/12/2026.
    document.getElementById("wo-setup-code-expires").textContent = formatDateTime(result.expires_at);
    document.getElementById("wo-setup-code").hidden = false;
  },
  status: (result) => {
    document.getElementById("status-text").textContent = result.state_text;
    document.getElementById("status-result").hidden = false;
  },
};

// A relationship chosen as "other" asks which, in words (ADR 0164); the words are sent only then.
for (const select of document.querySelectorAll("select[data-other]")) {
  const box = document.querySelector(`[data-other-for="${CSS.escape(select.name)}"]`);
  const input = box ? box.querySelector("input") : null;
  const sync = () => {
    if (!box) return;
    box.hidden = select.value !== "other";
    input.disabled = box.hidden;
  };
  select.addEventListener("change", () => { sync(); if (!box.hidden) input.focus(); });
  sync();
}

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    const label = button ? button.textContent : "";
    if (button) { button.disabled = true; if (button.dataset.busyText) button.textContent = button.dataset.busyText; }
    try {
      const sep = form.dataset.api.includes("?") ? "&" : "?";
      const result = await api(form.dataset.api + sep + "lang=" + lang, { method: form.dataset.method || "POST", body: collect(form) });
      (THEN[form.dataset.then] || (() => {}))(result, form);
    } catch (err) {
      const general = form.querySelector("[data-form-error]");
      if (general) { general.textContent = err.message; general.hidden = false; }
      let first = null;
      for (const e of (err.body && err.body.errors) || []) first = first || showError(form, e.field, e.message);
      if (first && first.focus) first.focus();
    } finally {
      if (button) { button.disabled = false; button.textContent = label; }
    }
  });
}

// The work order follows what the hub hears: first messages and the test alarm.
const data = pageData();
if (data.order_id !== undefined) {
  const poll = async () => {
    let order;
    try {
      order = await api(`/api/service/work-orders/${data.order_id}/confirm?lang=${lang}`, { method: "POST", body: {} });
    } catch (err) {
      setTimeout(poll, 5000);
      return;
    }
    const rows = document.querySelectorAll("#wo-devices tr[data-index]");
    let changed = false;
    order.devices.forEach((d, i) => {
      const cell = rows[i] && rows[i].querySelector("[data-first]");
      if (cell && d.first_message_at && !cell.querySelector(".badge.ok")) changed = true;
      // A tablet that paired itself with a setup code now sits on its line.
      if (rows[i] && d.device_id && !rows[i].dataset.device) changed = true;
    });
    const alarm = document.querySelector('#wo-items li[data-item="test_alarm"]');
    if (alarm && order.items.test_alarm && !alarm.classList.contains("done")) changed = true;
    const typing = [...document.querySelectorAll("input[type=text]")].some((el) => el.value.trim() !== "");
    const busy = typing || !document.getElementById("wo-credentials").hidden;
    if (changed && !busy) { location.reload(); return; }
    if (order.service_state === "installing" || order.service_state === "work_order") setTimeout(poll, 2000);
  };
  if (document.getElementById("wo-complete").hidden) setTimeout(poll, 2000);
}
