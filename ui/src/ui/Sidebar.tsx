/** Conversations: newest first, paged; new, open, rename, delete. */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { AppState, Controller } from "../controller";
import type { ThreadMeta } from "../protocol";
import { BooksIcon, EditIcon, PlusIcon, TrashIcon } from "./icons";

interface Props {
  state: AppState;
  controller: Controller;
  open: boolean;
  libraryOpen: boolean;
  onNavigate: () => void;
  /** Leaves the Library for the chat. */
  onChat: () => void;
}

export function Sidebar(props: Props): JSX.Element {
  const { state, controller, open, libraryOpen, onNavigate, onChat } = props;
  const current = state.chat.thread?.id ?? null;
  return (
    <nav
      id="sidebar"
      class={`sidebar${open ? " open" : ""}`}
      aria-label="Conversations"
    >
      <button
        type="button"
        class="button new-chat"
        data-testid="new-chat"
        onClick={() => {
          controller.newChat();
          onChat();
          onNavigate();
        }}
      >
        <PlusIcon /> New chat
      </button>
      <a
        class={`library-link${libraryOpen ? " current" : ""}`}
        href="#/library"
        data-testid="library-link"
        aria-current={libraryOpen ? "page" : undefined}
        onClick={onNavigate}
      >
        <BooksIcon /> Library
      </a>
      <h2 class="sidebar-title">Recent</h2>
      <ul class="thread-list" data-testid="thread-list">
        {state.threads.map((thread) => (
          <ThreadRow
            key={thread.id}
            thread={thread}
            current={thread.id === current}
            controller={controller}
            onNavigate={onNavigate}
          />
        ))}
      </ul>
      {state.threads.length === 0 && !state.threadsLoading && !state.threadsError && (
        <p class="muted small">No conversations yet.</p>
      )}
      {state.threadsError && (
        <p class="small error-text" role="alert">
          {state.threadsError}{" "}
          <button type="button" class="link-button" onClick={() => void controller.loadThreads()}>
            Try again
          </button>
        </p>
      )}
      {state.threadsHasMore && (
        <button
          type="button"
          class="button subtle load-more"
          data-testid="load-more"
          disabled={state.threadsLoading}
          onClick={() => void controller.loadThreads(true)}
        >
          {state.threadsLoading ? "Loading…" : "Load more"}
        </button>
      )}
    </nav>
  );
}

interface RowProps {
  thread: ThreadMeta;
  current: boolean;
  controller: Controller;
  onNavigate: () => void;
}

function ThreadRow({ thread, current, controller, onNavigate }: RowProps) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [title, setTitle] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const label = thread.title?.trim() || "New conversation";

  useEffect(() => {
    if (editing) input.current?.select();
  }, [editing]);

  const save = () => {
    setEditing(false);
    if (title.trim() && title.trim() !== label) void controller.renameThread(thread.id, title);
  };

  if (editing) {
    return (
      <li class="thread-item editing" data-testid="thread-item">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <input
            ref={input}
            class="rename-input"
            data-testid="rename-input"
            aria-label="Conversation title"
            value={title}
            maxLength={200}
            onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
            onBlur={save}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                setEditing(false);
              }
            }}
          />
        </form>
      </li>
    );
  }

  if (confirming) {
    return (
      <li class="thread-item confirming" data-testid="thread-item">
        <span class="confirm-text">Delete “{label}”?</span>
        <button
          type="button"
          class="link-button danger"
          data-testid="confirm-delete"
          ref={(el) => el?.focus()}
          onClick={() => {
            setConfirming(false);
            void controller.deleteThread(thread.id);
          }}
        >
          Delete
        </button>
        <button type="button" class="link-button" onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </li>
    );
  }

  return (
    <li class={`thread-item${current ? " current" : ""}`} data-testid="thread-item">
      <a
        class="thread-open"
        href={`#/t/${encodeURIComponent(thread.id)}`}
        aria-current={current ? "page" : undefined}
        title={label}
        onClick={onNavigate}
      >
        {label}
      </a>
      <span class="thread-actions">
        <button
          type="button"
          class="icon-button"
          data-testid="rename-thread"
          aria-label={`Rename “${label}”`}
          title="Rename"
          onClick={() => {
            setTitle(label);
            setEditing(true);
          }}
        >
          <EditIcon />
        </button>
        <button
          type="button"
          class="icon-button"
          data-testid="delete-thread"
          aria-label={`Delete “${label}”`}
          title="Delete"
          onClick={() => setConfirming(true)}
        >
          <TrashIcon />
        </button>
      </span>
    </li>
  );
}
