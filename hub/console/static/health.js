// The hub's own health, on every console page: a banner while the broker subscription is
// down (alarms from the homes are not arriving) or the database fails (new alarms wait
// at the broker and appear when it is back), or the hub does not answer at all.
// The source is GET /readyz (no sign-in, no database needed to answer), asked every few
// seconds, and at once when the page comes back to the foreground. When the banner clears,
// the page's live sockets reconnect at once ("ta:hub-ready") instead of after their back-off.
import { t, formatTime } from "/static/web/ta.js";

const POLL_MS = Number(document.body.dataset.healthPollMs) || 5000;
const TIMEOUT_MS = 4000;
const since = {}; // problem → ISO time first seen (the banner says since when)

let el = document.getElementById("hub-health");
if (!el) {
  el = document.createElement("div");
  el.id = "hub-health";
  el.className = "banner error health";
  el.setAttribute("role", "alert");
  el.hidden = true;
  const after = document.getElementById("ta-banner");
  if (after) after.after(el);
  else document.body.prepend(el);
}

async function readiness() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch("/readyz", { cache: "no-store", signal: controller.signal });
    const body = await response.json();
    const problems = [];
    if (body.broker && body.broker !== "subscribed") problems.push("broker");
    if (body.database && body.database !== "ok") problems.push("database");
    return problems;
  } catch {
    return ["hub"];
  } finally {
    clearTimeout(timer);
  }
}

function show(problems) {
  // The hub is well again: a live socket waiting out its back-off connects now (ta.js).
  if (problems.length === 0 && !el.hidden) window.dispatchEvent(new Event("ta:hub-ready"));
  for (const key of Object.keys(since)) if (!problems.includes(key)) delete since[key];
  const now = new Date().toISOString();
  for (const key of problems) if (!(key in since)) since[key] = now;
  el.dataset.problems = problems.join(" ");
  el.replaceChildren(
    ...problems.map((key) => {
      const line = document.createElement("p");
      line.dataset.problem = key;
      line.textContent = t("health_" + key, { time: formatTime(since[key], { seconds: true }) });
      return line;
    }),
  );
  el.hidden = problems.length === 0;
}

let asked = 0; // a slow reply must not overwrite a newer one (a poll and a nudge cross)

export async function checkHealth() {
  const mine = ++asked;
  const problems = await readiness();
  if (mine === asked) show(problems);
}

checkHealth();
setInterval(checkHealth, POLL_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) checkHealth();
});
window.__taHealth = checkHealth;
