// "Alert me on this phone": the family app's Web Push subscription (hub/family/webpush.py).
// The browser's push service gives a subscription for our VAPID key; the hub keeps it and
// sends alarm notices there, which sw.js shows even when no page is open.
import { api, t } from "/static/web/ta.js";

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export async function registration() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
  return navigator.serviceWorker.register("/family/sw.js", { scope: "/family" });
}

/** Wire the card: its button turns alerts on or off; its text says what is true now. */
export async function setUpPush(card) {
  if (!card) return;
  const button = card.querySelector("[data-push-toggle]");
  const status = card.querySelector("[data-push-status]");
  const say = (key, on) => {
    status.textContent = t(key);
    card.dataset.state = key;
    button.textContent = t(on ? "push_disable" : "push_enable");
    button.hidden = key === "push_unavailable";
    card.hidden = false;
  };
  let key;
  try {
    key = (await api("/api/family/push/key")).public_key;
  } catch (err) {
    return; // this hub sends no push notifications: the card stays hidden
  }
  const reg = await registration().catch(() => null);
  if (!reg) return say("push_unavailable", false);
  const current = await reg.pushManager.getSubscription();
  say(current ? "push_on" : "push_off", Boolean(current));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const existing = await reg.pushManager.getSubscription();
      if (existing) {
        await api("/api/family/push/subscriptions", { method: "DELETE", body: { endpoint: existing.endpoint } });
        await existing.unsubscribe();
        return say("push_off", false);
      }
      if ((await Notification.requestPermission()) !== "granted") return say("push_denied", false);
      let subscription;
      try {
        subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      } catch (err) {
        // No push service (a browser without one, or offline): say so plainly.
        console.warn("push subscription failed", err);
        return say(Notification.permission === "denied" ? "push_denied" : "push_unavailable", false);
      }
      const json = subscription.toJSON();
      await api("/api/family/push/subscriptions", { method: "POST", body: { endpoint: json.endpoint, keys: json.keys } });
      say("push_on", true);
    } finally {
      button.disabled = false;
    }
  });
}
