/** A document's chunks: the passages search sees, in order, each with its locator. */
import { useEffect, useRef } from "preact/hooks";
import type { ChunksState, LibraryController } from "../library/controller";
import { CloseIcon } from "./icons";

export function ChunksPanel({ chunks, library }: { chunks: ChunksState; library: LibraryController }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => close.current?.focus(), []);
  const page = chunks.page;
  const items = page?.items ?? [];
  return (
    <aside class="source-panel chunks-panel" data-testid="chunks-panel" aria-labelledby="chunks-title">
      <header class="panel-header">
        <div class="panel-heading">
          <p class="panel-kicker">
            {page ? `${page.total} chunk${page.total === 1 ? "" : "s"}` : "Chunks"}
          </p>
          <h2 id="chunks-title" class="panel-title">
            {chunks.doc.name}
          </h2>
        </div>
        <button
          ref={close}
          type="button"
          class="icon-button"
          aria-label="Close the chunks"
          onClick={() => library.closeChunks()}
        >
          <CloseIcon />
        </button>
      </header>
      {chunks.error && (
        <p class="error-text small" role="alert">
          {chunks.error}
        </p>
      )}
      <ol class="chunk-list" aria-busy={chunks.loading}>
        {items.map((chunk) => (
          <li key={chunk.chunk_id} class="chunk-item" data-testid="chunk-item">
            <p class="chunk-meta small muted">
              {chunk.locator && <span data-testid="chunk-locator">{chunk.locator.label}</span>}
              {chunk.heading && <span> · {chunk.heading}</span>}
            </p>
            <p class="chunk-text">{chunk.text}</p>
          </li>
        ))}
      </ol>
      {page && items.length < page.total && (
        <button
          type="button"
          class="button subtle"
          disabled={chunks.loading}
          onClick={() => void library.showChunks(chunks.doc, true)}
        >
          {chunks.loading ? "Loading…" : "Load more"}
        </button>
      )}
    </aside>
  );
}
