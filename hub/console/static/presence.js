// "I have the console open": a heartbeat every 30 s for the supervisor's on-shift list.
import { api } from "/static/web/ta.js";

export function startHeartbeat() {
  const beat = () => api("/api/console/presence", { method: "POST", body: {} }).catch(() => {});
  beat();
  return setInterval(beat, 30000);
}
