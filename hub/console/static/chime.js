// A short, clear two-tone chime (WebAudio, no sound file) for new urgent alarms.
import { t } from "/static/web/ta.js";

let context = null;
window.__taChimes = 0;

function ensureContext() {
  if (!context) {
    const Ctor = window.AudioContext || window.webkitAudioContext;
    if (!Ctor) return null;
    context = new Ctor();
  }
  return context;
}

export function soundState() {
  const ctx = ensureContext();
  return ctx && ctx.state === "running" ? "on" : "off";
}

export function bindSoundToggle(button) {
  const show = () => {
    const state = soundState();
    button.dataset.state = state;
    button.textContent = state === "on" ? t("sound_on") : t("sound_off");
    button.title = state === "on" ? t("sound_on_hint") : t("sound_off_hint");
  };
  button.addEventListener("click", async () => {
    const ctx = ensureContext();
    if (ctx) await ctx.resume();
    show();
    chime(1);
  });
  const ctx = ensureContext();
  if (ctx) ctx.onstatechange = show;
  show();
}

/** Play the chime `times` times (counted in window.__taChimes for tests). */
export function chime(times = 2) {
  window.__taChimes += 1;
  const ctx = ensureContext();
  if (!ctx || ctx.state !== "running") return false;
  const start = ctx.currentTime + 0.02;
  for (let i = 0; i < times; i++) {
    [[880, 0], [660, 0.18]].forEach(([freq, offset]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.5 + offset;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    });
  }
  return true;
}
