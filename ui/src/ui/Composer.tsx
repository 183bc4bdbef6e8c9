/** The question box: Enter sends, Shift+Enter adds a line, Stop while an answer streams. */
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { AppState, Controller } from "../controller";
import { SendIcon, StopIcon } from "./icons";

const MAX_HEIGHT = 200;

export function Composer({ state, controller }: { state: AppState; controller: Controller }) {
  const box = useRef<HTMLTextAreaElement>(null);
  const busy = state.inFlight || state.loadingThread;
  const canSend = !busy && state.draft.trim() !== "";

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
  }, [state.draft]);

  // Give the focus back when an answer is complete.
  useEffect(() => {
    if (!busy) box.current?.focus({ preventScroll: true });
  }, [busy, state.chat.thread?.id]);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (canSend) void controller.send();
    }
  };

  const onSubmit = (event: Event) => {
    event.preventDefault();
    if (canSend) void controller.send();
  };

  return (
    <form class="composer" onSubmit={onSubmit} aria-label="Ask a question">
      <div class="composer-box">
        <textarea
          ref={box}
          data-testid="composer"
          rows={1}
          value={state.draft}
          disabled={busy}
          placeholder={busy ? "Answering…" : "Ask a question about your documents"}
          aria-label="Your question"
          aria-describedby="composer-hint"
          onInput={(e) => controller.setDraft((e.target as HTMLTextAreaElement).value)}
          onKeyDown={onKeyDown}
        />
        {state.inFlight && !state.loadingThread ? (
          <button
            type="button"
            class="send-button stop"
            data-testid="stop-button"
            aria-label="Stop answering"
            title="Stop"
            disabled={state.stopping}
            onClick={() => controller.stop()}
          >
            <StopIcon />
          </button>
        ) : (
          <button
            type="submit"
            class="send-button"
            data-testid="send-button"
            aria-label="Send"
            title="Send (Enter)"
            disabled={!canSend}
          >
            <SendIcon />
          </button>
        )}
      </div>
      <p id="composer-hint" class="hint">
        Enter to send · Shift+Enter for a new line
      </p>
    </form>
  );
}
