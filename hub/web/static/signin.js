// Sign-in page: POST /api/auth/login, remember the user's language, go to `next` or the
// home page of the user's role.
import { t, pageData, setLanguageCookie } from "./ta.js";

const form = document.getElementById("signin-form");
const errorBox = document.getElementById("signin-error");
const submit = document.getElementById("signin-submit");
const data = pageData();

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function safeNext(value) {
  // Only paths on this site: never an open redirect to another origin. Browsers read a
  // backslash as "/" and drop tabs and newlines, so "/<backslash>evil.example" is another
  // site: refuse those characters, then let the URL parser have the last word on the origin.
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//")) return null;
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return null;
  let url;
  try {
    url = new URL(value, location.origin);
  } catch (err) {
    return null;
  }
  if (url.origin !== location.origin) return null;
  return url.pathname + url.search + url.hash;
}

// Sent here because the short-lived access token expired? The refresh cookie may still be
// good: try it once before asking for the password again.
const wanted = safeNext(new URLSearchParams(location.search).get("next"));
if (wanted) {
  fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" })
    .then((r) => {
      if (r.ok) location.replace(wanted);
    })
    .catch(() => {});
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError(t("fill_both"));
    return;
  }
  showError("");
  submit.disabled = true;
  submit.textContent = t("signing_in");
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username, password }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const known = ["invalid_credentials", "too_many_attempts", "account_disabled"];
      showError(known.includes(body.error) ? t(body.error) : t("error_generic", { message: body.message || response.status }));
      return;
    }
    if (body.user && body.user.language) setLanguageCookie(body.user.language);
    const home = (data.home_by_role || {})[body.user && body.user.role] || "/";
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    location.assign(next || home);
  } catch (err) {
    showError(t("error_network"));
  } finally {
    submit.disabled = false;
    submit.textContent = t("sign_in");
  }
});
