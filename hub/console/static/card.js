// The resident card beside an alarm: rendering only (data from /api/console/residents/{id}/card).
import { t, escapeHtml as h, formatTime, formatDateTime, formatPhone } from "/static/web/ta.js";

const LOW_BATTERY = 20;

function text(key, params) {
  return h(t(key, params));
}


const ADDRESS_FORMS = ["unknown", "feminine", "masculine", "neutral"];

/** The resident's form of address (ADR 0170); anything else reads as not stated. */
function addressForm(form) {
  return ADDRESS_FORMS.includes(form) ? form : "unknown";
}

/** ``key_feminine`` / ``key_masculine``, else ``key_neutral`` (hub.web.pages.addressed_key). */
export function addressedKey(key, form) {
  return `${key}_${form === "feminine" || form === "masculine" ? form : "neutral"}`;
}

function deviceState(state) {
  const cls = state === "online" ? "ok" : state === "offline" ? "danger" : "warn";
  return `<span class="badge ${cls}">${text("device_" + (["online", "offline", "revoked"].includes(state) ? state : "unknown"))}</span>`;
}

/** Inline SVG bar chart of 24 hourly counts (no library); hour labels in local time. */
export function activityChart(hours) {
  const width = 480;
  const height = 120;
  const top = 8;
  const bottom = 22;
  const max = Math.max(1, ...hours.map((x) => x.count));
  const step = width / hours.length;
  const bars = hours
    .map((x, i) => {
      const barHeight = Math.round(((height - top - bottom) * x.count) / max);
      const y = height - bottom - barHeight;
      const cls = i === hours.length - 1 ? "bar now" : "bar";
      const label = formatTime(x.start, { date: "never" }) + ": " + x.count;
      return `<rect class="${cls}" x="${(i * step + 1).toFixed(1)}" y="${y}" width="${(step - 2).toFixed(1)}" height="${Math.max(barHeight, x.count ? 2 : 0)}"><title>${h(label)}</title></rect>`;
    })
    .join("");
  const ticks = hours
    .map((x, i) => (i % 6 === 0 ? `<text class="axis" x="${(i * step + 2).toFixed(1)}" y="${height - 6}">${h(formatTime(x.start, { date: "never" }))}</text>` : ""))
    .join("");
  const base = `<line x1="0" x2="${width}" y1="${height - bottom}" y2="${height - bottom}" stroke="#9ca3af" stroke-width="1"/>`;
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${text("activity_24h")}">${bars}${base}${ticks}</svg>`;
}

function activitySummary(hours, last) {
  const total = hours.reduce((sum, x) => sum + x.count, 0);
  if (!total || !last) return `<p class="error-text">${text("activity_none")}</p>`;
  return `<p class="small muted">${text("activity_summary", { n: total, time: formatTime(last) })}</p>`;
}

function attemptsFor(party, history) {
  // Calls recorded by hand (contact_attempt) and calls the hub placed (dialled, ADR 0143).
  const attempts = (history || []).filter(
    (e) => ["contact_attempt", "dialled"].includes(e.action) && String(e.detail.party) === String(party),
  );
  if (!attempts.length) return `<span>${text("no_attempts")}</span>`;
  return attempts
    .map((e) => {
      const result = e.action === "dialled" ? "dial_result_" + e.detail.outcome : "result_" + e.detail.result;
      return `<span class="attempt" data-result="${h(e.detail.result || e.detail.outcome)}">${h(formatTime(e.at))} ${text(result)}${e.actor && e.actor.name ? " · " + h(e.actor.name) : ""}</span>`;
    })
    .join(" · ");
}

const RULE_SWITCHES = ["inactivity", "check_in", "night_door", "bed", "temperature", "baseline"];

function deg(value) {
  return Number(value).toLocaleString(document.documentElement.lang || "ca", { maximumFractionDigits: 1 });
}

/** One rule line: the value in force, and the care level's default when it differs. */
function ruleLine(label, value, fallback) {
  const changed = value !== fallback;
  return `<dt>${text(label)}</dt><dd${changed ? ' class="changed"' : ""}>${h(value)}${changed ? ` <span class="small muted">${text("rules_default", { value: fallback })}</span>` : ""}</dd>`;
}

/** The resident's alarm rules (ADR 0136); a supervisor gets the form to change them. */
export function renderRules(rules, adherence = null) {
  if (!rules) return "";
  const r = rules.rules;
  const d = rules.rule_defaults;
  const span = (x, a, b) => `${x[a]}–${x[b]}`;
  const temp = (x) => `${deg(x.temperature_low)}–${deg(x.temperature_high)} °C`;
  const off = RULE_SWITCHES.filter((k) => !r[k]).map((k) => t("rule_" + k));
  const lines = [
    ruleLine("rules_morning", span(r, "morning_start", "morning_end"), span(d, "morning_start", "morning_end")),
    ruleLine("rules_night", span(r, "night_start", "night_end"), span(d, "night_start", "night_end")),
    ruleLine("rules_check_in", r.check_in_deadlines.join(", "), d.check_in_deadlines.join(", ")),
    ruleLine("rules_bed_return", t("minutes", { n: r.bed_return_min }), t("minutes", { n: d.bed_return_min })),
    ruleLine("rules_temperature", temp(r), temp(d)),
    ruleLine("rules_sensitivity", t("sensitivity_" + r.baseline_sensitivity), t("sensitivity_" + d.baseline_sensitivity)),
    `<dt>${text("rules_meds")}</dt><dd>${(r.medications || []).length ? r.medications.map((m) => `${h(m.name)} ${h(m.times.join(", "))}${m.days.length ? ` <span class="small muted">(${h(m.days.map((d) => t("day_short_" + d)).join(", "))})</span>` : ""}`).join("<br>") : text("rules_none_off")}</dd>`,
    ...(adherence && adherence.weeks.length && adherence.weeks[0].expected
      ? [`<dt>${text("rules_adherence")}</dt><dd${adherence.weeks[0].missed ? ' class="changed"' : ""} id="card-adherence">${text("rules_adherence_week", { confirmed: adherence.weeks[0].confirmed, expected: adherence.weeks[0].expected })}</dd>`]
      : []),
    `<dt>${text("rules_off")}</dt><dd${off.length ? ' class="changed"' : ""}>${off.length ? h(off.join(", ")) : text("rules_none_off")}</dd>`,
  ].join("");
  const timeInput = (name) => `<input type="text" class="rule-time" inputmode="numeric" maxlength="5" name="${name}" id="rule-${name}" value="${h(r[name])}">`;
  const form = rules.editable
    ? `<details class="rules-edit" id="rules-edit"><summary class="btn btn-small">${text("rules_change")}</summary>
      <form id="rules-form" novalidate>
        <div class="rules-grid">
          <label for="rule-morning_start">${text("rules_morning")}</label><span>${timeInput("morning_start")} – ${timeInput("morning_end")}</span>
          <label for="rule-night_start">${text("rules_night")}</label><span>${timeInput("night_start")} – ${timeInput("night_end")}</span>
          <label for="rule-check_in_deadlines">${text("rules_check_in")}</label><span><input type="text" name="check_in_deadlines" id="rule-check_in_deadlines" value="${h(r.check_in_deadlines.join(", "))}"></span>
          <label for="rule-bed_return_min">${text("rules_bed_return")}</label><span><input type="text" class="rule-time" inputmode="numeric" name="bed_return_min" id="rule-bed_return_min" value="${r.bed_return_min}"> min</span>
          <label for="rule-temperature_low">${text("rules_temperature")}</label><span><input type="text" class="rule-time" inputmode="decimal" name="temperature_low" id="rule-temperature_low" value="${h(deg(r.temperature_low))}"> – <input type="text" class="rule-time" inputmode="decimal" name="temperature_high" id="rule-temperature_high" value="${h(deg(r.temperature_high))}"> °C</span>
          <label for="rule-baseline_sensitivity">${text("rules_sensitivity")}</label><span><select name="baseline_sensitivity" id="rule-baseline_sensitivity">${["low", "normal", "high"].map((x) => `<option value="${x}"${x === r.baseline_sensitivity ? " selected" : ""}>${text("sensitivity_" + x)}</option>`).join("")}</select></span>
        </div>
        <div class="rules-switches">${RULE_SWITCHES.map((k) => `<label><input type="checkbox" name="${k}"${r[k] ? " checked" : ""}> ${text("rule_" + k)}</label>`).join("")}</div>
        <ul class="error-text" id="rules-errors" role="alert" hidden></ul>
        <button type="submit" class="btn btn-primary btn-small">${text("rules_save")}</button>
      </form></details>`
    : "";
  return `<section class="card rules" id="card-rules">
        <h2>${text("rules_title")} <span class="small muted">${text("rules_version", { version: rules.version })}</span></h2>
        <dl class="facts">${lines}</dl>${form}
      </section>`;
}

/** What the supervisor's form asks to change: only what differs from the rules in force
 * (a value put back to the level's default is sent as null, so it follows the level). */
export function rulesChanges(form, rules) {
  const r = rules.rules;
  const d = rules.rule_defaults;
  const out = {};
  const put = (key, value) => {
    const same = JSON.stringify(value) === JSON.stringify(r[key]);
    if (same) return;
    out[key] = JSON.stringify(value) === JSON.stringify(d[key]) ? null : value;
  };
  for (const key of ["morning_start", "morning_end", "night_start", "night_end"]) put(key, form.elements[key].value.trim());
  put("check_in_deadlines", form.elements.check_in_deadlines.value.split(",").map((x) => x.trim()).filter(Boolean).sort());
  const minutes = form.elements.bed_return_min.value.trim();
  put("bed_return_min", /^\d+$/.test(minutes) ? Number(minutes) : minutes);
  for (const key of ["temperature_low", "temperature_high"]) {
    const raw = form.elements[key].value.trim().replace(",", ".");
    put(key, raw !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw);
  }
  put("baseline_sensitivity", form.elements.baseline_sensitivity.value);
  for (const key of RULE_SWITCHES) put(key, form.elements[key].checked);
  return out;
}

/** Health and care (structured record; the free-text notes when there is none). */
export function renderHealth(health, freeText) {
  const list = (items) => items.map((x) => h(x)).join(" · ");
  const rows = [];
  if (health) {
    if (health.allergies.length) rows.push(`<dt>${text("h_allergies")}</dt><dd class="allergies">${health.allergies.map((x) => `<span class="badge danger">${h(x)}</span>`).join(" ")}</dd>`);
    for (const [key, items] of [["h_conditions", health.conditions], ["h_medication", health.medication], ["h_mobility", health.mobility_aids]]) {
      if (items.length) rows.push(`<dt>${text(key)}</dt><dd>${list(items)}</dd>`);
    }
    for (const [key, value] of [["h_hearing", health.hearing], ["h_sight", health.sight], ["h_gp", [health.gp, health.health_centre].filter(Boolean).join(" · ")], ["h_directive", health.advance_directive]]) {
      if (value) rows.push(`<dt>${text(key)}</dt><dd>${h(value)}</dd>`);
    }
  }
  const notes = health ? health.notes : freeText;
  const dnr = health && health.dnr ? `<p class="dnr" id="card-dnr">${text("h_dnr")}</p>` : "";
  return `<section class="card" id="card-health">
        <h2>${text("medical")}</h2>
        ${dnr}${rows.length ? `<dl class="facts health">${rows.join("")}</dl>` : ""}
        ${notes || !rows.length ? `<div class="medical">${h(notes) || "—"}</div>` : ""}
        ${health && health.editable ? healthForm(health) : ""}
      </section>`;
}

const HEALTH_LISTS = [["allergies", "h_allergies"], ["conditions", "h_conditions"], ["medication", "h_medication"], ["mobility_aids", "h_mobility"]];
const HEALTH_TEXTS = [["hearing", "h_hearing"], ["sight", "h_sight"], ["gp", "h_gp_only"], ["health_centre", "h_centre"]];

/** A supervisor's or social worker's form for the record (lists: one item per line). */
function healthForm(health) {
  const lists = HEALTH_LISTS.map(([name, key]) => `<label for="health-${name}">${text(key)}</label><textarea id="health-${name}" name="${name}" rows="2">${h(health[name].join("\n"))}</textarea>`).join("");
  const texts = HEALTH_TEXTS.map(([name, key]) => `<label for="health-${name}">${text(key)}</label><input type="text" id="health-${name}" name="${name}" value="${h(health[name])}">`).join("");
  return `<details class="rules-edit" id="health-edit"><summary class="btn btn-small">${text("h_change")}</summary>
      <form id="health-form" novalidate>
        <div class="rules-grid health-grid">${lists}${texts}
          <label for="health-advance_directive">${text("h_directive")}</label><textarea id="health-advance_directive" name="advance_directive" rows="2">${h(health.advance_directive)}</textarea>
          <label for="health-notes">${text("h_notes")}</label><textarea id="health-notes" name="notes" rows="2">${h(health.notes)}</textarea>
        </div>
        <label class="rules-switches"><input type="checkbox" name="dnr"${health.dnr ? " checked" : ""}> ${text("h_dnr_field")}</label>
        <ul class="error-text" id="health-errors" role="alert" hidden></ul>
        <button type="submit" class="btn btn-primary btn-small">${text("h_save")}</button>
      </form></details>`;
}

/** The record as the form has it (the PUT body). */
export function healthBody(form) {
  const body = {};
  for (const [name] of HEALTH_LISTS) body[name] = form.elements[name].value.split("\n").map((x) => x.trim()).filter(Boolean);
  for (const [name] of HEALTH_TEXTS) body[name] = form.elements[name].value.trim();
  body.advance_directive = form.elements.advance_directive.value.trim();
  body.notes = form.elements.notes.value.trim();
  body.dnr = form.elements.dnr.checked;
  return body;
}

const DELIVERY_BADGE = { sent: "info", received: "info", shown: "info", postponed: "warn", acknowledged: "ok", expired: "danger" };
// The longest message the hub takes (hub/console/bodies.py MESSAGE_MAX).
export const MESSAGE_MAX = 500;

function deliveryLabel(m) {
  // An older tablet can only say it received it (ADR 0163); a message sent to be read only
  // was shown, not said.
  if (m.state === "received" && m.older_tablet) return text("delivery_received_older");
  if (m.state === "shown" && m.speak === false) return text("delivery_shown_silent");
  return text("delivery_" + m.state);
}

/** What a reminder put off says of when it rings again: once that time has passed without
 * a newer state from the tablet, it rang then (not "rings again" at a time gone by). */
function postponedLine(until) {
  if (!until) return text("delivery_not_again");
  const time = formatTime(until);
  return text(new Date(until) > new Date() ? "delivery_again_at" : "delivery_rang_again_at", { time });
}

/** The list of what was sent to the resident's tablet (newest first), each with its state;
 * a reminder put off says when it rings again, and still says it was put off once it rang
 * again, was confirmed or expired. Redrawn alone as the tablet answers. */
export function renderDeliveryList(items) {
  const lines = items.length
    ? items
        .map((m) => {
          const when = m.state === "postponed"
            ? `<div class="small" data-until>${postponedLine(m.until)}</div>`
            : m.put_off_until
              ? `<div class="small muted" data-put-off>${text("delivery_put_off", { time: formatTime(m.put_off_until, { date: "never" }) })}</div>`
              : "";
          const by = m.sent_by ? ` · ${h(m.sent_by)}` : "";
          const unasked = m.kind === "message" && m.confirm === false ? ` · ${text("delivery_no_confirm")}` : "";
          const older = m.state === "received" && m.older_tablet ? " older" : "";
          return `<li data-delivery="${h(m.id)}" data-state="${h(m.state)}"${m.older_tablet ? " data-older" : ""}><span class="badge ${DELIVERY_BADGE[m.state] || "info"}${older}">${deliveryLabel(m)}</span><span><strong>${text("delivery_kind_" + m.kind)}</strong>${m.text ? ` ${h(m.text)}` : ""}<div class="small muted">${text("delivery_sent_at", { time: formatTime(m.sent_at) })}${by}${m.state !== "sent" && m.state !== "expired" ? ` · ${text("delivery_state_at", { time: formatTime(m.state_at) })}` : ""}${unasked}</div>${when}</span></li>`;
        })
        .join("")
    : `<li class="muted">${text("delivery_none")}</li>`;
  return `<ul class="deliveries" id="delivery-list">${lines}</ul>`;
}

/** The form that writes a message to the tablet (operators and supervisors). `draft` keeps
 * what was typed across redraws of the card. */
function messageForm(draft) {
  const d = draft || { text: "", speak: true, confirm: false };
  return `<form id="msg-form" class="msg-form" novalidate>
      <label for="msg-text">${text("msg_label")}</label>
      <textarea id="msg-text" name="text" rows="2" aria-describedby="msg-count msg-error">${h(d.text)}</textarea>
      <div class="msg-row">
        <label><input type="checkbox" name="speak" id="msg-speak"${d.speak ? " checked" : ""}> ${text("msg_speak")}</label>
        <label><input type="checkbox" name="confirm" id="msg-confirm"${d.confirm ? " checked" : ""}> ${text("msg_confirm")}</label>
        <span class="small muted" id="msg-count">${text("msg_count", { n: d.text.length, max: MESSAGE_MAX })}</span>
        <button type="submit" class="btn btn-primary btn-small" id="msg-send">${text("msg_send")}</button>
      </div>
      <p class="error-text" id="msg-error" role="alert" hidden></p>
    </form>`;
}

/** What was sent to the resident's tablet and what became of it (ADR 0163), with the form
 * to write a new message when `canSend`. `items` null: not read. */
export function renderDeliveries(items, { canSend = false, draft = null } = {}) {
  if (!items) return "";
  return `<section class="card" id="card-messages"><h2>${text("delivery_heading")}</h2>${canSend ? messageForm(draft) : ""}${renderDeliveryList(items)}</section>`;
}

/** The message as it is sent: control characters and runs of spaces (a line break typed in
 * the box) become one space, as the hub would store it. */
export function messageWords(value) {
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").split(/\s+/).filter(Boolean).join(" ");
}

/** Words for what is wrong with a message before it is sent; null when it may go. */
export function messageProblem(value) {
  const words = messageWords(value);
  if (!words) return t("msg_empty");
  if (words.length > MESSAGE_MAX) return t("msg_too_long", { n: words.length, max: MESSAGE_MAX });
  return null;
}

/** The card's HTML. `alarm` (with history) gives the attempt log; `recent` other alarms;
 * `aside` heads the second column (the alarm's protocol: beside the person, so it never
 * pushes who they are and where they live below the fold). */
export function renderCard(card, alarm, recent, { canAct, canDial = false, canDialUnit = false, keySafeCode = null, aside = "", canMessage = false, messageDraft = null }) {
  const r = card.resident;
  const home = card.home;
  const history = alarm ? alarm.history : [];
  const age = r.age != null ? text("years", { n: r.age }) : "";
  const keySafe = home.has_key_safe && keySafeCode
    ? `<div class="keysafe"><span id="keysafe-value" class="code">${h(keySafeCode)}</span><span class="small muted">${text("key_safe_audited")}</span></div>`
    : home.has_key_safe
    ? `<div class="keysafe"><span id="keysafe-value"></span>${canAct ? `<button type="button" class="btn btn-small" id="keysafe-show"><kbd>S</kbd> ${text("show_code")}</button>` : `<span class="muted">${text("key_safe_accept_first")}</span>`}<span class="small muted">${text("key_safe_audited")}</span></div>`
    : `<span class="muted">${text("key_safe_none")}</span>`;
  const contacts = card.contacts
    .map(
      (c) => `<li data-contact="${c.id}">
        <span class="prio">${c.priority}</span>
        <span><span class="cname">${h(c.name)}</span> <span class="muted small">${h(c.relationship_label || c.relationship)}</span>${c.is_key_holder ? ` <span class="badge info">${text("key_holder")}</span>` : ""}<br><span class="phone">${h(formatPhone(c.phone))}</span></span>
        ${canAct ? `<span class="callbtns">${canDial && c.phone ? `<button type="button" class="btn btn-small btn-primary" data-dial="${c.id}">${text("dial")}</button>` : ""}<button type="button" class="btn btn-small" data-call="${c.id}">${text("call")}</button></span>` : "<span></span>"}
        <span class="attempts">${attemptsFor(c.id, history)}</span>
      </li>`,
    )
    .join("");
  const devices = card.devices
    .map((d) => {
      const low = d.battery != null && d.battery <= LOW_BATTERY;
      const battery = d.battery == null ? "—" : `<span class="battery${low ? " low" : ""}">${d.battery} %</span>`;
      // The home's SCAIP unit can be called from here (click-to-call, ADR 0143).
      const unit = canDialUnit && ["carephone", "alarm_panel"].includes(d.type)
        ? ` <button type="button" class="btn btn-small btn-primary" data-dial="carephone" title="${text("dial_carephone")}">${text("dial")} <kbd>D</kbd></button>`
        : "";
      return `<tr><td>${h(d.name)}${unit}</td><td>${deviceState(d.state)}</td><td class="num">${battery}</td><td class="small muted">${h(formatTime(d.last_seen))}</td></tr>`;
    })
    .join("");
  const recentItems = recent.length
    ? recent
        .slice(0, 5)
        .map((a) => `<li><span class="badge p${a.priority}">${text("p" + a.priority)}</span><strong>${h(a.rule_label || a.rule)}</strong><span class="muted">${h(formatDateTime(a.raised_at))}</span>${a.outcome_label ? `<span>→ ${h(a.outcome_label)}</span>` : `<span>${h(a.state_label || a.state)}</span>`}</li>`)
        .join("")
    : `<li class="muted">${text("no_recent_alarms")}</li>`;
  return `
  <div class="cardgrid" id="resident-card">
    <div class="cardcol">
      <section class="card">
        <div class="person">
          <img src="${h(r.photo_url)}" alt="">
          <div>
            <p class="name" id="card-name">${h(r.name)}</p>
            <p>${h(age)} · ${text("lang_name_" + r.language)}${r.lives_alone ? ` · <span id="card-lives-alone">${text(addressedKey("lives_alone", r.address_form))}</span>` : ""}</p>
          </div>
        </div>
        <dl class="facts" style="margin-top:10px">
          <dt>${text("address_form")}</dt><dd id="card-address-form">${text("address_form_" + addressForm(r.address_form))}</dd>
          ${r.phone ? `<dt>${text("phone")}</dt><dd><span class="phone" id="resident-phone">${h(formatPhone(r.phone))}</span>${canDial ? ` <button type="button" class="btn btn-small btn-primary" data-dial="resident">${text("dial")}</button>` : ""}</dd>` : ""}
          <dt>${text("address")}</dt><dd id="card-address">${h(home.address)}${home.map_url ? ` <a class="btn btn-small maplink" id="card-map" href="${h(home.map_url)}" target="_blank" rel="noopener noreferrer">${text("open_map")}</a>` : ""}</dd>
          <dt>${text("access")}</dt><dd>${h(home.access_notes) || "—"}</dd>
          <dt>${text("key_safe")}</dt><dd>${keySafe}</dd>
        </dl>
      </section>
      ${renderHealth(card.health, r.medical_notes)}
      <section class="card chart">
        <h2>${text("activity_24h")}</h2>
        ${activityChart(card.activity)}
        ${activitySummary(card.activity, card.last_activity_at)}
      </section>
      ${renderRules(card.rules, card.adherence)}
    </div>
    <div class="cardcol">
      ${aside}
      <section class="card">
        <h2>${text("contacts")}</h2>
        <ol class="contacts">${contacts}</ol>
      </section>
      <section class="card">
        <h2>${text("devices")}</h2>
        <table class="table devices"><tbody>${devices}</tbody></table>
      </section>
      ${renderDeliveries(card.deliveries, { canSend: canMessage, draft: messageDraft })}
      <section class="card">
        <h2>${text("recent_alarms")}</h2>
        <ul class="recent">${recentItems}</ul>
      </section>
    </div>
  </div>`;
}
