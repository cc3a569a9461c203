// The family app's service worker (scope /family): shows the alarm notices the hub pushes
// (hub/family/webpush.py) when no page of the app is open, and opens the app on a tap.
// The payload arrives already decrypted by the browser (RFC 8291): JSON with title, body,
// lang, tag (one notification per alarm, replaced as it changes), url, the alarm's stage and,
// while it is open, two actions: "I'm on my way" and "I can't", answered from the
// notification itself (onNotificationClick below) without opening the app.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : {};
  } catch (err) {
    data = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil((async () => {
    await self.registration.showNotification(data.title || "Teleassist", {
      body: data.body || "",
      lang: data.lang || "",
      tag: data.tag || "teleassist",
      renotify: true,
      // An open alarm stays until it is seen; "closed" may go by itself.
      requireInteraction: data.state === "open",
      icon: "/static/family/icon-192.png",
      actions: (data.actions || []).slice(0, 2),
      data: { url: data.url || "/family", notice_id: data.notice_id, answered: data.answered || {} },
    });
    // An open page refreshes its notices at once.
    for (const client of await self.clients.matchAll({ type: "window" })) {
      client.postMessage({ type: "push", payload: data });
    }
  })());
});

const ANSWER_PATHS = { on_my_way: "on-my-way", cannot: "cannot" };

// POST the answer with the signed-in person's cookies; true when the hub recorded it.
async function sendAnswer(noticeId, action) {
  try {
    const response = await fetch(`/api/family/alarm-notices/${noticeId}/${ANSWER_PATHS[action]}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    });
    return response.ok;
  } catch (err) {
    return false;
  }
}

async function openApp(url) {
  const target = new URL(url || "/family", self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).pathname.startsWith("/family"));
  if (open) {
    await open.focus();
    return open.navigate(target.href);
  }
  return self.clients.openWindow(target.href);
}

// A tap on the notification opens the app; a tap on one of its actions answers the alarm
// and says so in the notification (or, if the answer could not be sent — signed out, no
// network — says that and opens the app, where the buttons are).
async function onNotificationClick(notification, action) {
  const data = notification.data || {};
  if (!(action in ANSWER_PATHS) || !data.notice_id) return openApp(data.url);
  const ok = await sendAnswer(data.notice_id, action);
  const answered = data.answered || {};
  await self.registration.showNotification(notification.title, {
    body: (ok ? answered[action] : answered.failed) || "",
    lang: notification.lang,
    tag: notification.tag,
    icon: "/static/family/icon-192.png",
    data,
  });
  for (const client of await self.clients.matchAll({ type: "window" })) {
    client.postMessage({ type: "answered", notice_id: data.notice_id, ok });
  }
  if (!ok) return openApp(data.url);
  return undefined;
}
self.onNotificationClick = onNotificationClick; // the browser test calls it as a tap would

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(onNotificationClick(event.notification, event.action));
});
