// The operator's screen: live queue (priority, then age), selected alarm, resident card,
// handling dialogs and keyboard shortcuts. Data: docs/alarms-api.md + /api/console/...
import { api, lang, t, tn, formatPhone, pageData, banner, LiveSocket, showConnection, formatAge, formatTime, escapeHtml as h } from "/static/web/ta.js";
import * as alarmsApi from "./alarms.js";
import { healthBody, messageProblem, messageWords, renderCard, renderDeliveryList, rulesChanges, MESSAGE_MAX } from "./card.js";
import { bindSoundToggle, chime } from "./chime.js";
import { startHeartbeat } from "./presence.js";
import { VoiceCall, renderVoice, voiceDetail } from "./voice.js";
import { ListenIn, renderListen } from "./listen.js";
import { DialCall, dialDetail, renderDial, renderUnitCall } from "./dial.js";

const data = pageData();

// The 112 hand-off's state in words; "failed 2 times" agrees with the count.
function handoffText(emergency) {
  const key = "handoff_" + emergency.handoff;
  return emergency.handoff === "retrying" ? tn(key, emergency.attempts) : t(key, { n: emergency.attempts });
}
const me = data.user;
const canAct = Boolean(data.can_act);
const URGENT = 2; // priorities 1 and 2 ring and flash
const LATE_S = 60; // the acceptance target: ages past it turn red

const state = {
  alarms: new Map(), // id -> alarm (as the API gives it) + _raisedLocal
  residents: new Map(), // id -> summary
  selected: null,
  detail: null, // full alarm (with history) of the selected one
  card: null,
  cardFor: null,
  recent: [],
  codes: null,
  known: new Set(), // ids seen in this page, so a reconnect snapshot does not re-ring
  firstLoad: true,
  notice: null, // {kind, text} shown in the detail pane
  gone: false,
  keySafe: null, // {alarm, code}: the code revealed for that alarm (shown until it is gone)
  messageDraft: null, // {rid, text, speak, confirm}: the message being written on the card
};
window.__taConsole = state; // for tests and debugging
const voice = new VoiceCall(() => renderDetail());
window.__taVoice = voice;
// Calls the hub places for the operator (click-to-call, ADR 0143).
const dial = new DialCall(() => renderDetail());
window.__taDial = dial;
// Supervisors may listen in to an operator's call with a home (ADR 0100).
const canListen = canAct && me.role === "supervisor";
const listen = new ListenIn(voice, () => renderDetail());
voice.listenIn = listen;
window.__taListen = listen;

const els = {
  queue: document.getElementById("queue"),
  empty: document.getElementById("queue-empty"),
  count: document.getElementById("queue-count"),
  navCount: document.getElementById("nav-queue-count"),
  detail: document.getElementById("detail"),
  conn: document.getElementById("conn"),
};

// ---------------------------------------------------------------- queue

function withLocalClock(alarm) {
  // age_s is the server's view; anchoring it to our clock cancels any clock skew.
  const age = typeof alarm.age_s === "number" ? alarm.age_s : (Date.now() - Date.parse(alarm.raised_at)) / 1000;
  return { ...alarm, _raisedLocal: Date.now() - age * 1000 };
}

function ordered() {
  return [...state.alarms.values()].sort(
    (a, b) => a.priority - b.priority || Date.parse(a.raised_at) - Date.parse(b.raised_at) || String(a.id).localeCompare(String(b.id)),
  );
}

function claimText(alarm) {
  if (!alarm.claimed_by) return { cls: "new", text: t("state_new") };
  if (String(alarm.claimed_by.id) === String(me.id)) return { cls: "mine", text: t("taken_by_you") };
  return { cls: "other", text: t("taken_by", { name: alarm.claimed_by.name || alarm.claimed_by.id }) };
}

function residentName(alarm) {
  const r = state.residents.get(String(alarm.resident_id));
  return r ? r.name : "…";
}

function ageSeconds(alarm) {
  return (Date.now() - alarm._raisedLocal) / 1000;
}

function renderQueue() {
  const list = ordered();
  els.empty.hidden = list.length > 0;
  els.count.textContent = tn("queue_count", list.length);
  const waiting = list.filter((a) => !a.claimed_by).length;
  if (els.navCount) {
    els.navCount.hidden = waiting === 0;
    els.navCount.textContent = String(waiting);
  }
  document.title = (waiting ? `(${waiting}) ` : "") + t("queue_heading") + " · Teleassist";
  els.queue.innerHTML = list
    .map((a) => {
      const claim = claimText(a);
      const flags = [
        a.supervisor_alerted ? `<span class="badge warn">${h(t("supervisor_alerted"))}</span>` : "",
        a.emergency && a.emergency.sent && !a.emergency.handoff ? `<span class="badge danger">${h(t("emergency_sent"))}</span>` : "",
        a.emergency && a.emergency.handoff
          ? `<span class="badge danger" data-handoff="${h(a.emergency.handoff)}">${h(handoffText(a.emergency))}</span>`
          : "",
        a.emergency && a.emergency.auto_112_at && !a.emergency.handoff
          ? `<span class="badge warn" data-auto-112>${h(t("auto_112_warning"))}</span>`
          : "",
      ].join("");
      return `<li class="qitem p${a.priority}${a.claimed_by && claim.cls === "other" ? " taken" : ""}${a._flash ? " flash" : ""}" data-id="${h(a.id)}" data-state="${h(a.state)}" aria-selected="${a.id === state.selected}" tabindex="-1">
        <div class="line1"><span class="badge p${a.priority}">${h(t("p" + a.priority))}</span><span class="rule">${h(a.rule_label || a.rule)}</span><span class="age" data-age></span></div>
        <div class="resident">${h(residentName(a))}</div>
        <div class="claim ${claim.cls}">${h(claim.text)}</div>
        ${flags ? `<div class="flags">${flags}</div>` : ""}
      </li>`;
    })
    .join("");
  tickAges();
}

function tickAges() {
  for (const item of els.queue.querySelectorAll(".qitem")) {
    const alarm = state.alarms.get(item.dataset.id);
    if (!alarm) continue;
    const age = ageSeconds(alarm);
    const el = item.querySelector("[data-age]");
    el.textContent = formatAge(age);
    el.classList.toggle("late", !alarm.claimed_by && age > LATE_S);
  }
  const big = document.getElementById("detail-age");
  const alarm = state.selected && state.alarms.get(state.selected);
  if (big && alarm) big.textContent = formatAge(ageSeconds(alarm));
}

async function loadResidentNames(alarms) {
  const missing = [...new Set(alarms.map((a) => String(a.resident_id)))].filter((id) => !state.residents.has(id) && /^\d+$/.test(id));
  if (!missing.length) return;
  try {
    const result = await api("/api/console/residents?ids=" + missing.join(","));
    for (const r of result.residents) state.residents.set(String(r.id), r);
  } catch (err) {
    console.warn("resident names", err);
  }
}

function cue(alarm) {
  // A new urgent alarm: sound + flashing item + the title counter; never for ones we saw.
  if (state.known.has(alarm.id)) return;
  state.known.add(alarm.id);
  if (alarm.priority <= URGENT && !alarm.claimed_by) {
    alarm._flash = true;
    setTimeout(() => {
      const current = state.alarms.get(alarm.id);
      if (current) current._flash = false;
    }, 6000);
    chime(2);
    announce(t("new_critical", { priority: t("p" + alarm.priority), rule: alarm.rule_label || alarm.rule }));
  }
}

function announce(message) {
  let live = document.getElementById("announce");
  if (!live) {
    live = document.createElement("div");
    live.id = "announce";
    live.setAttribute("aria-live", "assertive");
    live.className = "skip";
    document.body.appendChild(live);
  }
  live.textContent = message;
}

async function replaceAll(alarms) {
  const fresh = new Map();
  for (const a of alarms) fresh.set(a.id, withLocalClock(a));
  const before = state.alarms;
  state.alarms = fresh;
  await loadResidentNames(alarms);
  for (const a of fresh.values()) {
    if (state.firstLoad) {
      // At sign-in: ring once if something urgent is waiting, without flashing all.
      state.known.add(a.id);
    } else if (!before.has(a.id)) cue(a);
  }
  if (state.firstLoad && [...fresh.values()].some((a) => a.priority <= URGENT && !a.claimed_by)) chime(1);
  state.firstLoad = false;
  if (state.selected && !fresh.has(state.selected) && before.has(state.selected)) markGone();
  renderQueue();
  if (!state.selected) {
    const first = ordered()[0];
    if (first) select(first.id);
  } else if (fresh.has(state.selected)) refreshDetail();
}

async function upsert(alarm) {
  const fresh = withLocalClock(alarm);
  const old = state.alarms.get(alarm.id);
  if (old && old._flash) fresh._flash = true;
  state.alarms.set(alarm.id, fresh);
  await loadResidentNames([alarm]);
  if (!old) cue(fresh);
  renderQueue();
  if (alarm.id === state.selected) refreshDetail();
  else if (!state.selected) select(alarm.id);
}

function removeAlarm(alarm) {
  state.alarms.delete(alarm.id);
  renderQueue();
  if (alarm.id === state.selected) markGone(alarm);
}

function markGone(alarm) {
  state.gone = true;
  state.keySafe = null; // the code is for the handler of an open alarm only
  if (alarm && state.detail && state.detail.id === alarm.id) state.detail = { ...state.detail, ...alarm };
  state.notice = { kind: "info", text: t("alarm_gone") };
  renderDetail();
}

const isCare = (alarm) => alarm.category === "care"; // technical ones have their own page

function onLive(message) {
  if (message.alarm && !isCare(message.alarm)) return;
  switch (message.type) {
    case "snapshot":
      replaceAll((message.alarms || []).filter(isCare));
      break;
    case "alarm.raised":
    case "alarm.updated":
    case "alarm.accepted":
      if (message.alarm.state === "resolved") removeAlarm(message.alarm);
      else upsert(message.alarm);
      break;
    case "alarm.resolved":
      removeAlarm(message.alarm);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- detail

function select(id) {
  if (state.selected !== id) {
    state.notice = null;
    state.gone = false;
  }
  state.selected = id;
  for (const item of els.queue.querySelectorAll(".qitem")) item.setAttribute("aria-selected", String(item.dataset.id === id));
  const alarm = state.alarms.get(id);
  if (alarm) alarm._flash = false;
  refreshDetail();
}

let detailToken = 0;
const cardLoads = new Map(); // resident id -> Promise of {card, recent}

function loadCard(rid) {
  // One shared load per resident: concurrent refreshes never leave the card half-loaded.
  if (!cardLoads.has(rid)) {
    const load = Promise.all([
      api(`/api/console/residents/${encodeURIComponent(rid)}/card`),
      alarmsApi.listAlarms({ status: "all", limit: 200 }).catch(() => []),
      // The alarm rules of the resident's service (none: no open service).
      api(`/api/service/residents/${encodeURIComponent(rid)}/rules`).catch(() => null),
      // The structured health record (its read is audited, as the card's).
      api(`/api/console/residents/${encodeURIComponent(rid)}/health`).catch(() => null),
      // This week's medication doses: confirmed of those due (for the rules section).
      api(`/api/console/residents/${encodeURIComponent(rid)}/adherence?weeks=1`).catch(() => null),
      // What was sent to the tablet and what became of it (kept current by followDeliveries).
      api(`/api/console/residents/${encodeURIComponent(rid)}/messages`).then((r) => r.messages).catch(() => null),
    ]).then(([card, all, rules, health, adherence, deliveries]) => ({ card: { ...card, rules, health, adherence, deliveries }, all }));
    load.catch(() => cardLoads.delete(rid));
    cardLoads.set(rid, load);
  }
  return cardLoads.get(rid);
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  const token = ++detailToken;
  const summary = state.alarms.get(id);
  if (summary && (!state.detail || state.detail.id !== id)) {
    state.detail = { ...summary, history: [] };
    renderDetail();
  }
  try {
    const [full, speech] = await Promise.all([
      alarmsApi.getAlarm(id),
      // whether the home's tablet is there to speak through, now
      api(`/api/console/alarms/${encodeURIComponent(id)}/voice`).catch(() => null),
    ]);
    if (token !== detailToken) return;
    state.detail = full;
    state.tablet = speech
      ? { alarm: id, ...speech.tablet, active: speech.active, dial: speech.dial, unit_call: speech.unit_call }
      : null;
    const rid = String(full.resident_id);
    if (state.cardFor !== rid || !state.card) {
      if (state.cardFor !== rid) state.card = null;
      state.cardFor = rid;
      renderDetail();
      const { card, all } = await loadCard(rid);
      if (state.cardFor !== rid) return;
      state.card = card;
      state.recent = all.filter((a) => String(a.resident_id) === rid && a.id !== id);
      if (token !== detailToken) return;
    }
    renderDetail();
  } catch (err) {
    if (token !== detailToken) return;
    if (err.status === 404) markGone();
    else state.notice = { kind: "error", text: t("error_generic", { message: err.message }) };
    renderDetail();
  }
}

function isMine(alarm) {
  return alarm.claimed_by && String(alarm.claimed_by.id) === String(me.id);
}

function mayHandle(alarm) {
  return canAct && alarm.state !== "resolved" && (isMine(alarm) || me.role === "supervisor");
}

const SHOWN_DETAILS = ["party", "result", "target", "outcome", "reference", "status", "text", "notes", "detail", "error"];

function codeLabel(kind, code) {
  const list = (state.codes && state.codes[kind]) || [];
  const found = list.find((x) => x.code === code);
  return found ? found.label : code;
}

function partyName(party) {
  if (party === "resident") return t("party_resident");
  if (party === "carephone") return t("party_carephone");
  const c = state.card && state.card.contacts.find((x) => String(x.id) === String(party));
  return c ? c.name : party;
}

/** A certified unit's alarm: its protocol and the event exactly as it came (docs/carephones.md). */
function unitEventLine(a) {
  const p = (a.explanation && a.explanation.params) || {};
  if (!p.protocol || !p.code) return "";
  return `<p class="meta" id="detail-unit-event"><strong>${h(t("unit_protocol"))}:</strong> <span data-protocol>${h(p.protocol)}</span> · ${h(t("unit_raw_event"))}: <code id="detail-raw-event">${h(p.raw || p.code)}</code></p>`;
}

const DIAL_ACTIONS = ["dialled", "on_my_way", "dial_ended", "unit_calling"];

/** What the hub can dial for this alarm's card ({enabled, phones, carephone}). */
function dialling(a) {
  const known = state.tablet && state.tablet.alarm === a.id ? state.tablet.dial : null;
  return known || { enabled: false, phones: false, carephone: false };
}

function historyLine(e) {
  const key = "act_" + e.action;
  const label = t(key) === key ? e.action : t(key);
  const who = e.actor.kind === "system" ? t("actor_system") : e.actor.name || e.actor.id;
  const d = e.detail || {};
  if (e.action === "note" && d.family_answer) {
    // A relative (app) or key holder (SMS) answered the alarm notice: worded here.
    const how = t(d.channel === "sms" ? "family_by_sms" : "family_by_app");
    return `<li data-action="family_answer" data-answer="${h(d.family_answer)}"><time>${h(formatTime(e.at, { seconds: true }))}</time><span><strong>${h(t("family_answer_" + d.family_answer))}</strong> — ${h(who)} · ${h(how)}</span></li>`;
  }
  if (DIAL_ACTIONS.includes(e.action)) {
    const extra = dialDetail(e, partyName);
    return `<li data-action="${h(e.action)}"${d.outcome ? ` data-outcome="${h(d.outcome)}"` : ""}${d.status ? ` data-status="${h(d.status)}"` : ""}><time>${h(formatTime(e.at, { seconds: true }))}</time><span><strong>${h(label)}</strong> — ${h(who)}${extra ? " · " + h(extra) : ""}</span></li>`;
  }
  if (e.action === "voice_call" || e.action === "voice_connected") {
    const extra = e.action === "voice_call" ? voiceDetail(e) : "";
    return `<li data-action="${h(e.action)}"><time>${h(formatTime(e.at, { seconds: true }))}</time><span><strong>${h(label)}</strong> — ${h(who)}${extra ? " · " + h(extra) : ""}</span></li>`;
  }
  const details = SHOWN_DETAILS.filter((k) => d[k])
    .map((k) => {
      if (k === "result") return t("result_" + d[k]);
      if (k === "party") return partyName(d[k]);
      if (k === "target") return codeLabel("targets", d[k]);
      if (k === "outcome") return codeLabel("outcomes", d[k]);
      return d[k];
    })
    .join(" · ");
  return `<li><time>${h(formatTime(e.at, { seconds: true }))}</time><span><strong>${h(label)}</strong> — ${h(who)}${details ? " · " + h(details) : ""}</span></li>`;
}

function renderDetail() {
  // The card is drawn again on every live change: the message being typed keeps its focus.
  const typing = document.activeElement && document.activeElement.id === "msg-text" ? document.activeElement : null;
  const caret = typing ? [typing.selectionStart, typing.selectionEnd] : null;
  drawDetail();
  if (typing) {
    const box = document.getElementById("msg-text");
    if (box) {
      box.focus({ preventScroll: true });
      box.setSelectionRange(...caret);
    }
  }
}

function drawDetail() {
  const a = state.detail;
  if (!a) {
    els.detail.innerHTML = `<p class="placeholder">${h(t("select_alarm"))}</p>`;
    return;
  }
  const claim = claimText(a);
  const handling = mayHandle(a);
  const acceptable = canAct && !a.claimed_by && a.state !== "resolved" && !state.gone;
  const why = !canAct ? t("readonly_role") : !handling ? t("mine_only") : "";
  const actionButton = (id, key, label, cls = "") =>
    `<button type="button" class="btn ${cls}" id="${id}" ${handling && !state.gone ? "" : `disabled title="${h(why)}"`}>${h(label)} <kbd>${key}</kbd></button>`;
  const notice = state.notice ? `<div class="notice ${state.notice.kind}" role="status" id="detail-notice">${h(state.notice.text)}</div>` : "";
  const history = (a.history || []).slice().reverse().map(historyLine).join("");
  dial.sync(a);
  const canDial = dialling(a);
  const unitCall = state.tablet && state.tablet.alarm === a.id ? state.tablet.unit_call : null;
  els.detail.innerHTML = `
    <article data-alarm="${h(a.id)}" data-state="${h(a.state)}">
      <div class="alarm-top" id="alarm-top">
      <header class="alarm-head">
        <div>
          <h1><span class="badge p${a.priority}">${h(t("p" + a.priority))}</span><span id="detail-rule">${h(a.rule_label || a.rule)}</span><span class="muted">· ${h(state.card ? state.card.resident.name : residentName(a))}</span></h1>
          <p class="explain"><strong>${h(t("explanation"))}:</strong> <span id="detail-explanation">${h(a.explanation_text || "")}</span></p>
          ${unitEventLine(a)}
          <p class="meta">${h(t("raised_at"))} ${h(formatTime(a.raised_at, { seconds: true }))} · ${h(t("state"))}: <span id="detail-state">${h(a.state_label || a.state)}</span>${a.outcome_label ? " → " + h(a.outcome_label) : ""}</p>
        </div>
        <div>
          <div class="bigage" id="detail-age">${h(formatAge(a._raisedLocal ? ageSeconds(a) : a.age_s || 0))}</div>
          <div class="claimline claim ${claim.cls}" id="detail-claim">${h(claim.text)}</div>
        </div>
      </header>
      <div class="actions" role="toolbar" aria-label="${h(t("shortcuts"))}">
        ${a.claimed_by ? "" : `<button type="button" class="btn btn-primary" id="act-accept" ${acceptable ? "" : `disabled title="${h(why || t("readonly_role"))}"`}>${h(t("accept"))} <kbd>A</kbd></button>`}
        ${actionButton("act-voice", "V", t("speak_home"), "btn-primary")}
        ${actionButton("act-call", "C", t("call_resident"))}
        ${actionButton("act-note", "N", t("note"))}
        ${actionButton("act-escalate", "E", t("escalate"), "btn-danger")}
        ${actionButton("act-resolve", "R", t("resolve"), "btn-ok")}
      </div>
      ${notice}
      </div>
      ${renderVoice(voice, "alarm:" + a.id, state.card, handling, state.tablet && state.tablet.alarm === a.id ? state.tablet : null)}
      ${renderUnitCall(unitCall, voice.active(), Boolean(a.claimed_by))}
      ${renderDial(dial, a.id)}
      ${renderListen(listen, a.id, othersCall(a), canListen && !voice.active())}
      ${state.card ? renderCard(state.card, a, state.recent, { canAct: handling, canDial: handling && canDial.phones, canDialUnit: handling && canDial.carephone, keySafeCode: state.keySafe && state.keySafe.alarm === a.id ? state.keySafe.code : null, aside: renderProtocol(a, handling), canMessage: canAct, messageDraft: state.messageDraft && state.messageDraft.rid === state.cardFor ? state.messageDraft : null }) : `${renderProtocol(a, handling)}<p class="muted">${h(t("loading_card"))}</p>`}
      <section class="card" style="margin-top:12px">
        <h2>${h(t("history"))}</h2>
        <ol class="timeline" id="history">${history}</ol>
      </section>
    </article>`;
  bindDetail();
  tickAges();
}

// The operator protocols by alarm kind (steps in the reader's language), read once.
let protocolTable = null;
api("/api/console/protocols")
  .then((table) => { protocolTable = table; if (state.detail) renderDetail(); })
  .catch(() => {});

function renderProtocol(a, handling) {
  // The alarm kind's steps; a ticked one is a note in the history (who and when).
  if (!protocolTable) return "";
  const table = protocolTable.protocols;
  const steps = table[protocolTable.same_as[a.rule] || a.rule] || table.default;
  const done = new Map();
  for (const e of a.history || []) if (e.detail && e.detail.protocol_step) done.set(e.detail.protocol_step, e);
  const items = steps
    .map((step) => {
      const e = done.get(step.key);
      const who = e ? ` <span class="small muted">${h(formatTime(e.at))}${e.actor && e.actor.name ? " · " + h(e.actor.name) : ""}</span>` : "";
      const attrs = e ? "checked disabled" : handling ? "" : "disabled";
      return `<li${e ? ' class="done"' : ""}><label><input type="checkbox" data-step="${h(step.key)}" ${attrs}> <span>${h(step.text)}</span></label>${who}</li>`;
    })
    .join("");
  const count = steps.filter((step) => done.has(step.key)).length;
  return `<section class="card protocol" id="protocol"><h2>${h(t("protocol"))} <span class="small muted">${count}/${steps.length}</span></h2><ol class="protocol-steps">${items}</ol></section>`;
}

function bindDetail() {
  const on = (id, fn) => {
    const el = document.getElementById(id);
    if (el) el.addEventListener("click", fn);
  };
  on("act-accept", doAccept);
  on("act-call", () => openAttempt("resident"));
  on("act-voice", startVoice);
  const speak = document.getElementById("act-voice");
  if (speak && (voice.active() || dial.active())) speak.disabled = true; // one call at a time
  on("dial-mute", () => dial.toggleMute());
  on("dial-hangup", () => dial.hangup());
  on("dial-close", () => {
    dial.reset();
    renderDetail();
  });
  for (const button of els.detail.querySelectorAll("[data-dial]")) {
    if (voice.active() || dial.active()) button.disabled = true;
    button.addEventListener("click", () => startDial(button.dataset.dial));
  }
  on("voice-mute", () => voice.toggleMute());
  on("voice-louder", () => voice.louder());
  on("voice-hangup", () => voice.hangup());
  on("listen-start", toggleListen);
  on("listen-stop", toggleListen);
  for (const button of els.detail.querySelectorAll("[data-fallback]")) {
    const next = button.dataset.fallback;
    button.addEventListener("click", () => (next === "escalate" ? openEscalate() : openAttempt(next)));
  }
  on("act-note", openNote);
  on("act-escalate", openEscalate);
  on("act-resolve", openResolve);
  on("keysafe-show", showKeySafe);
  for (const box of els.detail.querySelectorAll("[data-step]")) {
    box.addEventListener("change", () => {
      box.disabled = true;
      const id = state.selected;
      run(() => api(`/api/alarms/${encodeURIComponent(id)}/protocol-steps`, { method: "POST", body: { step: box.dataset.step } })).catch(() => {});
    });
  }
  const healthForm = document.getElementById("health-form");
  if (healthForm) healthForm.addEventListener("submit", saveHealth);
  const rulesForm = document.getElementById("rules-form");
  if (rulesForm) rulesForm.addEventListener("submit", saveRules);
  const messageForm = document.getElementById("msg-form");
  if (messageForm) {
    messageForm.addEventListener("input", () => keepDraft(messageForm));
    messageForm.addEventListener("submit", sendMessage);
  }
  for (const button of els.detail.querySelectorAll("[data-call]")) {
    button.addEventListener("click", () => openAttempt(button.dataset.call));
  }
}

// ---------------------------------------------------------------- actions

function fail(err) {
  if (err.code === "already_claimed") {
    const by = (err.body.claimed_by && (err.body.claimed_by.name || err.body.claimed_by.id)) || "?";
    state.notice = { kind: "error", text: t("already_taken", { name: by }) };
  } else if (err.code === "not_claimed") {
    state.notice = { kind: "error", text: t("mine_only") };
  } else {
    state.notice = { kind: "error", text: t("error_generic", { message: err.message }) };
  }
  renderDetail();
}

async function run(action) {
  try {
    const result = await action();
    await refreshDetail();
    return result;
  } catch (err) {
    fail(err);
    await refreshDetail();
    throw err;
  }
}

async function doAccept() {
  const a = state.detail;
  if (!a || !canAct || a.claimed_by) return;
  state.notice = null;
  // The home's carephone rings on this alarm: accepting answers it (ADR 0160), and the
  // operator speaks with the home at once (the alarm is theirs now, whether or not the
  // page has re-read it yet).
  const unitCall = state.tablet && state.tablet.alarm === a.id ? state.tablet.unit_call : null;
  const accepted = await run(() => alarmsApi.accept(a.id)).then(() => true, () => false);
  if (accepted && unitCall && state.selected === a.id && !voice.active() && !dial.active()) {
    voice.start({ alarm: a.id });
  }
}

function startDial(party) {
  const a = current();
  if (!a || voice.active() || dial.active()) return;
  state.notice = null;
  let name = partyName(party);
  if (party === "resident" && state.card) name = state.card.resident.name;
  dial.start(a.id, party, name);
}

function startVoice() {
  const a = current();
  if (!a || voice.active() || dial.active()) return;
  state.notice = null;
  voice.start({ alarm: a.id });
}

/** The call another member of staff has going on about ``alarm`` (what one may listen to). */
function othersCall(alarm) {
  const active = state.tablet && state.tablet.alarm === alarm.id ? state.tablet.active : null;
  if (!active || active.caller === `u:${me.id}` || voice.active()) return null;
  return active;
}

function toggleListen() {
  const a = state.detail;
  if (!canListen || !a) return;
  if (listen.active()) listen.stop();
  else listen.start(a.id);
}

function current() {
  const a = state.detail;
  return a && mayHandle(a) && !state.gone ? a : null;
}

function dialogError(dialog, message) {
  const el = dialog.querySelector("[data-error]");
  el.textContent = message || "";
  el.hidden = !message;
}

const attemptDialog = document.getElementById("dlg-attempt");
let attemptParty = null;

function openAttempt(party) {
  const a = current();
  if (!a) return;
  attemptParty = String(party);
  let name = t("party_resident");
  let phone = "";
  if (state.card) {
    if (attemptParty === "resident") {
      name = state.card.resident.name;
      phone = state.card.resident.phone || "";
    } else {
      const c = state.card.contacts.find((x) => String(x.id) === attemptParty);
      if (c) {
        name = c.name;
        phone = c.phone;
      }
    }
  }
  document.getElementById("dlg-attempt-title").textContent = t("attempt_title", { name });
  document.getElementById("dlg-attempt-phone").textContent = formatPhone(phone);
  document.getElementById("dlg-attempt-notes").value = "";
  dialogError(attemptDialog, "");
  attemptDialog.showModal();
}

async function recordAttempt(result) {
  const a = current();
  if (!a || !attemptParty) return;
  const notes = document.getElementById("dlg-attempt-notes").value.trim();
  try {
    await alarmsApi.contactAttempt(a.id, attemptParty, result, notes);
    attemptDialog.close();
    state.notice = null;
    await refreshDetail();
  } catch (err) {
    dialogError(attemptDialog, t("error_generic", { message: err.message }));
  }
}

for (const button of attemptDialog.querySelectorAll("[data-result]")) {
  button.addEventListener("click", () => recordAttempt(button.dataset.result));
}
attemptDialog.addEventListener("keydown", (event) => {
  if (event.target.tagName === "TEXTAREA") return;
  const index = Number(event.key) - 1;
  const buttons = attemptDialog.querySelectorAll("[data-result]");
  if (index >= 0 && index < buttons.length) {
    event.preventDefault();
    buttons[index].click();
  }
});

const noteDialog = document.getElementById("dlg-note");
function openNote() {
  if (!current()) return;
  document.getElementById("dlg-note-text").value = "";
  dialogError(noteDialog, "");
  noteDialog.showModal();
}
noteDialog.querySelector("[data-confirm]").addEventListener("click", async () => {
  const a = current();
  const text = document.getElementById("dlg-note-text").value.trim();
  if (!a || !text) return;
  try {
    await alarmsApi.addNote(a.id, text);
    noteDialog.close();
    await refreshDetail();
  } catch (err) {
    dialogError(noteDialog, t("error_generic", { message: err.message }));
  }
});

async function codes() {
  if (!state.codes) state.codes = await alarmsApi.getCodes();
  return state.codes;
}

const escalateDialog = document.getElementById("dlg-escalate");
async function openEscalate() {
  const a = current();
  if (!a) return;
  const all = await codes().catch(() => ({ targets: [] }));
  const box = document.getElementById("dlg-escalate-targets");
  box.innerHTML = all.targets
    .map((x, i) => `<label><input type="radio" name="target" value="${h(x.code)}"${i === 0 ? " checked" : ""}> ${h(x.label)}</label>`)
    .join("");
  document.getElementById("dlg-escalate-detail").value = "";
  dialogError(escalateDialog, "");
  showPreview();
  escalateDialog.showModal();
}

function chosenTarget() {
  const checked = escalateDialog.querySelector("input[name=target]:checked");
  return checked ? checked.value : null;
}

async function showPreview() {
  const a = current();
  const preview = document.getElementById("dlg-escalate-preview");
  const confirm = escalateDialog.querySelector("[data-confirm]");
  const is112 = chosenTarget() === "emergency_112";
  preview.hidden = !is112;
  confirm.textContent = is112 ? t("send_112") : t("escalate");
  if (!is112 || !a) return;
  const pre = document.getElementById("dlg-escalate-payload");
  pre.textContent = t("loading");
  try {
    const payload = await alarmsApi.emergencyPayload(a.id);
    pre.textContent = JSON.stringify(payload, null, 2);
  } catch (err) {
    pre.textContent = t("error_generic", { message: err.message });
  }
}
escalateDialog.addEventListener("change", (event) => {
  if (event.target.name === "target") showPreview();
});
escalateDialog.querySelector("[data-confirm]").addEventListener("click", async () => {
  const a = current();
  const target = chosenTarget();
  if (!a || !target) return;
  const detail = document.getElementById("dlg-escalate-detail").value.trim();
  try {
    const result = await alarmsApi.escalate(a.id, target, detail);
    escalateDialog.close();
    if (target === "emergency_112" && result && result.emergency) {
      state.notice = { kind: "ok", text: t("sent_112", { ref: result.emergency.reference || "—" }) };
    } else state.notice = null;
    await refreshDetail();
  } catch (err) {
    if (target === "emergency_112") {
      // Never silent: the failure stays on screen until the operator moves on.
      escalateDialog.close();
      state.notice = { kind: "error", text: t("failed_112", { message: err.message }) };
      await refreshDetail();
    } else dialogError(escalateDialog, t("error_generic", { message: err.message }));
  }
});

const resolveDialog = document.getElementById("dlg-resolve");
async function openResolve() {
  const a = current();
  if (!a) return;
  const all = await codes().catch(() => ({ outcomes: [] }));
  const select = document.getElementById("dlg-resolve-outcome");
  select.innerHTML = `<option value="">${h(t("choose"))}</option>` + all.outcomes.map((o) => `<option value="${h(o.code)}">${h(o.label)}</option>`).join("");
  document.getElementById("dlg-resolve-notes").value = "";
  dialogError(resolveDialog, "");
  resolveDialog.showModal();
  select.focus();
}
resolveDialog.querySelector("[data-confirm]").addEventListener("click", async () => {
  const a = current();
  const outcome = document.getElementById("dlg-resolve-outcome").value;
  if (!a) return;
  if (!outcome) {
    dialogError(resolveDialog, t("outcome") + ": " + t("choose"));
    return;
  }
  try {
    await alarmsApi.resolve(a.id, outcome, document.getElementById("dlg-resolve-notes").value.trim());
    resolveDialog.close();
    await refreshDetail();
  } catch (err) {
    dialogError(resolveDialog, t("error_generic", { message: err.message }));
  }
});

async function saveHealth(event) {
  // A supervisor or social worker corrects the health record from the card (audited).
  event.preventDefault();
  const form = event.target;
  const rid = state.cardFor;
  try {
    const health = await api(`/api/console/residents/${encodeURIComponent(rid)}/health`, { method: "PUT", body: healthBody(form) });
    if (state.cardFor !== rid) return;
    state.card = { ...state.card, health };
    cardLoads.delete(rid);
    state.notice = { kind: "ok", text: t("h_saved") };
    renderDetail();
  } catch (err) {
    const box = document.getElementById("health-errors");
    box.innerHTML = `<li>${h(err.message)}</li>`;
    box.hidden = false;
  }
}

function keepDraft(form) {
  // What is typed survives the card's redraws (live alarm changes redraw it).
  const value = form.elements.text.value;
  state.messageDraft = { rid: state.cardFor, text: value, speak: form.elements.speak.checked, confirm: form.elements.confirm.checked };
  document.getElementById("msg-count").textContent = t("msg_count", { n: messageWords(value).length, max: MESSAGE_MAX });
  const box = document.getElementById("msg-error");
  if (!box.hidden && !messageProblem(value)) {
    box.hidden = true;
    form.elements.text.removeAttribute("aria-invalid");
  }
}

function messageError(form, words) {
  const box = document.getElementById("msg-error");
  box.textContent = words;
  box.hidden = false;
  form.elements.text.setAttribute("aria-invalid", "true");
  form.elements.text.focus();
}

const MESSAGE_ERRORS = { text_empty: "msg_empty", text_too_long: "msg_too_long" };

async function sendMessage(event) {
  // An operator or supervisor writes to the resident's tablet (POST /api/console/messages,
  // audited); the list below follows what becomes of it.
  event.preventDefault();
  const form = event.target;
  const rid = state.cardFor;
  const problem = messageProblem(form.elements.text.value);
  if (problem) {
    messageError(form, problem);
    return;
  }
  const body = {
    resident_ids: [Number(rid)],
    text: messageWords(form.elements.text.value),
    speak: form.elements.speak.checked,
    confirm: form.elements.confirm.checked,
  };
  const button = form.querySelector("#msg-send");
  button.disabled = true;
  try {
    const result = await api("/api/console/messages", { method: "POST", body });
    if (state.cardFor !== rid) return;
    if (!result.sent.includes(Number(rid))) {
      messageError(form, t("msg_no_tablet"));
      return;
    }
    state.messageDraft = null;
    state.notice = { kind: "ok", text: t("msg_sent") };
    renderDetail();
    await followDeliveries(true);
  } catch (err) {
    const key = MESSAGE_ERRORS[err.code];
    messageError(form, key ? t(key, { n: body.text.length, max: MESSAGE_MAX }) : t("error_generic", { message: err.message }));
  } finally {
    button.disabled = false;
  }
}

async function saveRules(event) {
  // A supervisor changes the resident's alarm rules from the card (a new care-plan
  // version, audited, applied to the running rules at once).
  event.preventDefault();
  const form = event.target;
  const box = document.getElementById("rules-errors");
  const rid = state.cardFor;
  const changes = rulesChanges(form, state.card.rules);
  if (!Object.keys(changes).length) { document.getElementById("rules-edit").open = false; return; }
  try {
    const rules = await api(`/api/service/residents/${encodeURIComponent(rid)}/rules?lang=${lang}`, { method: "POST", body: { rules: changes } });
    if (state.cardFor !== rid) return;
    state.card = { ...state.card, rules };  // adherence follows on the next load
    cardLoads.delete(rid);
    state.notice = { kind: "ok", text: t("rules_saved", { version: rules.version }) };
    renderDetail();
  } catch (err) {
    const errors = (err.body && err.body.errors) || [{ message: err.message }];
    box.innerHTML = errors.map((e) => `<li>${h(e.message)}</li>`).join("");
    box.hidden = false;
    for (const e of errors) {
      const input = e.field && form.elements[e.field.replace(/^rules\./, "")];
      if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
    }
  }
}

/** Scroll the detail pane just enough that ``el`` is visible below the fixed alarm header
 * (the header and the actions never move; the card slides under them). */
function showBelowTop(el) {
  if (!el) return;
  const pane = els.detail.getBoundingClientRect();
  const top = document.getElementById("alarm-top");
  const ceiling = (top ? top.getBoundingClientRect().bottom : pane.top) + 8;
  const box = el.getBoundingClientRect();
  if (box.top < ceiling) els.detail.scrollTop -= ceiling - box.top;
  else if (box.bottom > pane.bottom - 8) els.detail.scrollTop += box.bottom - pane.bottom + 8;
}

async function showKeySafe() {
  const a = current();
  if (!a || !state.card) return;
  try {
    const result = await api(`/api/console/residents/${encodeURIComponent(a.resident_id)}/key-safe`, {
      method: "POST",
      body: { alarm_id: a.id },
    });
    // Kept for this alarm, so the live updates that re-render the card keep showing it.
    state.keySafe = { alarm: a.id, code: result.code };
    renderDetail();
    showBelowTop(document.getElementById("keysafe-value"));
    // The audit log has the reveal; the alarm's history says it too.
    await alarmsApi.addNote(a.id, t("key_safe_viewed"));
    await refreshDetail();
    showBelowTop(document.getElementById("keysafe-value"));
  } catch (err) {
    fail(err);
  }
}

// ---------------------------------------------------------------- keyboard

function move(step) {
  const list = ordered();
  if (!list.length) return;
  let index = list.findIndex((a) => a.id === state.selected);
  index = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
  select(list[index].id);
  const item = els.queue.querySelector(`[data-id="${CSS.escape(list[index].id)}"]`);
  if (item) item.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  const tag = event.target && event.target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
  const actions = {
    j: () => move(1),
    ArrowDown: () => move(1),
    k: () => move(-1),
    ArrowUp: () => move(-1),
    a: doAccept,
    c: () => openAttempt("resident"),
    v: startVoice,
    m: () => (dial.active() ? dial.toggleMute() : voice.toggleMute()),
    l: () => voice.louder(),
    h: () => (dial.active() ? dial.hangup() : voice.hangup()),
    d: () => {
      if (state.detail && dialling(state.detail).carephone) startDial("carephone");
    },
    i: toggleListen,
    n: openNote,
    e: openEscalate,
    r: openResolve,
    s: showKeySafe,
  };
  const action = actions[event.key] || actions[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
});

els.queue.addEventListener("click", (event) => {
  const item = event.target.closest(".qitem");
  if (item) select(item.dataset.id);
});

// ---------------------------------------------------------------- start

bindSoundToggle(document.getElementById("sound-toggle"));
if (canAct) voice.connect(); // ready before the first "Speak with the home"
codes().catch(() => {});
startHeartbeat();
setInterval(tickAges, 1000);

// The card's messages and reminders follow the tablet's answers (received, shown, put off,
// acknowledged: ADR 0163). They may reach any hub worker, so the card reads the list again
// every few seconds while it is open and redraws only that section.
const DELIVERIES_EVERY_MS = 4000;
let deliveriesBusy = false;
async function followDeliveries(now = false) {
  const rid = state.cardFor;
  if (!rid || !state.card || deliveriesBusy || (document.hidden && !now)) return;
  deliveriesBusy = true;
  try {
    const { messages } = await api(`/api/console/residents/${encodeURIComponent(rid)}/messages`);
    if (state.cardFor !== rid || !state.card) return;
    if (JSON.stringify(messages) === JSON.stringify(state.card.deliveries)) return;
    state.card = { ...state.card, deliveries: messages };
    cardLoads.delete(rid); // a later load must not bring the old list back
    // Only the list: the message form above it keeps what is being typed.
    const list = document.getElementById("delivery-list");
    if (list) list.outerHTML = renderDeliveryList(messages);
  } catch {
    // the next pass tries again; the card keeps what it showed
  } finally {
    deliveriesBusy = false;
  }
}
setInterval(() => followDeliveries(), DELIVERIES_EVERY_MS);
window.__taLive = new LiveSocket(alarmsApi.LIVE_PATH, {
  // No refetch on open: the socket's first message is a snapshot of the whole queue, in
  // order with the events after it. A separate GET raced them: its answer, read before a
  // panic was stored, could arrive after that panic's event and wipe it from the queue.
  onMessage: onLive,
  onState: (s) => {
    showConnection(els.conn, s);
    if (s === "open") banner(null);
    else if (!state.firstLoad) banner(t("conn_reconnecting"), "stale");
  },
});
