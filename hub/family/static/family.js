// The family web app: chats, photos, voice, video calls, agenda and alarm notices.
// Server-rendered pages give the first view; this keeps them live over /api/family/ws.
import {
  api, ApiError, LiveSocket, t, pageData, banner, showConnection, formatTime, formatDateTime,
  escapeHtml, gathered, formatAgo, locale, zoned, zonedToUtc, formatDay,
} from "/static/web/ta.js";
import { setUpPush } from "/static/family/push.js";

const data = pageData();
const me = data.me;
const names = Object.assign({}, data.names || {});
const $ = (id) => document.getElementById(id);

function nameOf(party) {
  return names[party] || party;
}

// ------------------------------------------------------------------ live socket

const outbox = [];
function send(frame) {
  const socket = live && live.socket;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  else outbox.push(frame);
}

// ------------------------------------------------------------------ video calls

class CallController {
  constructor() {
    this.state = "idle"; // idle | outgoing | incoming | active | over
    this.callId = null;
    this.peer = null;
    this.pc = null;
    this.local = null;
    this.iceServers = [];
    this.el = $("call");
    $("call-answer").addEventListener("click", () => this.answer());
    $("call-decline").addEventListener("click", () => this.decline());
    $("call-hangup").addEventListener("click", () => this.hangup());
    $("call-close").addEventListener("click", () => this.close());
    $("call-mute").addEventListener("click", () => this.toggle("audio"));
    $("call-camera").addEventListener("click", () => this.toggle("video"));
    this.connectedAt = null;
    this.ticker = null;
  }

  show(status, buttons) {
    this.el.hidden = false;
    this.el.dataset.state = this.state;
    $("call-avatar").textContent = nameOf(this.peer || "").slice(0, 1).toUpperCase();
    $("call-status").textContent = status;
    for (const name of ["answer", "decline", "hangup", "close"]) {
      $("call-" + name).hidden = !buttons.includes(name);
    }
    // Microphone and camera while the call is being made or is on.
    const live = buttons.includes("hangup");
    $("call-mute").hidden = !live;
    $("call-camera").hidden = !live;
  }

  // Microphone or camera off and on again: the track stays in the call and sends silence
  // or black, so nothing has to be negotiated again.
  toggle(kind) {
    const tracks = this.local ? this.local.getTracks().filter((x) => x.kind === kind) : [];
    const off = tracks.some((x) => x.enabled);
    for (const track of tracks) track.enabled = !off;
    const button = $(kind === "audio" ? "call-mute" : "call-camera");
    button.setAttribute("aria-pressed", String(off));
    button.textContent = t(kind === "audio" ? (off ? "call_unmute" : "call_mute") : (off ? "call_camera_on" : "call_camera_off"));
    if (kind === "audio") $("call-muted-note").hidden = !off;
    if (kind === "video") this.el.dataset.camera = off ? "off" : "on";
  }

  // How long the call has been on, every second, in the page's language.
  startClock() {
    if (this.ticker) return;
    this.connectedAt = Date.now();
    const box = $("call-duration");
    const time = box.querySelector("time");
    const format = "DurationFormat" in Intl
      ? (s) => new Intl.DurationFormat(locale, { style: "digital", hoursDisplay: "auto" })
        .format({ hours: Math.floor(s / 3600), minutes: Math.floor(s / 60) % 60, seconds: s % 60 })
      : (s) => `${Math.floor(s / 60)}:${new Intl.NumberFormat(locale, { minimumIntegerDigits: 2 }).format(s % 60)}`;
    const tick = () => {
      const seconds = Math.floor((Date.now() - this.connectedAt) / 1000);
      time.textContent = format(seconds);
      time.setAttribute("datetime", `PT${seconds}S`);
    };
    tick();
    box.hidden = false;
    this.ticker = setInterval(tick, 1000);
  }

  stopClock() {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    $("call-duration").hidden = true;
  }

  async media() {
    if (this.local) return this.local;
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (err) {
      console.error("getUserMedia", err);
      banner(t("call_no_camera"), "error");
      throw err;
    }
    $("local-video").srcObject = this.local;
    return this.local;
  }

  async config() {
    try {
      const config = await api("/api/family/calls/config");
      this.iceServers = config.ice_servers || [];
    } catch (err) {
      this.iceServers = [];
    }
  }

  async start(party) {
    if (this.state !== "idle" && this.state !== "over") return;
    this.state = "outgoing";
    this.peer = party;
    this.callId = null;
    this.show(t("call_calling", { name: nameOf(party) }), ["hangup"]);
    await Promise.all([this.media(), this.config()]);
    send({ type: "call.start", callee: party });
  }

  incoming(msg) {
    if (this.state === "outgoing" || this.state === "active" || this.state === "incoming") return;
    this.state = "incoming";
    this.callId = msg.call_id;
    this.peer = msg.caller;
    if (msg.caller_name) names[msg.caller] = msg.caller_name;
    this.show(t("call_incoming", { name: nameOf(msg.caller) }), ["answer", "decline"]);
  }

  async answer() {
    this.state = "active";
    this.show(t("call_connecting"), ["hangup"]);
    await Promise.all([this.media(), this.config()]);
    send({ type: "call.accept", call_id: this.callId });
  }

  decline() {
    send({ type: "call.decline", call_id: this.callId });
    this.teardown();
    this.el.hidden = true;
    this.state = "idle";
  }

  hangup() {
    if (this.callId !== null) send({ type: "call.hangup", call_id: this.callId });
    this.teardown();
    this.state = "over";
    this.show(t("call_ended"), ["close"]);
  }

  close() {
    this.el.hidden = true;
    this.state = "idle";
    if (data.page === "call") location.assign("/family");
  }

  peerConnection() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    pc.ontrack = (event) => {
      // One element plays both tracks. The tablet (aiortc) puts its camera and its
      // microphone in two streams: taking only the last one left the call silent.
      const video = $("remote-video");
      const others = video.srcObject ? video.srcObject.getTracks().filter((x) => x.kind !== event.track.kind) : [];
      video.srcObject = new MediaStream([...others, event.track]);
    };
    pc.onconnectionstatechange = () => {
      this.el.dataset.connection = pc.connectionState;
      if (pc.connectionState === "connected") {
        this.show(t("call_in_progress", { name: nameOf(this.peer) }), ["hangup"]);
        this.startClock();
      }
    };
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    this.pc = pc;
    return pc;
  }

  async onState(msg) {
    if (msg.call && msg.call.caller === me && this.state === "outgoing" && this.callId === null) {
      this.callId = msg.call_id;
    }
    if (msg.call_id !== this.callId) return;
    const name = nameOf(this.peer);
    if (msg.status === "accepted" && msg.call.caller === me && !this.pc) {
      this.state = "active";
      this.show(t("call_connecting"), ["hangup"]);
      const pc = this.peerConnection();
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      send({ type: "call.signal", call_id: this.callId, data: { sdp: pc.localDescription.toJSON() } });
    } else if (["declined", "missed", "ended"].includes(msg.status)) {
      const key = { declined: "call_declined", missed: "call_missed", ended: "call_ended" }[msg.status];
      const wasIncoming = this.state === "incoming";
      this.teardown();
      this.state = "over";
      if (wasIncoming) {
        this.el.hidden = true;
        this.state = "idle";
      } else {
        this.show(t(key, { name }), ["close"]);
      }
    }
  }

  async onSignal(msg) {
    if (msg.call_id !== this.callId) return;
    const signal = msg.data || {};
    if (signal.sdp && signal.sdp.type === "offer") {
      const pc = this.pc || this.peerConnection();
      await pc.setRemoteDescription(signal.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      send({ type: "call.signal", call_id: this.callId, data: { sdp: pc.localDescription.toJSON() } });
    } else if (signal.sdp && signal.sdp.type === "answer" && this.pc) {
      await this.pc.setRemoteDescription(signal.sdp);
    } else if (signal.candidate && this.pc) {
      await this.pc.addIceCandidate(signal.candidate).catch((err) => console.warn("ice", err));
    }
  }

  onError(msg) {
    if (msg.call_id !== undefined && msg.call_id !== this.callId && msg.error !== "busy") return;
    if (this.state !== "outgoing") return;
    const key = msg.error === "busy" ? "call_busy" : "error_generic";
    this.teardown();
    this.state = "over";
    this.show(t(key, { name: nameOf(this.peer) }), ["close"]);
  }

  teardown() {
    this.stopClock();
    $("call-muted-note").hidden = true;
    for (const id of ["call-mute", "call-camera"]) $(id).setAttribute("aria-pressed", "false");
    $("call-mute").textContent = t("call_mute");
    $("call-camera").textContent = t("call_camera_off");
    delete this.el.dataset.camera;
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.local) for (const track of this.local.getTracks()) track.stop();
    this.local = null;
    $("local-video").srcObject = null;
    $("remote-video").srcObject = null;
  }

  /** For tests: frames decoded from the other side so far. */
  async framesDecoded() {
    if (!this.pc) return 0;
    let frames = 0;
    (await this.pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames += report.framesDecoded || 0;
    });
    return frames;
  }
}

const call = new CallController();

// ------------------------------------------------------------------ chat page

const chat = {
  id: data.conversation_id,
  newest: 0,
  oldest: null,
  seenBy: {},
};

function mediaHtml(media) {
  if (!media) return "";
  if (media.kind === "photo") {
    return `<a href="${media.url}" target="_blank" rel="noopener"><img src="${media.thumbnail_url || media.url}" alt="${escapeHtml(t("media_photo"))}" loading="lazy"></a>`;
  }
  const seconds = media.duration_s ? ` · ${t("seconds_short", { n: Math.round(media.duration_s) })}` : "";
  if (media.kind === "video") {
    // The hub's thumbnail until it plays: the first picture, not a black box.
    const poster = media.thumbnail_url ? ` poster="${media.thumbnail_url}"` : "";
    return `<video controls preload="metadata"${poster} src="${media.url}"></video><span class="small media-label">${escapeHtml(t("media_video"))}${seconds}</span>`;
  }
  return `<span class="small media-label">${escapeHtml(t("media_voice"))}${seconds}</span><audio controls preload="metadata" src="${media.url}"></audio>`;
}

function messageHtml(m) {
  const mine = m.sender.party === me;
  names[m.sender.party] = m.sender.name;
  if (m.deleted) {
    return `<li class="msg deleted${mine ? " mine" : ""}" data-id="${m.id}">${escapeHtml(t("deleted_message"))}</li>`;
  }
  const who = mine ? "" : `<span class="who">${escapeHtml(m.sender.name)}</span>`;
  const seen = mine && m.read_by && m.read_by.length ? `<span class="seen">✓ ${escapeHtml(t("seen"))}</span>` : "";
  const del = mine ? `<button type="button" class="del" data-delete="${m.id}">${escapeHtml(t("delete"))}</button>` : "";
  const text = m.text ? `<span class="text">${escapeHtml(m.text)}</span>` : "";
  return `<li class="msg${mine ? " mine" : ""}" data-id="${m.id}" data-kind="${m.kind}">${who}${mediaHtml(m.media)}${text}<span class="meta">${del}${seen}<time datetime="${m.created_at}">${formatTime(m.created_at)}</time></span></li>`;
}

function putMessage(m, where = "end") {
  const list = $("messages");
  const existing = list.querySelector(`[data-id="${m.id}"]`);
  const html = messageHtml(m);
  if (existing) {
    existing.outerHTML = html;
  } else if (where === "start") {
    list.insertAdjacentHTML("afterbegin", html);
  } else {
    list.insertAdjacentHTML("beforeend", html);
    list.scrollTop = list.scrollHeight;
  }
  chat.newest = Math.max(chat.newest, m.id);
  chat.oldest = chat.oldest === null ? m.id : Math.min(chat.oldest, m.id);
}

// A video on its way (hub/family/video_jobs.py): its sender sees it "being prepared" until
// the hub has re-encoded it (then the message replaces it) or "not sent" with the reason.
const UPLOAD_FAILURES = ["media_corrupt", "media_too_long", "media_missing", "media_unprocessable", "not_member"];

function uploadHtml(u) {
  const failed = u.status === "failed";
  const reason = UPLOAD_FAILURES.includes(u.failure) ? u.failure : "media_unprocessable";
  const words = failed
    ? `<strong>${escapeHtml(t("video_not_sent"))}</strong> ${escapeHtml(t("video_failed_" + reason, { seconds: Math.round(data.video_max_s) }))}`
    : `<span class="spinner" aria-hidden="true"></span>${escapeHtml(t("video_processing"))}`;
  const remove = failed
    ? `<button type="button" class="withdraw" data-withdraw="${u.upload_id}">${escapeHtml(t("remove"))}</button>`
    : "";
  const seconds = u.duration_s ? ` · ${t("seconds_short", { n: Math.round(u.duration_s) })}` : "";
  return `<li class="msg mine upload ${failed ? "failed" : "processing"}" data-upload="${u.upload_id}" role="status">`
    + `<span class="small media-label">${escapeHtml(t("media_video"))}${seconds}</span>`
    + `<span class="upload-state">${words}</span>`
    + (u.text ? `<span class="text">${escapeHtml(u.text)}</span>` : "")
    + `<span class="meta">${remove}<time datetime="${u.created_at}">${formatTime(u.created_at)}</time></span></li>`;
}

function putUpload(u) {
  if (u.conversation_id !== chat.id) return;
  const list = $("messages");
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  const existing = list.querySelector(`[data-upload="${u.upload_id}"]`);
  if (existing) {
    existing.outerHTML = uploadHtml(u);
  } else {
    list.insertAdjacentHTML("beforeend", uploadHtml(u));
    list.scrollTop = list.scrollHeight;
  }
}

function dropUpload(uploadId) {
  const existing = $("messages").querySelector(`[data-upload="${uploadId}"]`);
  if (existing) existing.remove();
}

async function loadMessages(before) {
  const query = before ? `?limit=30&before=${before}` : "?limit=30";
  const page = await api(`/api/family/conversations/${chat.id}/messages${query}`);
  if (!before) $("messages").innerHTML = "";
  if (!before && page.messages.length === 0) {
    $("messages").innerHTML = `<li class="muted empty">${escapeHtml(t("no_messages"))}</li>`;
  }
  for (const m of page.messages) putMessage(m, before ? "start" : "start");
  if (!before) {
    if (page.uploads && page.uploads.length) $("messages").querySelector(".empty")?.remove();
    for (const u of page.uploads || []) putUpload(u);
  }
  $("older").hidden = !page.next_before;
  $("older").dataset.before = page.next_before || "";
  if (!before) {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    // A photo or video that loads after grows the list: keep the newest message in view
    // unless the reader has scrolled up meanwhile.
    for (const media of list.querySelectorAll("img, video")) {
      media.addEventListener(media.tagName === "IMG" ? "load" : "loadedmetadata", () => {
        if (list.scrollHeight - list.scrollTop - list.clientHeight < media.clientHeight + 80) {
          list.scrollTop = list.scrollHeight;
        }
      }, { once: true });
    }
  }
  await markRead();
}

async function markRead() {
  if (!chat.newest || document.hidden) return;
  await api(`/api/family/conversations/${chat.id}/read`, { method: "POST", body: { up_to: chat.newest } });
}

function chatError(err) {
  const el = $("chat-error");
  el.textContent = err instanceof ApiError ? err.message : t("error_generic");
  el.hidden = false;
  setTimeout(() => (el.hidden = true), 8000);
}

async function uploadAndSend(blob, kind, text = "") {
  const status = $("chat-error");
  status.textContent = t("uploading");
  status.hidden = false;
  try {
    // A video is answered at once and re-encoded by the hub afterwards (202, "processing"):
    // the phone does not wait for it.
    const url = kind === "video"
      ? `/api/family/conversations/${chat.id}/videos${text ? `?text=${encodeURIComponent(text)}` : ""}`
      : `/api/family/media?kind=${kind}`;
    let response = await fetch(url, {
      method: "POST", body: blob, credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", Accept: "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const known = { media_too_large: "video_too_large_hub", media_too_long: "video_too_long", media_corrupt: "media_unreadable" };
      const words = kind === "video" && known[body.error]
        ? t(known[body.error], { limit: Math.ceil(data.video_max_bytes / 1048576), seconds: Math.round(data.video_max_s) })
        : body.message || t("error_generic");
      throw new ApiError(response.status, body.error || "http", words);
    }
    status.hidden = true;
    if (kind === "video") {
      putUpload(body);
      return;
    }
    const message = await api(`/api/family/conversations/${chat.id}/messages`, {
      method: "POST", body: { media_id: body.media_id, text },
    });
    putMessage(message);
  } catch (err) {
    chatError(err);
  }
}

let recorder = null;
async function toggleVoice() {
  const button = $("voice");
  if (recorder) {
    recorder.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    chatError(new ApiError(0, "no_mic", t("call_no_camera")));
    return;
  }
  const chunks = [];
  const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
  recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
  recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
  recorder.onstop = async () => {
    for (const track of stream.getTracks()) track.stop();
    recorder = null;
    button.classList.remove("recording");
    button.textContent = t("record_voice");
    await uploadAndSend(new Blob(chunks, { type: chunks[0] ? chunks[0].type : "audio/webm" }), "voice");
  };
  recorder.start();
  button.classList.add("recording");
  button.textContent = t("stop_recording");
}

function setUpChat() {
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("message-text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    try {
      const message = await api(`/api/family/conversations/${chat.id}/messages`, { method: "POST", body: { text } });
      const empty = $("messages").querySelector(".empty");
      if (empty) empty.remove();
      putMessage(message);
    } catch (err) {
      input.value = text;
      chatError(err);
    }
  });
  $("photo-input").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) await uploadAndSend(file, "photo");
  });
  $("video-input").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    // Refused here, before minutes of upload on mobile data; the hub checks again.
    const mb = (n) => Math.ceil(n / 1048576);
    if (file.size > data.video_max_bytes) {
      chatError(new ApiError(413, "media_too_large", t("video_too_large", { size: mb(file.size), limit: mb(data.video_max_bytes) })));
      return;
    }
    await uploadAndSend(file, "video");
  });
  $("voice").addEventListener("click", toggleVoice);
  $("older").addEventListener("click", () => loadMessages(Number($("older").dataset.before)));
  // "Delete" only asks; the message goes on a second, deliberate tap (a thumb scrolling past
  // the small link must not erase anything).
  $("messages").addEventListener("click", async (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const meta = target.closest(".meta");
    if (target.dataset.withdraw) {
      try {
        await api(`/api/family/video-uploads/${target.dataset.withdraw}`, { method: "DELETE" });
        dropUpload(target.dataset.withdraw);
      } catch (err) {
        chatError(err);
      }
      return;
    }
    if (target.dataset.delete) {
      meta.querySelector(".del").hidden = true;
      meta.insertAdjacentHTML("afterbegin",
        `<span class="confirm-del" role="group"><span>${escapeHtml(t("delete_confirm"))}</span>` +
        `<button type="button" class="btn btn-small btn-danger" data-delete-yes="${target.dataset.delete}">${escapeHtml(t("delete_yes"))}</button>` +
        `<button type="button" class="btn btn-small" data-delete-no>${escapeHtml(t("delete_no"))}</button></span>`);
      meta.querySelector("[data-delete-no]").focus();
    } else if (target.dataset.deleteNo !== undefined) {
      meta.querySelector(".confirm-del").remove();
      meta.querySelector(".del").hidden = false;
    } else if (target.dataset.deleteYes) {
      try {
        await api(`/api/family/messages/${target.dataset.deleteYes}`, { method: "DELETE" });
      } catch (err) {
        chatError(err);
      }
    }
  });
  document.addEventListener("visibilitychange", () => markRead().catch(() => {}));
}

// ------------------------------------------------------------------ groups page

// Sort a group's members by name, or the quietest first: the longest silent, then those
// who have not started yet (no activity at all), then the active ones.
function sortMembers(list, how) {
  const collator = new Intl.Collator(document.documentElement.lang || undefined);
  const rank = { quiet: 0, not_started: 1, active: 2 };
  const items = [...list.querySelectorAll("li.member")];
  items.sort((a, b) => {
    if (how === "quiet") {
      const byState = rank[a.dataset.state] - rank[b.dataset.state];
      if (byState) return byState;
      const byLast = (a.dataset.last || "").localeCompare(b.dataset.last || "");
      if (byLast) return byLast;
    }
    return collator.compare(a.dataset.name, b.dataset.name);
  });
  list.append(...items);
}

function setUpGroups() {
  for (const group of document.querySelectorAll(".group")) {
    const list = group.querySelector(".members");
    group.querySelectorAll("[data-sort]").forEach((button, _, all) => {
      button.addEventListener("click", () => {
        all.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        sortMembers(list, button.dataset.sort);
      });
    });
  }
}

// ------------------------------------------------------------------ home page

const what = { panic: "alarm_panic", fall: "alarm_fall" };

async function loadChats() {
  const list = $("chats");
  if (!list) return;
  const chats = await api("/api/family/conversations");
  let total = 0;
  list.innerHTML = chats.length ? "" : `<li class="muted">${escapeHtml(t("no_chats"))}</li>`;
  for (const c of chats) {
    total += c.unread;
    const last = c.last_message;
    const preview = last ? (last.deleted ? t("deleted_message") : last.text || t("media_" + last.kind)) : "";
    const badge = c.unread ? `<span class="badge p1">${escapeHtml(t("unread_n", { n: c.unread }))}</span>` : "";
    list.insertAdjacentHTML("beforeend",
      `<li><a href="/family/chat/${c.id}"><span class="avatar" aria-hidden="true">${escapeHtml(c.title.slice(0, 1))}</span>` +
      `<span class="chat-text"><span class="chat-title">${escapeHtml(c.title)}</span><br><span class="chat-last">${escapeHtml(preview)}</span></span>${badge}</a></li>`);
    const personBadge = document.querySelector(`.person .unread[data-conversation="${c.id}"]`);
    if (personBadge) {
      personBadge.hidden = !c.unread;
      personBadge.textContent = t("unread_n", { n: c.unread });
    }
  }
  showUnread(total);
}

function showUnread(total) {
  const el = $("nav-unread");
  if (!el) return;
  el.hidden = !total;
  el.textContent = String(total);
}

// A closed alarm stays on the home for half a day, so its outcome is seen.
const CLOSED_SHOWN_MS = 12 * 3600 * 1000;
// A missed dose (no alarm behind it) stays for a day: an evening dose told at 20:45 is
// still there when the family looks the next morning.
const DOSE_SHOWN_MS = 24 * 3600 * 1000;

function stillToShow(n) {
  if (n.state !== "closed") return true;
  if (n.dose) return Date.now() - Date.parse(n.created_at) < DOSE_SHOWN_MS;
  const end = (n.steps || []).find((s) => s.kind === "resolved");
  return Boolean(end) && Date.now() - Date.parse(end.at) < CLOSED_SHOWN_MS;
}

// Calendar days in the centre's zone from an instant to today (0: today, 1: yesterday).
function daysAgo(iso) {
  const day = (when) => {
    const z = zoned(when);
    return Date.UTC(z.year, z.month - 1, z.day);
  };
  return Math.round((day(new Date()) - day(new Date(iso))) / 86400000);
}

// A missed dose in the words of its day: the tense and the day change when it is read the
// morning after ("no va confirmar ahir", "no confirmó ayer", "did not confirm yesterday").
function doseMissedText(dose, name) {
  const params = { name, dose: dose.schedule, time: formatTime(dose.due, { date: "never" }) };
  const days = daysAgo(dose.due);
  if (days <= 0) return t("dose_missed", params);
  if (days === 1) return t("dose_missed_yesterday", params);
  return t("dose_missed_on", { ...params, day: formatDay(dose.due) });
}

// One line per step of the centre's handling, in plain words, with its time.
function stepText(step, name) {
  if (step.kind === "help") return t("step_help_" + step.target, { name });
  if (step.kind === "resolved") return t("step_resolved_" + step.outcome, { name });
  return t("step_" + step.kind, { name });
}

function stepsHtml(steps, name) {
  if (!steps.length) return "";
  const items = steps.map((s) =>
    `<li class="step step-${s.kind}"><span class="step-time">${escapeHtml(formatTime(s.at))}</span> ${escapeHtml(stepText(s, name))}</li>`);
  return `<ol class="steps" aria-label="${escapeHtml(t("steps_title"))}">${items.join("")}</ol>`;
}

// Live events, the service worker and a tap can each ask for a reload at once: every call
// builds its own list and only the latest one is drawn, so an alarm is never listed twice.
let alarmsGeneration = 0;

async function loadAlarms() {
  const section = $("alarms");
  if (!section) return;
  const list = $("alarm-list");
  const generation = ++alarmsGeneration;
  const items = [];
  let shown = 0;
  for (const r of data.residents || []) {
    if (!r.consent.includes("alarms")) continue;
    const notices = await api(`/api/family/residents/${r.resident_id}/alarm-notices`);
    for (const n of notices.filter(stillToShow).slice(0, 5)) {
      shown += 1;
      const open = n.state !== "closed";
      const mine = n.acknowledgements.find((a) => a.party === me);
      // A missed dose (no alarm: the family was told instead of the centre).
      const text = n.dose
        ? doseMissedText(n.dose, r.name)
        : t(open ? "alarm_notice" : "alarm_notice_closed",
          { name: r.name, what: t(what[n.event_type] || "alarm_other") });
      // Who else answered (relatives in the app, key holders by SMS), then my own answer.
      const others = n.acknowledgements.filter((a) => a.party !== me)
        .map((a) => `${a.name}: ${t("answer_" + (a.answer || "on_my_way"))}`);
      const othersHtml = others.length
        ? `<p class="muted small answers">${escapeHtml(others.join(" · "))}</p>` : "";
      const buttons = (answered) =>
        (answered === "on_my_way" ? "" : `<button type="button" class="btn btn-danger" data-answer="on_my_way" data-notice-id="${n.id}">${escapeHtml(t("on_my_way"))}</button>`) +
        (answered === "cannot" ? "" : ` <button type="button" class="btn" data-answer="cannot" data-notice-id="${n.id}">${escapeHtml(t("cannot"))}</button>`);
      // Once closed, my own answer stays on record beside the others', without buttons.
      const mineHtml = !open && mine
        ? `<p class="muted small answers" data-my-answer="${escapeHtml(mine.answer)}">${escapeHtml(t(mine.answer === "cannot" ? "my_answer_cannot" : "my_answer_on_my_way"))}</p>`
        : "";
      const action = !open ? mineHtml : mine
        ? `<p class="badge ok" data-my-answer="${escapeHtml(mine.answer)}">${escapeHtml(t(mine.answer === "cannot" ? "cannot_done" : "on_my_way_done"))}</p>${buttons(mine.answer)}`
        : `<div class="answer-buttons">${buttons(null)}</div>`;
      items.push(
        `<li class="alarm${open ? "" : " closed"}${n.dose ? " dose" : ""}" data-notice="${n.id}"><p>${escapeHtml(text)} <span class="muted small">${formatDateTime(n.created_at)}</span></p>` +
        `${stepsHtml(n.steps || [], r.name)}${othersHtml}${action}</li>`);
    }
  }
  if (generation !== alarmsGeneration) return;  // a newer reload draws the list
  list.innerHTML = items.join("");
  section.hidden = shown === 0;
}

// "How is she today?": what the resident shares with this person, refetched on live events.

const ago = formatAgo;

async function loadToday(section) {
  const now = await api(`/api/family/residents/${section.dataset.resident}/today`);
  const lines = [];
  const line = (key, text, cls = "") => lines.push(
    `<li data-today="${key}"${cls ? ` class="${cls}"` : ""}>${escapeHtml(text)}</li>`);
  if (now.check_in) {
    line("check_in", now.check_in.done_at
      ? t("today_checkin_done", { time: formatTime(now.check_in.done_at, { date: "never" }) })
      : t("today_checkin_not_yet"), now.check_in.done_at ? "ok" : "warn");
  }
  if (now.last_activity) {
    line("last_activity", now.last_activity.at
      ? t("today_active", { ago: ago(now.last_activity.minutes_ago) })
      : t("today_active_none"));
  }
  if (now.medication) {
    // This week and last week: doses confirmed of those due (their time to confirm is over).
    const weeks = now.medication.weeks;
    const [last, current] = [weeks[weeks.length - 2], weeks[weeks.length - 1]];
    const text = (w, key) => t(key, { confirmed: w.confirmed, expected: w.expected, missed: w.missed });
    if (current && current.expected) line("medication", text(current, "today_meds_week"), current.missed ? "warn" : "ok");
    if (last && last.expected) line("medication_last", text(last, "today_meds_last_week"), last.missed ? "warn" : "");
  }
  if ("next_agenda" in now) {
    line("next_agenda", now.next_agenda
      ? t("today_next", { title: now.next_agenda.title, when: formatDateTime(now.next_agenda.starts_at) })
      : t("today_next_none"));
  }
  if ("open_alarm" in now) {
    line("open_alarm", now.open_alarm
      ? t("today_alarm", { what: t(what[now.open_alarm.event_type] || "alarm_other") })
      : t("today_alarm_none"), now.open_alarm ? "alarm" : "");
  }
  if (!lines.length) line("not_shared", t("today_not_shared", { name: now.name }), "muted");
  section.querySelector(".today-list").innerHTML = lines.join("");
}

async function loadTodays(residentId) {
  const sections = [...document.querySelectorAll(".today")]
    .filter((s) => residentId === undefined || Number(s.dataset.resident) === residentId);
  await Promise.all(sections.map(loadToday));
}

function setUpHome() {
  setUpPush($("push")).catch((err) => console.warn("push", err));
  // A push that arrived while the page is open: show its notice here at once.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      // A push, or an answer given from a notification: the notices change.
      if (event.data && ["push", "answered"].includes(event.data.type)) loadAlarms().catch(() => {});
    });
  }
  // "20 minutes ago" must not go stale on a page left open.
  setInterval(() => loadTodays().catch(() => {}), 60_000);
  $("alarm-list").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-answer]");
    if (!button) return;
    const path = button.dataset.answer === "cannot" ? "cannot" : "on-my-way";
    button.disabled = true;
    try {
      await api(`/api/family/alarm-notices/${button.dataset.noticeId}/${path}`, { method: "POST", body: {} });
      await loadAlarms();
    } catch (err) {
      button.disabled = false;
      banner(err.message, "error");
    }
  });
  $("link-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("link-result");
    try {
      const link = await api("/api/family/links", {
        method: "POST", body: { code: $("link-code").value, relationship: $("link-rel").value.trim() },
      });
      result.className = "badge ok";
      result.textContent = t("linked_ok");
      result.hidden = false;
      setTimeout(() => location.reload(), 800);
      return link;
    } catch (err) {
      result.className = "error-text";
      result.textContent = err.message;
      result.hidden = false;
    }
  });
}

// ------------------------------------------------------------------ agenda page

async function loadAgenda(section) {
  const rid = section.dataset.resident;
  const items = await api(`/api/family/residents/${rid}/agenda`);
  const list = section.querySelector(".agenda-list");
  list.innerHTML = items.length ? "" : `<li class="muted">${escapeHtml(t("agenda_empty"))}</li>`;
  for (const item of items) {
    list.insertAdjacentHTML("beforeend",
      `<li><span class="when">${formatDateTime(item.starts_at)}</span><span>${escapeHtml(item.title)}</span>` +
      `<span class="badge ${item.status === "declined" ? "danger" : item.status === "pending" ? "warn" : "ok"}">${escapeHtml(t("status_" + item.status))}</span></li>`);
  }
}

// The agenda's "when": day, month and year in the order of the page's language, month
// names from Intl, a 24-hour clock — never the phone's own date input (mm/dd/yyyy, AM/PM
// on an English phone). Times are the centre's time zone, like every time on the page
// (ta.js's zoned / zonedToUtc, shared with the date fields of the other pages).

function option(value, label, selected) {
  return `<option value="${value}"${selected ? " selected" : ""}>${escapeHtml(label)}</option>`;
}

function setUpWhen(form) {
  const start = zoned(new Date(Date.now() + 24 * 3600 * 1000)); // tomorrow, this hour
  const el = form.elements;
  const number = new Intl.NumberFormat(locale, { minimumIntegerDigits: 2, useGrouping: false });
  const monthName = new Intl.DateTimeFormat(locale, { month: "long", timeZone: "UTC" });
  el.day.innerHTML = Array.from({ length: 31 }, (_, i) => option(i + 1, String(i + 1), i + 1 === start.day)).join("");
  el.month.innerHTML = Array.from({ length: 12 }, (_, i) =>
    option(i + 1, monthName.format(new Date(Date.UTC(2000, i, 1))), i + 1 === start.month)).join("");
  el.year.innerHTML = [0, 1, 2].map((k) => option(start.year + k, String(start.year + k), k === 0)).join("");
  const hour = start.hour >= 8 && start.hour <= 20 ? start.hour : 10; // no visit proposed at night
  el.hour.innerHTML = Array.from({ length: 24 }, (_, h) => option(h, number.format(h), h === hour)).join("");
  el.minute.innerHTML = Array.from({ length: 12 }, (_, k) => option(k * 5, number.format(k * 5), k === 0)).join("");
  // Day, month and year in the language's order (ca/es/en-GB: day first).
  const order = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" })
    .formatToParts(new Date()).map((p) => p.type).filter((type) => ["day", "month", "year"].includes(type));
  const row = form.querySelector(".when-date");
  for (const type of order) row.append(row.querySelector(`[data-part="${type}"]`));
}

function chosenWhen(form) {
  const el = form.elements;
  const [year, month, day, hour, minute] = ["year", "month", "day", "hour", "minute"].map((n) => Number(el[n].value));
  const when = zonedToUtc(year, month, day, hour, minute);
  const back = zoned(when);
  if (back.day !== day || back.month !== month) throw new Error(t("date_invalid")); // 31 April
  return when;
}

function setUpAgenda() {
  for (const section of document.querySelectorAll(".agenda")) {
    const agendaForm = section.querySelector("form");
    setUpWhen(agendaForm);
    agendaForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const error = form.querySelector(".error-text");
      try {
        const when = chosenWhen(form);
        await api(`/api/family/residents/${section.dataset.resident}/agenda`, {
          method: "POST", body: { title: form.elements.title.value, starts_at: when.toISOString(), kind: "visit" },
        });
        form.elements.title.value = "";
        error.hidden = true;
        await loadAgenda(section);
      } catch (err) {
        error.textContent = err.message || t("error_generic");
        error.hidden = false;
      }
    });
  }
}

// ------------------------------------------------------------------ wiring

async function refetch() {
  if (data.page === "chat") await loadMessages();
  if (data.page === "home") await Promise.all([loadChats(), loadAlarms(), loadTodays()]);
  if (data.page === "agenda") await Promise.all([...document.querySelectorAll(".agenda")].map(loadAgenda));
}

async function onMessage(msg) {
  if (msg.names) Object.assign(names, msg.names);
  switch (msg.type) {
    case "message.new":
      if (data.page === "chat" && msg.message.conversation_id === chat.id) {
        const empty = $("messages").querySelector(".empty");
        if (empty) empty.remove();
        if (msg.upload_id) dropUpload(msg.upload_id);
        putMessage(msg.message);
        if (msg.message.sender.party !== me) await markRead();
      } else if (data.page === "home") {
        await loadChats();
      }
      break;
    case "upload.changed":
      if (data.page === "chat") putUpload(msg.upload);
      break;
    case "upload.withdrawn":
      if (data.page === "chat") dropUpload(msg.upload_id);
      break;
    case "message.read":
    case "message.deleted":
      if (data.page === "chat" && msg.conversation_id === chat.id && msg.party !== me) await loadMessages();
      break;
    case "call.incoming":
      call.incoming(msg);
      break;
    case "call.state":
      await call.onState(msg);
      break;
    case "call.signal":
      await call.onSignal(msg);
      break;
    case "error":
      call.onError(msg);
      break;
    case "alarm.notice":
      if (data.page === "home") await Promise.all([loadAlarms(), loadTodays(msg.notice && msg.notice.resident_id)]);
      break;
    case "agenda.changed":
      if (data.page === "agenda" || data.page === "home") await refetch();
      break;
    case "today.changed":
      if (data.page === "home") await loadTodays(msg.resident_id);
      break;
    case "circle.changed":
      // What this person may see changed (or they were taken out): the page's list of
      // residents and their consent come from the server, so draw it again.
      if (data.page === "home" || data.page === "agenda" || msg.removed) location.reload();
      break;
    default:
      break;
  }
}

let callStarted = false;
const live = new LiveSocket("/api/family/ws", {
  onOpen: async () => {
    while (outbox.length) live.socket.send(JSON.stringify(outbox.shift()));
    if (data.page === "call" && !callStarted) {
      callStarted = true;
      await call.start(data.call_party);
    }
    await refetch();
  },
  onMessage: (msg) => onMessage(msg).catch((err) => console.error("live event", err)),
  onState: (state) => showConnection($("conn"), state),
});

if (data.page === "chat") setUpChat();
for (const el of document.querySelectorAll("time[data-iso]")) {
  if (el.dataset.iso) el.textContent = formatDateTime(el.dataset.iso);
}
if (data.page === "home") setUpHome();
if (data.page === "agenda") setUpAgenda();
if (data.page === "groups") setUpGroups();

// Tests and screenshots look at these; nothing else relies on them.
window.taFamily = { call, live, chat };
