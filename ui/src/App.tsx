// The app's top level: who is signed in. Signed out, it shows the sign-in screen. When the
// token expires, the task screen stays mounted (hidden and inert, with everything typed in
// it) under the sign-in screen, and comes back as it was once the same user signs in again.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Api } from "./api";
import { AuthScreen } from "./AuthScreen";
import { askOtherTabs, forgetTabState, listenToTabs, loadSession, saveSession, type Session, tellTabs, tokenExpiry } from "./session";
import { TasksApp } from "./TasksApp";

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [expired, setExpired] = useState(false);
  const [asking, setAsking] = useState(session === null);
  const [tabChange, setTabChange] = useState(0);
  const sessionRef = useRef(session);
  const expiredRef = useRef(expired);
  sessionRef.current = session;
  expiredRef.current = expired;

  const api = useMemo(
    () =>
      new Api({
        token: () => sessionRef.current?.token ?? null,
        onUnauthorized: () => setExpired(true),
      }),
    [],
  );

  const adopt = useCallback((s: Session) => {
    saveSession(s);
    setSession(s);
    setExpired(false);
  }, []);

  const signOut = useCallback((tell: boolean) => {
    forgetTabState();
    saveSession(null);
    setSession(null);
    setExpired(false);
    if (tell) tellTabs({ t: "signout" });
  }, []);

  // A tab opened without a session asks the others (sessionStorage is per tab).
  useEffect(() => {
    if (!asking) return;
    void askOtherTabs().then((s) => {
      if (s && !sessionRef.current) adopt(s);
      setAsking(false);
    });
  }, [asking, adopt]);

  useEffect(
    () =>
      listenToTabs({
        current: () => (expiredRef.current ? null : sessionRef.current),
        signedIn: (s) => {
          const cur = sessionRef.current;
          // Another tab signed in: take it when signed out, or when it renews our own user.
          if (!cur || (cur.user.id === s.user.id && (expiredRef.current || cur.token !== s.token))) adopt(s);
        },
        signedOut: () => signOut(false),
        changed: () => setTabChange((n) => n + 1),
      }),
    [adopt, signOut],
  );

  // Expire on time, even when no request is made in between.
  useEffect(() => {
    if (!session || expired) return;
    const exp = tokenExpiry(session.token);
    if (exp === null) return;
    const ms = exp - Date.now();
    if (ms > 2 ** 31 - 1) return;
    const timer = setTimeout(() => setExpired(true), Math.max(0, ms));
    return () => clearTimeout(timer);
  }, [session, expired]);

  const signedIn = useCallback(
    (s: Session) => {
      adopt(s);
      tellTabs({ t: "share", s });
    },
    [adopt],
  );

  if (asking) return null;
  return (
    <>
      {session && (
        <TasksApp
          key={session.user.id}
          api={api}
          user={session.user}
          hidden={expired}
          tabChange={tabChange}
          onSignOut={() => signOut(true)}
        />
      )}
      {(!session || expired) && (
        <AuthScreen api={api} expired={expired} lastEmail={session?.user.email ?? ""} onSignedIn={signedIn} />
      )}
    </>
  );
}
