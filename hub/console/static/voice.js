// "Speak with the home": the operator's WebRTC audio call to the home's tablet.
// The hub starts the call (POST /api/console/alarms/{id}/voice) and relays the signalling
// over /api/family/ws, like every call; this module owns the browser's side and what the
// card shows about it (status, timer, mute, the resident's volume, hang up, next steps).
import { api, t, LiveSocket, gathered, escapeHtml as h, formatTime, formatPhone } from "/static/web/ta.js";
import { ForwardLegs } from "./listen.js";

const FINAL = ["declined", "missed", "ended", "failed"];
const MAX_VOLUME = 4; // the tablet's steps are 0..4

export class VoiceCall {
  constructor(onChange) {
    this.onChange = onChange;
    this.reset();
    this.socket = null;
    this.audio = document.createElement("audio"); // outside the re-rendered card
    this.audio.autoplay = true;
    this.audio.id = "voice-audio";
    document.body.appendChild(this.audio);
    this.analyser = null;
    this.legs = new ForwardLegs(this); // supervisors listening in to our call (ADR 0100)
    this.listenIn = null; // a supervisor's page: its ListenIn, told the listen.* frames too
    setInterval(() => this.tick(), 1000);
  }

  reset() {
    // idle | starting | ringing | connecting | announcing | connected | ended | failed
    this.status = "idle";
    this.callId = null;
    this.key = null; // "alarm:<id>" or "resident:<id>": what the call is about
    this.alarmId = null;
    this.failure = null;
    this.heldBy = null;
    this.startedAt = null;
    this.connectedAt = null;
    this.endedAt = null;
    this.muted = false;
    this.volume = null;
    this.announcing = false; // the tablet is still saying "The centre is speaking with you"
    this.pc = null;
    this.remoteStream = null;
    this.local = null;
    this.early = [];
  }

  /** Open the signalling socket (once; it reconnects by itself). */
  connect() {
    if (this.socket) return;
    this.socket = new LiveSocket("/api/family/ws", {
      onMessage: (msg) => this.onMessage(msg),
      onOpen: () => this.resync(),
    });
  }

  send(frame) {
    const ws = this.socket && this.socket.socket;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  active() {
    return ["starting", "ringing", "connecting", "announcing", "connected"].includes(this.status);
  }

  /** Whether the panel for ``key`` ("alarm:<id>" / "resident:<id>") shows this call. */
  isFor(key) {
    return this.key === key && this.status !== "idle";
  }

  /** Speak about an alarm (``{alarm: id}``) or make a wellbeing call (``{resident: id}``). */
  async start(target) {
    if (this.active()) return;
    this.connect();
    this.teardown();
    this.reset();
    this.alarmId = target.alarm || null;
    this.key = target.alarm ? `alarm:${target.alarm}` : `resident:${target.resident}`;
    const url = target.alarm
      ? `/api/console/alarms/${encodeURIComponent(target.alarm)}/voice`
      : `/api/console/residents/${encodeURIComponent(target.resident)}/voice`;
    this.status = "starting";
    this.startedAt = Date.now();
    this.changed();
    try {
      const [config, started] = await Promise.all([
        api("/api/family/calls/config").catch(() => ({ ice_servers: [] })),
        this.waitForSocket().then(() => api(url, { method: "POST" })),
      ]);
      this.iceServers = config.ice_servers || [];
      this.callId = started.call_id;
      if (this.status === "starting") this.status = "ringing";
      const early = this.early;
      this.early = [];
      for (const msg of early) await this.onMessage(msg);
    } catch (err) {
      const known = ["home_busy", "tablet_offline", "carephone_worker_unreachable"];
      this.fail(known.includes(err.code) ? err.code : "error", err);
    }
    this.changed();
  }

  async waitForSocket(ms = 10000) {
    const until = Date.now() + ms;
    while (!(this.socket.socket && this.socket.socket.readyState === WebSocket.OPEN)) {
      if (Date.now() > until) throw Object.assign(new Error(t("conn_reconnecting")), { code: "error" });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  fail(reason, err) {
    this.teardown();
    this.status = "failed";
    this.failure = reason;
    this.endedAt = Date.now();
    if (reason === "home_busy" && err && err.body && err.body.held_by) this.heldBy = err.body.held_by.name;
    if (reason === "error" && err) this.errorText = err.message;
  }

  async onMessage(msg) {
    if (typeof msg.type === "string" && msg.type.startsWith("listen.")) {
      await this.legs.onMessage(msg);
      if (this.listenIn) await this.listenIn.onMessage(msg);
      return;
    }
    if (this.status === "starting" && this.callId === null) {
      // The tablet may answer before the POST's reply tells us the call's id.
      if (msg.type === "call.state" || msg.type === "call.signal") this.early.push(msg);
      return;
    }
    if (msg.type === "call.state" && msg.call_id === this.callId) await this.onState(msg);
    else if (msg.type === "call.signal" && msg.call_id === this.callId) await this.onSignal(msg.data || {});
  }

  async onState(msg) {
    const call = msg.call || {};
    if (msg.status === "accepted" && !this.pc) {
      this.status = "connecting";
      this.changed();
      await this.offer();
    } else if (FINAL.includes(msg.status)) {
      const reason = call.failure || (msg.status === "declined" ? "declined" : null);
      if (reason) this.fail(reason);
      else {
        this.teardown();
        this.status = "ended";
        this.endedAt = Date.now();
      }
    }
    this.changed();
  }

  async offer() {
    try {
      this.local = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      this.hangup("no_microphone");
      return;
    }
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    this.pc = pc;
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.audio.srcObject = stream;
      this.remoteStream = stream;
      this.listen(stream);
      this.legs.offerAll(); // a supervisor who joined before the home's sound arrived
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && !["connected", "announcing"].includes(this.status)) {
        // Voice contact (the hub records it); the operator waits while the tablet announces.
        this.status = this.announcing ? "announcing" : "connected";
        this.connectedAt = Date.now();
        this.send({ type: "call.connected", call_id: this.callId });
        this.changed();
      } else if (pc.connectionState === "failed") {
        this.hangup("media_failed");
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    this.send({ type: "call.signal", call_id: this.callId, data: { sdp: pc.localDescription.toJSON() } });
  }

  async onSignal(data) {
    if (data.sdp && data.sdp.type === "answer" && this.pc) await this.pc.setRemoteDescription(data.sdp);
    else if (data.candidate && this.pc) await this.pc.addIceCandidate(data.candidate).catch(() => {});
    else if (typeof data.volume_level === "number") {
      this.volume = data.volume_level;
      this.changed();
    } else if (data.announcing === true) {
      // An alarm call answered by itself: the tablet speaks first and holds our sound back.
      this.announcing = true;
      if (this.status === "connected") this.status = "announcing";
      this.changed();
    } else if (data.announced === true) {
      this.announcing = false;
      if (this.status === "announcing") this.status = "connected";
      this.changed();
    }
  }

  /** The remote sound through a Web Audio analyser (what the tests read). */
  listen(stream) {
    [this.audioContext, this.analyser] = analyse(stream);
  }

  /** The strongest frequency in the remote sound now, and its level (dB). */
  dominant() {
    return dominantIn(this.analyser, this.audioContext);
  }

  toggleMute() {
    if (!this.local) return;
    this.muted = !this.muted;
    for (const track of this.local.getAudioTracks()) track.enabled = !this.muted;
    this.changed();
  }

  louder() {
    if (this.status !== "connected" && this.status !== "announcing") return;
    this.send({ type: "call.signal", call_id: this.callId, data: { volume: "up" } });
  }

  hangup(reason = null) {
    if (this.callId !== null && this.active()) this.send({ type: "call.hangup", call_id: this.callId });
    if (reason) this.fail(reason);
    else if (this.active()) {
      this.teardown();
      this.status = "ended";
      this.endedAt = Date.now();
    }
    this.changed();
  }

  /** After the socket (re)opens: is our call still going? A restarted hub has none. */
  async resync() {
    if (this.listenIn) this.listenIn.resync(); // a supervisor's listen-in, the same way
    if (!this.active() || !this.alarmId) return;
    try {
      const result = await api(`/api/console/alarms/${encodeURIComponent(this.alarmId)}/voice`);
      const mine = result.calls.find((c) => c.id === this.callId);
      if (mine && FINAL.includes(mine.status)) {
        this.fail(mine.failure || "media_failed");
        this.changed();
      }
    } catch (err) {
      console.warn("voice resync", err);
    }
  }

  teardown() {
    this.legs.closeAll();
    if (this.pc) this.pc.close();
    this.pc = null;
    this.remoteStream = null;
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
    this.audio.srcObject = null;
    if (this.audioContext) this.audioContext.close().catch(() => {});
    this.audioContext = null;
    this.analyser = null;
  }

  changed() {
    this.onChange();
  }

  tick() {
    const el = document.getElementById("voice-timer");
    if (el) el.textContent = this.elapsed();
  }

  elapsed() {
    const from = this.connectedAt || this.startedAt;
    if (!from) return "";
    const seconds = Math.max(0, Math.round(((this.active() ? Date.now() : this.endedAt || Date.now()) - from) / 1000));
    return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

/** A Web Audio analyser on ``stream``: [context, analyser] (the call panels' tests read it). */
export function analyse(stream) {
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  source.connect(analyser);
  return [context, analyser];
}

/** The strongest frequency an analyser hears now, and its level (dB). */
export function dominantIn(analyser, context) {
  if (!analyser || !context) return { hz: 0, db: -Infinity };
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: (best * context.sampleRate) / analyser.fftSize, db: bins[best] };
}

function statusText(call) {
  if (call.status === "failed") {
    if (call.failure === "home_busy") return t("voice_fail_home_busy", { name: call.heldBy || "?" });
    if (call.failure === "error") return t("error_generic", { message: call.errorText || "" });
    return t("voice_fail_" + call.failure);
  }
  return t("voice_" + call.status);
}

/** The next steps when the tablet cannot be reached: phone, contacts, mobile unit / 112. */
function fallbacks(card) {
  if (!card) return "";
  const phone = card.resident.phone
    ? `<li><button type="button" class="btn btn-small" data-fallback="resident">${h(t("call"))}</button> ${h(t("voice_next_phone"))} <span class="phone">${h(formatPhone(card.resident.phone))}</span></li>`
    : "";
  const contacts = card.contacts
    .slice(0, 3)
    .map((c) => `<li><button type="button" class="btn btn-small" data-fallback="${h(c.id)}">${h(t("call"))}</button> ${h(c.name)} <span class="muted small">${h(c.relationship_label || c.relationship)}</span> <span class="phone">${h(formatPhone(c.phone))}</span></li>`)
    .join("");
  return `<div class="voice-next" id="voice-next"><strong>${h(t("voice_next_steps"))}</strong><ol>${phone}${contacts}<li><button type="button" class="btn btn-small btn-danger" data-fallback="escalate">${h(t("escalate"))} <kbd>E</kbd></button> ${h(t("voice_next_escalate"))}</li></ol></div>`;
}

/** The voice panel for ``key`` ("alarm:<id>" or "resident:<id>"; "" when no call was tried).
 * ``tablet`` ({paired, online}, or null): a paired tablet that is offline is said at once,
 * with the next steps, before anyone tries to call it. */
export function renderVoice(call, key, card, canAct, tablet = null) {
  if (!call.isFor(key)) {
    if (!tablet || !tablet.paired || tablet.online || call.active()) return "";
    return `<section class="card voice" id="voice-panel" data-status="offline" data-failure="tablet_offline">
      <div class="row" style="gap:10px;align-items:center"><span class="badge danger" id="voice-status">${h(t("voice_tablet_offline"))}</span></div>
      ${canAct ? fallbacks(card) : ""}
    </section>`;
  }
  const live = call.active();
  const cls = call.status === "connected" ? "ok" : call.status === "announcing" ? "info" : call.status === "failed" ? "danger" : live ? "warn" : "info";
  const volume = call.volume === null ? "" : ` <span class="muted small" id="voice-volume">${h(t("voice_volume", { n: call.volume + 1, max: MAX_VOLUME + 1 }))}</span>`;
  const buttons = live
    ? `<button type="button" class="btn btn-small" id="voice-mute" aria-pressed="${call.muted}">${h(call.muted ? t("voice_unmute") : t("voice_mute"))} <kbd>M</kbd></button>
       <button type="button" class="btn btn-small" id="voice-louder" ${["connected", "announcing"].includes(call.status) ? "" : "disabled"}>${h(t("voice_louder"))} <kbd>L</kbd></button>${volume}
       <button type="button" class="btn btn-small btn-danger" id="voice-hangup">${h(t("voice_hangup"))} <kbd>H</kbd></button>`
    : "";
  const next = call.status === "failed" && canAct ? fallbacks(card) : "";
  const names = live ? call.legs.names() : [];
  const listeners = names.length
    ? `<span class="badge info" id="voice-listeners">${h(t("voice_listeners", { names: names.join(", ") }))}</span>`
    : "";
  return `<section class="card voice" id="voice-panel" data-status="${h(call.status)}" data-failure="${h(call.failure || "")}">
    <div class="row" style="gap:10px;align-items:center">
      <span class="badge ${cls}" id="voice-status">${h(statusText(call))}</span>
      <span class="bigtimer" id="voice-timer">${h(call.elapsed())}</span>
      ${buttons}
      ${listeners}
    </div>
    ${next}
  </section>`;
}

/** One history line's extra text for voice entries (duration, failure). */
export function voiceDetail(entry) {
  const d = entry.detail || {};
  const parts = [];
  if (d.result) parts.push(t("voice_result_" + d.result));
  if (d.connected_at) parts.push(t("voice_connected_at", { time: formatTime(d.connected_at, { seconds: true }) }));
  if (d.duration_s && d.result === "connected") parts.push(t("voice_duration", { s: d.duration_s }));
  if (d.ended_by) parts.push(t("voice_ended_by", { name: d.ended_by }));
  if (d.failure) parts.push(t("voice_fail_" + d.failure));
  return parts.join(" · ");
}
