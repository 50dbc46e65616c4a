// Short messages at the bottom of the screen ("Deleted … Undo"), announced politely to screen
// readers. A toast stays while the pointer or focus is on it, so Undo can always be reached.
import { useEffect, useRef, useState } from "preact/hooks";

export interface Toast {
  id: number;
  text: string;
  action?: { label: string; run: () => void };
  error?: boolean;
}

const TOAST_MS = 10_000;

function ToastItem({ toast, onClose }: { toast: Toast; onClose: () => void }) {
  const [held, setHeld] = useState(false);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    if (held) return;
    const timer = setTimeout(() => close.current(), TOAST_MS);
    return () => clearTimeout(timer);
  }, [held]);
  return (
    <li
      class={toast.error ? "toast error" : "toast"}
      onMouseEnter={() => setHeld(true)}
      onMouseLeave={() => setHeld(false)}
      onFocusIn={() => setHeld(true)}
      onFocusOut={() => setHeld(false)}
    >
      <span>{toast.text}</span>
      {toast.action && (
        <button
          type="button"
          class="toast-action"
          onClick={() => {
            toast.action?.run();
            onClose();
          }}
        >
          {toast.action.label}
        </button>
      )}
      <button type="button" class="icon small" aria-label="Dismiss" onClick={onClose}>
        ×
      </button>
    </li>
  );
}

export function Toasts({ toasts, onClose }: { toasts: Toast[]; onClose: (id: number) => void }) {
  return (
    <section class="toasts" aria-label="Messages">
      <ul aria-live="polite" aria-relevant="additions text">
        {toasts.map((t) => (
          <ToastItem key={t.id} toast={t} onClose={() => onClose(t.id)} />
        ))}
      </ul>
    </section>
  );
}
