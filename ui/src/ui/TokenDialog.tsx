/** Asks once for the access token the server wants (KB_AUTH_TOKEN); it is kept in this browser. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Controller } from "../controller";

export function TokenDialog({ retry, controller }: { retry: boolean; controller: Controller }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [token, setToken] = useState("");

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) {
      if (typeof el.showModal === "function") el.showModal();
      else el.setAttribute("open", "");
    }
  }, []);

  return (
    <dialog
      ref={dialog}
      class="token-dialog"
      aria-labelledby="token-title"
      onCancel={(e) => {
        e.preventDefault();
        controller.submitToken(null);
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          controller.submitToken(token);
        }}
      >
        <h2 id="token-title">Access token</h2>
        <p class="muted">
          {retry
            ? "That token was not accepted. Enter the server's access token."
            : "This server needs an access token (KB_AUTH_TOKEN). It is kept in this browser."}
        </p>
        <input
          type="password"
          data-testid="token-input"
          aria-label="Access token"
          autocomplete="current-password"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          autofocus
        />
        <div class="dialog-actions">
          <button type="button" class="button subtle" onClick={() => controller.submitToken(null)}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={!token.trim()}>
            Continue
          </button>
        </div>
      </form>
    </dialog>
  );
}
