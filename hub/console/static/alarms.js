// The alarms API of the hub (docs/alarms-api.md), in one place: if the API changes, only
// this file changes.
import { api } from "/static/web/ta.js";

const base = "/api/alarms";
const one = (id) => `${base}/${encodeURIComponent(id)}`;

export const LIVE_PATH = `${base}/live`;

export function listAlarms(params = {}) {
  const query = new URLSearchParams(params).toString();
  return api(base + (query ? "?" + query : "")).then((r) => r.alarms || []);
}
export const getAlarm = (id) => api(one(id));
export const getCodes = () => api(`${base}/codes`);
export const accept = (id) => api(`${one(id)}/accept`, { method: "POST", body: {} });
export const contactAttempt = (id, party, result, notes) =>
  api(`${one(id)}/contact-attempts`, { method: "POST", body: { party: String(party), result, channel: "phone", notes } });
export const addNote = (id, text) => api(`${one(id)}/notes`, { method: "POST", body: { text } });
export const escalate = (id, target, detail) =>
  api(`${one(id)}/escalations`, { method: "POST", body: { target, detail } });
export const emergencyPayload = (id) => api(`${one(id)}/emergency-payload?format=eido`);
export const resolve = (id, outcome, notes) =>
  api(`${one(id)}/resolve`, { method: "POST", body: { outcome, notes } });
