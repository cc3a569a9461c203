// The family app's service worker (scope /family): shows the alarm notices the hub pushes
// (hub/family/webpush.py) when no page of the app is open, and opens the app on a tap.
// The payload arrives already decrypted by the browser (RFC 8291): JSON with title, body,
// lang, tag (one notification per alarm, replaced as it changes) and url.

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
      data: { url: data.url || "/family", notice_id: data.notice_id },
    });
    // An open page refreshes its notices at once.
    for (const client of await self.clients.matchAll({ type: "window" })) {
      client.postMessage({ type: "push", payload: data });
    }
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/family", self.location.origin);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).pathname.startsWith("/family"));
    if (open) {
      await open.focus();
      return open.navigate(target.href);
    }
    return self.clients.openWindow(target.href);
  })());
});
