// Sign in and create an account; ask for a password reset link, and choose a new password
// from one (/reset-password?token=…). Errors appear next to the form in plain words and the
// fields keep what was typed. After an expiry, it says so and offers the same email.
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError } from "./api";
import type { Session } from "./session";

interface Props {
  api: Api;
  expired: boolean;
  lastEmail: string;
  onSignedIn: (s: Session) => void;
}

type Mode = "signin" | "signup" | "forgot" | "reset";

/** The token of a reset link the page was opened with, or null. */
function resetToken(): string | null {
  if (location.pathname !== "/reset-password") return null;
  return new URLSearchParams(location.search).get("token");
}

export function AuthScreen({ api, expired, lastEmail, onSignedIn }: Props) {
  const [token] = useState(resetToken);
  const [mode, setMode] = useState<Mode>(token ? "reset" : "signin");
  const [notice, setNotice] = useState("");
  const [email, setEmail] = useState(lastEmail);
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const passwordInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (expired && lastEmail) passwordInput.current?.focus();
    else heading.current?.focus();
  }, [expired, lastEmail]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "forgot") {
        await api.forgotPassword(email.trim());
        setNotice("If an account uses this address, a link to choose a new password is on its way. It works once, within 30 minutes.");
        return;
      }
      if (mode === "reset") {
        await api.resetPassword(token ?? "", password);
        setPassword("");
        history.replaceState(null, "", "/");
        setMode("signin");
        setNotice("Your password is changed. Sign in with the new one.");
        return;
      }
      const a = mode === "signin" ? await api.login(email.trim(), password) : await api.signup(email.trim(), password, name.trim());
      setPassword("");
      void api.adoptTimeZone(a);
      onSignedIn({ token: a.token, user: a.user });
    } catch (err) {
      if (mode === "reset" && err instanceof ApiError && err.status === 400) setError(new ApiError(400, "This reset link is invalid, used or expired. Ask for a new one."));
      else setError(err instanceof ApiError ? err : new ApiError(0, "Something went wrong. Try again."));
    } finally {
      setBusy(false);
    }
  };

  const switchTo = (m: Mode) => {
    setMode(m);
    setError(null);
    setNotice("");
  };

  const fieldError = (f: string) => error?.fields[f];
  const title = { signin: "Sign in", signup: "Create your account", forgot: "Reset your password", reset: "Choose a new password" }[mode];
  const submitLabel = { signin: "Sign in", signup: "Create account", forgot: "Send the link", reset: "Set the new password" }[mode];
  return (
    <div class="auth-page">
      <header class="auth-brand">
        <span class="logo" aria-hidden="true" />
        <span class="brand-name">todo</span>
      </header>
      <main class="auth-card" aria-labelledby="auth-title">
        <h1 id="auth-title" tabIndex={-1} ref={heading}>
          {title}
        </h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {expired && (
          <p class="notice" role="status">
            Your session has expired. Sign in again to carry on: everything you typed is still there.
          </p>
        )}
        <form onSubmit={submit} noValidate={false}>
          {mode === "signup" && (
            <div class="field">
              <label for="auth-name">Name (optional)</label>
              <input id="auth-name" name="name" autocomplete="name" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </div>
          )}
          {mode !== "reset" && (
          <div class="field">
            <label for="auth-email">Email</label>
            <input
              id="auth-email"
              name="email"
              type="email"
              autocomplete="email"
              required
              maxLength={254}
              value={email}
              aria-invalid={fieldError("email") ? true : undefined}
              aria-describedby={fieldError("email") ? "auth-email-error" : undefined}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
            {fieldError("email") && (
              <p class="field-error" id="auth-email-error">
                {fieldError("email")}
              </p>
            )}
          </div>
          )}
          {mode !== "forgot" && (
          <div class="field">
            <label for="auth-password">{mode === "reset" ? "New password" : "Password"}</label>
            <input
              id="auth-password"
              name="password"
              type="password"
              ref={passwordInput}
              autocomplete={mode === "signin" ? "current-password" : "new-password"}
              required
              minLength={mode === "signup" || mode === "reset" ? 8 : undefined}
              maxLength={128}
              value={password}
              aria-invalid={fieldError("password") ? true : undefined}
              aria-describedby={mode === "signup" || mode === "reset" ? "auth-password-hint" : undefined}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
            {(mode === "signup" || mode === "reset") && (
              <p class="hint" id="auth-password-hint">
                At least 8 characters.
              </p>
            )}
            {fieldError("password") && <p class="field-error">{fieldError("password")}</p>}
          </div>
          )}
          {error && !Object.keys(error.fields).length && (
            <p class="form-error" role="alert">
              {error.message}
            </p>
          )}
          {error && Object.keys(error.fields).length > 0 && (
            <p class="form-error" role="alert">
              Please check the highlighted fields.
            </p>
          )}
          <button type="submit" class="primary wide" disabled={busy}>
            {busy ? "Please wait…" : submitLabel}
          </button>
        </form>
        <p class="switch">
          {mode === "signin" ? (
            <>
              New here?{" "}
              <button type="button" class="link" onClick={() => switchTo("signup")}>
                Create an account
              </button>
              <br />
              <button type="button" class="link" onClick={() => switchTo("forgot")}>
                Forgot your password?
              </button>
            </>
          ) : (
            <>
              Already have an account?{" "}
              <button type="button" class="link" onClick={() => switchTo("signin")}>
                Sign in
              </button>
            </>
          )}
        </p>
      </main>
    </div>
  );
}
