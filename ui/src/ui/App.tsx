/** The page: header with the knowledge-base status, conversations, the chat, the source panel. */
import type { JSX } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Controller } from "../controller";
import { LibraryController } from "../library/controller";
import type { KbStatus } from "../protocol";
import { useStore } from "../store";
import { Composer } from "./Composer";
import { MenuIcon, PlusIcon } from "./icons";
import { Library } from "./Library";
import { Messages } from "./Messages";
import { Sidebar } from "./Sidebar";
import { SourcePanel } from "./SourcePanel";
import { TokenDialog } from "./TokenDialog";

interface Props {
  controller: Controller;
  library?: LibraryController;
}

export function App({ controller, library: given }: Props): JSX.Element {
  const state = useStore(controller.store);
  const library = useMemo(() => given ?? new LibraryController(controller.client), [given, controller]);
  const libraryOpen = useStore(library.store).open;
  const [menuOpen, setMenuOpen] = useState(false);
  const toChat = () => {
    if (library.state.open) location.hash = "#/";
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      if (library.state.chunks) library.closeChunks();
      else if (controller.state.panel) controller.closePanel();
      else setMenuOpen(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [controller, library]);

  const title = state.chat.thread?.title?.trim();
  useEffect(() => {
    document.title = title ? `${title} · Knowledge base` : "Knowledge base";
  }, [title]);

  const ask = (question: string) => void controller.send(question);

  return (
    <div class={`app${state.panel ? " with-panel" : ""}`}>
      <a
        class="skip-link"
        href="#composer-form"
        onClick={(event) => {
          event.preventDefault();
          document.querySelector<HTMLTextAreaElement>("[data-testid='composer']")?.focus();
        }}
      >
        Skip to the question box
      </a>
      <header class="topbar">
        <button
          type="button"
          class="icon-button menu-button"
          aria-label="Conversations"
          aria-controls="sidebar"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <MenuIcon />
        </button>
        <h1 class="brand">
          <span class="brand-mark" aria-hidden="true">
            kb
          </span>
          <span class="brand-name">Knowledge base</span>
        </h1>
        <StatusLine status={state.status} error={state.statusError} />
        {state.me && (
          <span
            class="whoami"
            data-testid="whoami"
            title={state.me.is_admin ? "Admin: sees every collection" : undefined}
          >
            {state.me.user}
          </span>
        )}
        <button
          type="button"
          class="icon-button mobile-new"
          aria-label="New chat"
          onClick={() => {
            controller.newChat();
            toChat();
            setMenuOpen(false);
          }}
        >
          <PlusIcon />
        </button>
      </header>
      <div class="layout">
        <Sidebar
          state={state}
          controller={controller}
          open={menuOpen}
          libraryOpen={libraryOpen}
          onNavigate={() => setMenuOpen(false)}
          onChat={toChat}
        />
        {menuOpen && (
          <div class="scrim" aria-hidden="true" onClick={() => setMenuOpen(false)} />
        )}
        {libraryOpen ? (
          <Library library={library} />
        ) : (
          <main class="chat" aria-label={title ? `Conversation: ${title}` : "New conversation"}>
            <Messages state={state} controller={controller} onAsk={ask} />
            <div id="composer-form" class="composer-wrap">
              <Composer state={state} controller={controller} />
            </div>
          </main>
        )}
        {state.panel && !libraryOpen && <SourcePanel panel={state.panel} controller={controller} />}
      </div>
      <div class="toast-region" role="status" aria-live="polite">
        {state.toast && <div class="toast">{state.toast}</div>}
      </div>
      {state.authPrompt && (
        <TokenDialog retry={state.authPrompt.retry} controller={controller} />
      )}
    </div>
  );
}

function StatusLine({ status, error }: { status: KbStatus | null; error: string | null }) {
  if (!status) {
    return (
      <div class="kb-status muted" data-testid="kb-status" title={error ?? undefined}>
        {error ? "Status unavailable" : "Loading status…"}
      </div>
    );
  }
  const n = (value: number, word: string) =>
    `${value.toLocaleString()} ${word}${value === 1 ? "" : "s"}`;
  return (
    <div
      class="kb-status"
      data-testid="kb-status"
      aria-label={`Knowledge base: ${n(status.documents, "document")}, ${n(status.chunks, "chunk")}, chat model ${status.chat_model}, embedding model ${status.embedding_model}`}
    >
      <span class="stat">{n(status.documents, "document")}</span>
      <span class="stat">{n(status.chunks, "chunk")}</span>
      <span class="stat model" title={`Embeddings: ${status.embedding_model}`}>
        {status.chat_model}
      </span>
    </div>
  );
}
