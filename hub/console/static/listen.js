// A supervisor listening in to an operator's call with a home (ADR 0100).
// The second audio leg runs from the OPERATOR's browser (ForwardLegs: it re-sends the home's
// sound and its own microphone, and receives nothing) to the SUPERVISOR's (ListenIn: it
// answers receive-only and never opens a microphone). The hub relays listen.* frames on the
// same /api/family/ws socket the VoiceCall keeps open, and ends legs when the call ends.
import { api, t, gathered, escapeHtml as h } from "/static/web/ta.js";

/** The operator's side: one send-only peer connection per supervisor listening. */
export class ForwardLegs {
  constructor(voice) {
    this.voice = voice;
    this.legs = new Map(); // listen_id → { name, pc }
  }

  names() {
    return [...this.legs.values()].map((leg) => leg.name);
  }

  async onMessage(msg) {
    const voice = this.voice;
    if (msg.type === "listen.joined" && msg.call_id === voice.callId && voice.active()) {
      this.legs.set(msg.listen_id, { name: (msg.listener && msg.listener.name) || "?", pc: null });
      voice.changed();
      await this.offerAll();
    } else if (msg.type === "listen.signal" && this.legs.has(msg.listen_id)) {
      const leg = this.legs.get(msg.listen_id);
      const data = msg.data || {};
      if (leg.pc && data.sdp && data.sdp.type === "answer") await leg.pc.setRemoteDescription(data.sdp);
      else if (leg.pc && data.candidate) await leg.pc.addIceCandidate(data.candidate).catch(() => {});
    } else if (msg.type === "listen.ended" && this.legs.has(msg.listen_id)) {
      this.close(msg.listen_id);
      voice.changed();
    }
  }

  /** Offer to every listener still waiting; called again once the home's sound arrives. */
  async offerAll() {
    const voice = this.voice;
    if (!voice.remoteStream || !voice.local) return; // not yet: the call's media comes first
    for (const [id, leg] of this.legs) if (!leg.pc) await this.offer(id, leg);
  }

  async offer(id, leg) {
    const voice = this.voice;
    const pc = new RTCPeerConnection({ iceServers: voice.iceServers || [] });
    leg.pc = pc;
    // The same tracks the operator hears and speaks: the call's own connection is untouched.
    for (const track of voice.remoteStream.getAudioTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [voice.remoteStream] });
    }
    for (const track of voice.local.getAudioTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [voice.local] });
    }
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") voice.send({ type: "listen.leave", listen_id: id });
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    if (this.legs.get(id) !== leg) return; // ended while gathering
    voice.send({ type: "listen.signal", listen_id: id, data: { sdp: pc.localDescription.toJSON() } });
  }

  close(id) {
    const leg = this.legs.get(id);
    if (leg && leg.pc) leg.pc.close();
    this.legs.delete(id);
  }

  closeAll() {
    for (const id of [...this.legs.keys()]) this.close(id);
  }
}

/** The supervisor's side: join, answer receive-only, play and measure what arrives. */
export class ListenIn {
  constructor(voice, onChange) {
    this.voice = voice;
    this.onChange = onChange;
    this.reset();
    setInterval(() => {
      const el = document.getElementById("listen-timer");
      if (el) el.textContent = this.elapsed();
    }, 1000);
  }

  reset() {
    this.status = "idle"; // idle | joining | listening | ended | failed
    this.alarmId = null;
    this.listenId = null;
    this.party = null;
    this.speakerName = null;
    this.reason = null;
    this.errorText = null;
    this.startedAt = null;
    this.pc = null;
    this.iceServers = [];
    this.players = [];
    this.context = null;
    this.analyser = null;
    this.early = [];
  }

  active() {
    return this.status === "joining" || this.status === "listening";
  }

  isFor(alarmId) {
    return this.alarmId === alarmId && this.status !== "idle";
  }

  async start(alarmId) {
    if (this.active()) return;
    this.teardown();
    this.reset();
    this.alarmId = alarmId;
    this.status = "joining";
    this.onChange();
    try {
      this.voice.connect();
      await this.voice.waitForSocket();
      // STUN/TURN as for the calls: a supervisor at home reaches the operator through TURN.
      const config = await api("/api/family/calls/config").catch(() => ({ ice_servers: [] }));
      this.iceServers = config.ice_servers || [];
      const leg = await api(`/api/console/alarms/${encodeURIComponent(alarmId)}/voice/listen`, { method: "POST" });
      this.listenId = leg.listen_id;
      this.party = leg.listener.party;
      this.speakerName = leg.speaker.name;
      const early = this.early;
      this.early = [];
      for (const msg of early) await this.onMessage(msg);
    } catch (err) {
      this.status = "failed";
      this.reason = err.code || "error";
      this.errorText = err.message;
    }
    this.onChange();
  }

  async onMessage(msg) {
    if (this.status === "joining" && this.listenId === null) {
      // The operator's offer may come before the POST's reply names the leg.
      if (msg.type === "listen.signal" || msg.type === "listen.ended") this.early.push(msg);
      return;
    }
    if (msg.listen_id !== this.listenId || !this.active()) return;
    if (msg.type === "listen.signal") {
      const data = msg.data || {};
      if (data.sdp && data.sdp.type === "offer") await this.answer(data.sdp);
      else if (data.candidate && this.pc) await this.pc.addIceCandidate(data.candidate).catch(() => {});
    } else if (msg.type === "listen.ended") {
      this.end(msg.reason || "left");
    }
  }

  /** After the socket (re)opens: does the hub still have our leg? (It ends legs whose
   * listener dropped, and a restarted hub has none; the end was told to a closed socket.) */
  async resync() {
    if (!this.active() || this.listenId === null) return;
    try {
      const result = await api(`/api/console/alarms/${encodeURIComponent(this.alarmId)}/voice`);
      const active = result.active;
      const still = active && (active.listeners || []).some((l) => l.party === this.party);
      if (!still && this.active()) this.end(active ? "disconnected" : "call_ended");
    } catch (err) {
      console.warn("listen resync", err);
    }
  }

  async answer(offer) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    this.pc = pc;
    pc.ontrack = (event) => this.hear(event.track);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected" && this.status === "joining") {
        this.status = "listening";
        this.startedAt = Date.now();
        this.onChange();
      } else if (pc.connectionState === "failed") {
        this.stop("media_failed");
      }
    };
    await pc.setRemoteDescription(offer);
    // No microphone, no transceiver of our own: the answer is receive-only.
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    this.voice.send({ type: "listen.signal", listen_id: this.listenId, data: { sdp: pc.localDescription.toJSON() } });
  }

  /** Each arriving track (the home's, the operator's) is played and fed to one analyser. */
  hear(track) {
    const stream = new MediaStream([track]);
    const player = document.createElement("audio");
    player.autoplay = true;
    player.className = "listen-audio";
    player.srcObject = stream;
    document.body.appendChild(player);
    this.players.push(player);
    if (!this.context) {
      this.context = new AudioContext();
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 8192;
    }
    this.context.createMediaStreamSource(stream).connect(this.analyser);
  }

  /** The level (dB) of the strongest bin within ±10 Hz of ``hz`` in what is heard now. */
  levelAt(hz) {
    if (!this.analyser) return -Infinity;
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    this.analyser.getFloatFrequencyData(bins);
    const width = this.context.sampleRate / this.analyser.fftSize;
    let best = -Infinity;
    for (let i = Math.floor((hz - 10) / width); i <= Math.ceil((hz + 10) / width); i++) {
      if (i > 0 && i < bins.length) best = Math.max(best, bins[i]);
    }
    return best;
  }

  stop(reason = "left") {
    if (this.listenId !== null && this.active()) this.voice.send({ type: "listen.leave", listen_id: this.listenId });
    this.end(reason);
  }

  end(reason) {
    this.teardown();
    this.status = reason === "media_failed" ? "failed" : "ended";
    this.reason = reason;
    this.onChange();
  }

  teardown() {
    if (this.pc) this.pc.close();
    this.pc = null;
    for (const player of this.players) player.remove();
    this.players = [];
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.analyser = null;
  }

  elapsed() {
    if (!this.startedAt) return "";
    const seconds = Math.max(0, Math.round((Date.now() - this.startedAt) / 1000));
    return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

function listenText(listen) {
  if (listen.status === "failed") {
    if (listen.reason === "error") return t("error_generic", { message: listen.errorText || "" });
    return t("listen_fail_" + listen.reason);
  }
  if (listen.status === "ended") return t("listen_ended_" + (listen.reason || "left"));
  return t("listen_" + listen.status, { name: listen.speakerName || "…" });
}

/** The supervisor's listen-in panel for an alarm: the button while someone speaks with the
 * home, the leg's state while listening, the reason once it ended. ``active``: the call going
 * on (GET …/voice's ``active``), or null. */
export function renderListen(listen, alarmId, active, canListen) {
  if (!canListen) return "";
  if (listen.isFor(alarmId)) {
    const live = listen.active();
    const cls = listen.status === "listening" ? "ok" : listen.status === "failed" ? "danger" : live ? "warn" : "info";
    const rejoin = !live && active ? `<button type="button" class="btn btn-small" id="listen-start">${h(t("listen_start"))} <kbd>I</kbd></button>` : "";
    return `<section class="card voice" id="listen-panel" data-status="${h(listen.status)}" data-reason="${h(listen.reason || "")}">
      <div class="row" style="gap:10px;align-items:center">
        <span class="badge ${cls}" id="listen-status">${h(listenText(listen))}</span>
        ${live ? `<span class="bigtimer" id="listen-timer">${h(listen.elapsed())}</span>
        <button type="button" class="btn btn-small" id="listen-stop">${h(t("listen_stop"))} <kbd>I</kbd></button>
        <span class="muted small">${h(t("listen_private"))}</span>` : rejoin}
      </div>
    </section>`;
  }
  if (!active) return "";
  return `<section class="card voice" id="listen-panel" data-status="idle">
    <div class="row" style="gap:10px;align-items:center">
      <span class="badge info">${h(t("listen_available", { name: active.caller_name || "?" }))}</span>
      <button type="button" class="btn btn-small" id="listen-start">${h(t("listen_start"))} <kbd>I</kbd></button>
    </div>
  </section>`;
}
