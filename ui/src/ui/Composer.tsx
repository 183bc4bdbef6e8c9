/** The question box: Enter sends, Shift+Enter adds a line, Stop while an answer streams;
 * files are attached with the paperclip or dropped on it. */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { AppState, Controller } from "../controller";
import { AttachmentChip } from "./AttachmentChip";
import { PaperclipIcon, SendIcon, StopIcon } from "./icons";

const MAX_HEIGHT = 200;

export function Composer({ state, controller }: { state: AppState; controller: Controller }) {
  const box = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const busy = state.inFlight || state.loadingThread;
  const canSend = controller.canSend();

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

  const attach = (files: FileList | null | undefined) => {
    if (files && files.length) void controller.attach([...files]);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    attach(event.dataTransfer?.files);
  };

  const onDragOver = (event: DragEvent) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    setDragging(true);
  };

  return (
    <form
      class={`composer${dragging ? " dragging" : ""}`}
      onSubmit={onSubmit}
      aria-label="Ask a question"
      onDragOver={onDragOver}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      {state.attachments.length > 0 && (
        <div class="attachment-chips" aria-label="Attached files">
          {state.attachments.map((attachment) => (
            <AttachmentChip
              key={attachment.key}
              attachment={attachment}
              onRemove={(key) => void controller.removeAttachment(key)}
            />
          ))}
        </div>
      )}
      <div class="composer-box">
        <button
          type="button"
          class="attach-button"
          data-testid="attach-button"
          aria-label="Attach files"
          title="Attach files (or drop them here)"
          disabled={busy}
          onClick={() => picker.current?.click()}
        >
          <PaperclipIcon />
        </button>
        <input
          ref={picker}
          type="file"
          multiple
          hidden
          data-testid="attach-input"
          onChange={(event) => {
            const input = event.target as HTMLInputElement;
            attach(input.files);
            input.value = "";
          }}
        />
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
