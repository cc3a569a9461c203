// Joining by oneself (/family/join) and a forgotten password (/family/reset): two small
// forms each, posting to the public endpoints of hub/family/signup.py.
import { t, setLanguageCookie } from "/static/web/ta.js";

const lang = document.body.dataset.lang || "ca";
const KNOWN = new Set([
  "code_malformed", "code_unknown", "code_used", "code_expired", "code_revoked",
  "contact_invalid", "password_weak", "too_many_attempts", "too_many_requests",
  "verification_wrong", "verification_locked", "verification_expired", "verification_used",
  "contact_taken", "message_not_sent",
]);

function show(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, data };
}

function explain(data) {
  if (KNOWN.has(data.error)) {
    return t("err_" + data.error, { left: data.tries_left ?? 0, s: data.retry_after_s ?? 0 });
  }
  return t("error_generic", { message: data.message || "" });
}

/** Wire one form: collect fields, post, show the error or call done(data). */
function wire(form, errorBox, button, url, extra, done) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(errorBox, "");
    const body = Object.fromEntries(new FormData(form).entries());
    button.disabled = true;
    try {
      const { ok, data } = await post(typeof url === "function" ? url() : url, { ...body, ...extra });
      if (!ok) show(errorBox, explain(data));
      else done(data);
    } catch (err) {
      show(errorBox, t("error_network"));
    } finally {
      button.disabled = false;
    }
  });
}

const $ = (id) => document.getElementById(id);

if ($("join-form")) {
  let signupId = "";
  wire($("join-form"), $("join-error"), $("join-submit"), "/api/family/signup", { language: lang }, (data) => {
    signupId = data.signup_id;
    $("join-form").hidden = true;
    $("verify-form").hidden = false;
    $("verify-sent").textContent = t("verify_sent", { to: data.sent_to });
    $("verify-code").focus();
  });
  wire($("verify-form"), $("verify-error"), $("verify-submit"), () => `/api/family/signup/${encodeURIComponent(signupId)}/verify`, {}, (data) => {
    if (data.user && data.user.language) setLanguageCookie(data.user.language);
    location.assign("/family");
  });
}

if ($("reset-form")) {
  let resetId = "";
  wire($("reset-form"), $("reset-error"), $("reset-submit"), "/api/auth/password-reset", { language: lang }, (data) => {
    resetId = data.reset_id;
    $("reset-form").hidden = true;
    $("confirm-form").hidden = false;
    $("confirm-sent").textContent = t("reset_sent", { to: data.sent_to });
    $("confirm-code").focus();
  });
  wire($("confirm-form"), $("confirm-error"), $("confirm-submit"), () => `/api/auth/password-reset/${encodeURIComponent(resetId)}/confirm`, {}, () => {
    $("confirm-form").hidden = true;
    $("reset-done").hidden = false;
  });
}
