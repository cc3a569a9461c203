// Click-to-call from the alarm's card (ADR 0143): the hub dials the resident's phone, the
// carephone or a contact (POST /api/console/alarms/{id}/dial); this page joins the call's
// audio with a WebRTC leg the hub answers (POST /api/console/dials/{call}/media). What
// happens to the call (answered, busy, "on my way", ended) arrives in the alarm's history,
// live, so this panel reads its status from there.
import { api, t, gathered, escapeHtml as h } from "/static/web/ta.js";
import { analyse, dominantIn } from "./voice.js";

const LIVE = ["calling", "answered"];

export class DialCall {
  constructor(onChange) {
    this.onChange = onChange;
    this.audio = document.createElement("audio"); // outside the re-rendered card
    this.audio.autoplay = true;
    this.audio.id = "dial-audio";
    document.body.appendChild(this.audio);
    this.reset();
    setInterval(() => this.tick(), 1000);
  }

  reset() {
    this.status = "idle"; // idle | starting | calling | answered | ended | failed
    this.callId = null;
    this.alarmId = null;
    this.party = null;
    this.name = "";
    this.outcome = null;
    this.onMyWay = false;
    this.error = "";
    this.startedAt = null;
    this.answeredAt = null;
    this.endedAt = null;
    this.muted = false;
    this.pc = null;
    this.local = null;
    this.context = null;
    this.analyser = null;
  }

  active() {
    return this.status === "starting" || LIVE.includes(this.status);
  }

  isFor(alarmId) {
    return this.alarmId === alarmId && this.status !== "idle";
  }

  /** Dial ``party`` ("resident", "carephone" or a contact id) about ``alarmId``. */
  async start(alarmId, party, name) {
    if (this.active()) return;
    this.teardown();
    this.reset();
    Object.assign(this, { alarmId, party: String(party), name, status: "starting", startedAt: Date.now() });
    this.changed();
    try {
      // The centre's STUN/TURN servers (coturn) for this leg, as for "speak with the home".
      const [config, placed] = await Promise.all([
        api("/api/family/calls/config").catch(() => ({ ice_servers: [] })),
        api(`/api/console/alarms/${encodeURIComponent(alarmId)}/dial`, {
          method: "POST",
          body: { party: String(party) },
        }),
      ]);
      this.iceServers = config.ice_servers || [];
      this.callId = placed.call_id;
      this.name = placed.name || name;
      if (this.status === "starting") this.status = "calling";
      this.changed();
      await this.connectAudio();
    } catch (err) {
      if (this.callId) this.hangup();
      this.teardown();
      this.status = "failed";
      const words = { no_microphone: "voice_fail_no_microphone",
                      call_in_progress: "voice_fail_call_in_progress",
                      media_failed: "voice_fail_media_failed",
                      carephone_worker_unreachable: "voice_fail_carephone_worker_unreachable" };
      this.error = words[err.code] ? t(words[err.code]) : err.message;
      this.endedAt = Date.now();
      this.changed();
    }
  }

  async connectAudio() {
    try {
      this.local = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      throw Object.assign(new Error("no microphone"), { code: "no_microphone" });
    }
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    this.pc = pc;
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.audio.srcObject = stream;
      [this.context, this.analyser] = analyse(stream);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await api(`/api/console/dials/${encodeURIComponent(this.callId)}/media`, {
      method: "POST",
      body: { sdp: pc.localDescription.sdp },
    });
    if (this.pc === pc) await pc.setRemoteDescription(answer.sdp);
  }

  /** The call's outcome, "on my way" and its end, from the alarm's history. */
  sync(alarm) {
    if (!alarm || alarm.id !== this.alarmId || !this.callId) return;
    for (const e of alarm.history || []) {
      const d = e.detail || {};
      if (d.call !== this.callId) continue;
      if (e.action === "dialled" && !this.outcome) {
        this.outcome = d.outcome;
        if (d.outcome === "answered") {
          if (this.status === "calling" || this.status === "starting") {
            this.status = "answered";
            this.answeredAt = Date.now(); // our clock, as the timer's (the hub's may differ)
          }
        } else this.finish(d.outcome === "cancelled" ? "ended" : "failed");
      } else if (e.action === "on_my_way") this.onMyWay = true;
      else if (e.action === "dial_ended" && LIVE.includes(this.status)) this.finish("ended");
    }
  }

  finish(status) {
    this.teardown();
    this.status = status;
    this.endedAt = this.endedAt || Date.now();
  }

  toggleMute() {
    if (!this.local) return;
    this.muted = !this.muted;
    for (const track of this.local.getAudioTracks()) track.enabled = !this.muted;
    this.changed();
  }

  async hangup() {
    const id = this.callId;
    if (id && this.active()) {
      this.finish("ended");
      this.changed();
      await api(`/api/console/dials/${encodeURIComponent(id)}/hangup`, { method: "POST" }).catch(() => {});
    }
  }

  dominant() {
    return dominantIn(this.analyser, this.context);
  }

  teardown() {
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
    this.audio.srcObject = null;
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.analyser = null;
  }

  changed() {
    this.onChange();
  }

  tick() {
    const el = document.getElementById("dial-timer");
    if (el) el.textContent = this.elapsed();
  }

  elapsed() {
    const from = this.answeredAt || this.startedAt;
    if (!from) return "";
    const until = this.active() ? Date.now() : this.endedAt || Date.now();
    const seconds = Math.max(0, Math.round((until - from) / 1000));
    return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

function statusText(call) {
  if (call.status === "failed") {
    if (call.outcome) return t("dial_outcome_" + call.outcome, { name: call.name });
    return t("error_generic", { message: call.error || "" });
  }
  if (call.status === "ended") return t(call.outcome === "cancelled" ? "dial_outcome_cancelled" : "dial_ended", { name: call.name });
  return t("dial_" + (call.status === "starting" ? "calling" : call.status), { name: call.name });
}

/** The panel of the operator's call out about ``alarmId`` ("" when there is none). */
export function renderDial(call, alarmId) {
  if (!call.isFor(alarmId)) return "";
  const live = call.active();
  const cls = call.status === "answered" ? "ok" : call.status === "failed" ? "danger" : live ? "warn" : "info";
  const buttons = live
    ? `<button type="button" class="btn btn-small" id="dial-mute" aria-pressed="${call.muted}" ${call.local ? "" : "disabled"}>${h(call.muted ? t("voice_unmute") : t("voice_mute"))} <kbd>M</kbd></button>
       <button type="button" class="btn btn-small btn-danger" id="dial-hangup">${h(t("voice_hangup"))} <kbd>H</kbd></button>`
    : `<button type="button" class="btn btn-small btn-quiet" id="dial-close">${h(t("close"))}</button>`;
  const onMyWay = call.onMyWay ? `<span class="badge ok" id="dial-onmyway">${h(t("dial_on_my_way", { name: call.name }))}</span>` : "";
  return `<section class="card voice dial" id="dial-panel" data-status="${h(call.status)}" data-outcome="${h(call.outcome || "")}">
    <div class="row" style="gap:10px;align-items:center">
      <span class="badge ${cls}" id="dial-status">${h(statusText(call))}</span>
      <span class="bigtimer" id="dial-timer">${h(call.elapsed())}</span>
      ${buttons}
      ${onMyWay}
    </div>
  </section>`;
}

/** A history line's extra text for call-out entries. */
export function dialDetail(entry, partyName) {
  const d = entry.detail || {};
  const parts = [];
  if (d.party) parts.push(partyName(d.party));
  if (entry.action === "dialled") parts.push(t("dial_result_" + d.outcome));
  if (entry.action === "dial_ended") {
    parts.push(t("voice_duration", { s: d.duration_s || 0 }));
    if (d.ended_by) parts.push(t("voice_ended_by", { name: d.ended_by }));
  }
  if (entry.action === "unit_calling") {
    if (d.device) parts.push(d.device);
    // Ended by the centre (ADR 0160: the operator hung up, or the alarm was resolved; ADR
    // 0168: the operator's audio link failed), with what the unit answered its BYE; else the
    // unit hung up.
    if (d.status === "ended") parts.push(t(d.by ? "unit_call_ended_" + d.by : "unit_call_ended"));
    if (d.status === "ended" && d.bye && d.bye !== "ok") parts.push(t("unit_call_bye_" + d.bye));
    if (d.status === "cancelled") parts.push(t("unit_call_cancelled"));
    // Refused while it rang, its alarm resolved (ADR 0168).
    if (d.status === "declined") parts.push(t("unit_call_declined_" + (d.by || "resolved")));
    if (d.status === "answered") parts.push(t("unit_call_answered_" + (d.by || "operator")));
  }
  return parts.join(" · ");
}

/** The home's carephone calling the centre (ADR 0121): ringing until the operator takes it
 * (accepting the alarm or speaking with the home), or on hold once the hub answered it with
 * its hold message (ADR 0160). ``claimed``: the alarm is held already (only V answers). */
export function renderUnitCall(unitCall, voiceActive, claimed) {
  if (!unitCall || voiceActive) return "";
  const ringing = unitCall.status !== "answered";
  const badge = ringing ? t("unit_calling") : t("unit_call_on_hold");
  const how = claimed
    ? `${h(t("unit_calling_answer"))} <kbd>V</kbd>`
    : `${h(t(ringing ? "unit_calling_accept" : "unit_call_on_hold_accept"))} <kbd>A</kbd>`;
  return `<section class="card voice unit-call" id="unit-call" data-status="${ringing ? "ringing" : "on_hold"}">
    <div class="row" style="gap:10px;align-items:center">
      <span class="badge warn">${h(badge)}</span>
      <span class="muted small">${how}</span>
    </div>
  </section>`;
}
