/** The documents: filters, a sortable table with each one's status and actions, pages. */
import { useState } from "preact/hooks";
import type { LibraryController, LibraryState } from "../library/controller";
import { docKey } from "../library/controller";
import type { LibraryDocument, LibrarySort } from "../library/types";
import { fileSize } from "../library/uploads";

const STATUSES = ["indexed", "failed", "skipped", "queued", "indexing"];
const SORTS: Record<string, [LibrarySort, "asc" | "desc"]> = {
  "Name A–Z": ["name", "asc"],
  "Name Z–A": ["name", "desc"],
  "Newest first": ["indexed", "desc"],
  "Oldest first": ["indexed", "asc"],
  "Largest first": ["size", "desc"],
};

interface Props {
  state: LibraryState;
  library: LibraryController;
}

export function Filters({ state, library }: Props) {
  const { query } = state;
  const sortName =
    Object.entries(SORTS).find(([, [s, o]]) => s === query.sort && o === query.order)?.[0] ?? "";
  const collections = state.info?.collections ?? [];
  return (
    <form class="library-filters" onSubmit={(e) => e.preventDefault()}>
      <input
        type="search"
        class="library-search"
        data-testid="library-search"
        placeholder="Search by name"
        aria-label="Search documents by name"
        value={query.q}
        onInput={(e) => void library.setQuery({ q: (e.target as HTMLInputElement).value })}
      />
      <select
        aria-label="Collection"
        data-testid="filter-collection"
        value={query.collection}
        onChange={(e) => void library.setQuery({ collection: (e.target as HTMLSelectElement).value })}
      >
        <option value="">All collections</option>
        {collections.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      <select
        aria-label="Status"
        data-testid="filter-status"
        value={query.status}
        onChange={(e) => void library.setQuery({ status: (e.target as HTMLSelectElement).value })}
      >
        <option value="">Any status</option>
        {STATUSES.map((status) => (
          <option key={status} value={status}>
            {status}
          </option>
        ))}
      </select>
      <select
        aria-label="Sort"
        data-testid="library-sort"
        value={sortName}
        onChange={(e) => {
          const [sort, order] = SORTS[(e.target as HTMLSelectElement).value];
          void library.setQuery({ sort, order });
        }}
      >
        {Object.keys(SORTS).map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </form>
  );
}

export function DocumentTable({ state, library }: Props) {
  const items = state.page?.items ?? [];
  if (state.page && items.length === 0) {
    return <p class="muted small" data-testid="library-empty">No documents match.</p>;
  }
  return (
    <table class="library-table" aria-busy={state.loading}>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Format</th>
          <th scope="col">Collection</th>
          <th scope="col">Parts</th>
          <th scope="col">Chunks</th>
          <th scope="col">Indexed</th>
          <th scope="col">Status</th>
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((doc) => (
          <Row key={docKey(doc)} doc={doc} state={state} library={library} />
        ))}
      </tbody>
    </table>
  );
}

function Row({ doc, state, library }: Props & { doc: LibraryDocument }) {
  const [confirming, setConfirming] = useState(false);
  const busy = state.busy[docKey(doc)];
  return (
    <tr data-testid="doc-row" data-status={doc.status}>
      <td class="doc-name" title={`${doc.folder}/${doc.name}`}>
        {doc.name}
        <span class="muted small"> · {fileSize(doc.size)}</span>
      </td>
      <td>{doc.format}</td>
      <td>{doc.collection}</td>
      <td>{doc.part_kind ? `${doc.parts} ${doc.part_kind}${doc.parts === 1 ? "" : "s"}` : "—"}</td>
      <td>{doc.chunks}</td>
      <td>{doc.indexed_at ? new Date(doc.indexed_at * 1000).toLocaleString() : "—"}</td>
      <td>
        <span class={`status-chip ${doc.status}`} data-testid="doc-status">
          {busy === "removing" ? "removing…" : busy === "reindexing" ? "re-indexing…" : doc.status}
        </span>
        {doc.reason && (
          <span class="doc-reason small" data-testid="doc-reason">
            {doc.reason}
          </span>
        )}
      </td>
      <td class="doc-actions">
        {confirming ? (
          <>
            <button
              type="button"
              class="link-button danger"
              data-testid="confirm-remove"
              onClick={() => {
                setConfirming(false);
                void library.remove(doc);
              }}
            >
              Remove
            </button>
            <button type="button" class="link-button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </>
        ) : (
          <Actions doc={doc} busy={!!busy} library={library} onRemove={() => setConfirming(true)} />
        )}
      </td>
    </tr>
  );
}

interface ActionProps {
  doc: LibraryDocument;
  busy: boolean;
  library: LibraryController;
  onRemove: () => void;
}

function Actions({ doc, busy, library, onRemove }: ActionProps) {
  const name = doc.name;
  return (
    <>
      {doc.doc_id && doc.chunks > 0 && (
        <button
          type="button"
          class="link-button"
          data-testid="doc-chunks"
          aria-label={`Chunks of ${name}`}
          onClick={() => void library.showChunks(doc)}
        >
          Chunks
        </button>
      )}
      {doc.doc_id && (
        <button
          type="button"
          class="link-button"
          data-testid="doc-reindex"
          aria-label={`Re-index ${name}`}
          disabled={busy}
          onClick={() => void library.reindex(doc)}
        >
          Re-index
        </button>
      )}
      {doc.uploaded && (
        <button
          type="button"
          class="link-button danger"
          data-testid="doc-remove"
          aria-label={`Remove ${name}`}
          disabled={busy || doc.status === "queued" || doc.status === "indexing"}
          onClick={onRemove}
        >
          Remove
        </button>
      )}
    </>
  );
}

export function Pager({ state, library }: Props) {
  const page = state.page;
  if (!page || page.total <= page.limit) return null;
  const first = page.offset + 1;
  const last = Math.min(page.offset + page.limit, page.total);
  return (
    <nav class="pager" aria-label="Pages">
      <button
        type="button"
        class="button subtle"
        data-testid="pager-prev"
        disabled={page.offset === 0}
        onClick={() => void library.turnPage(-1)}
      >
        Previous
      </button>
      <span class="small" data-testid="page-info">
        {first.toLocaleString()}–{last.toLocaleString()} of {page.total.toLocaleString()}
      </span>
      <button
        type="button"
        class="button subtle"
        data-testid="pager-next"
        disabled={last >= page.total}
        onClick={() => void library.turnPage(1)}
      >
        Next
      </button>
    </nav>
  );
}
