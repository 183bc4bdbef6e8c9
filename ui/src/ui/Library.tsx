/** The Library: add documents (drop, pick files or a folder), follow their indexing, and
 * browse what is indexed. Rendered in place of the chat. */
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import type { LibraryController, LibraryState } from "../library/controller";
import { droppedFiles, megabytes, pickedFiles } from "../library/uploads";
import { useStore } from "../store";
import { ChunksPanel } from "./LibraryChunks";
import { DocumentTable, Filters, Pager } from "./LibraryTable";
import { Folders, Uploads } from "./LibraryUploads";

export function Library({ library }: { library: LibraryController }): JSX.Element {
  const state = useStore(library.store);
  return (
    <main class="library" data-testid="library" aria-labelledby="library-title">
      <header class="library-header">
        <h2 id="library-title">Library</h2>
        <p class="muted small">{summary(state)}</p>
      </header>
      <AddDocuments state={state} library={library} />
      {state.notice && (
        <p class="library-notice error-text" role="alert" data-testid="library-notice">
          {state.notice}{" "}
          <button type="button" class="link-button" onClick={() => library.dismissNotice()}>
            Dismiss
          </button>
        </p>
      )}
      <Uploads state={state} library={library} />
      <Folders folders={state.folders} />
      <section class="library-documents" aria-label="Documents">
        <Filters state={state} library={library} />
        {state.error && (
          <p class="error-text small" role="alert">
            {state.error}{" "}
            <button type="button" class="link-button" onClick={() => void library.reload()}>
              Try again
            </button>
          </p>
        )}
        <DocumentTable state={state} library={library} />
        <Pager state={state} library={library} />
      </section>
      {state.chunks && <ChunksPanel chunks={state.chunks} library={library} />}
    </main>
  );
}

function summary(state: LibraryState): string {
  const total = state.page?.total;
  if (total === undefined) return "Loading…";
  return `${total.toLocaleString()} document${total === 1 ? "" : "s"}`;
}

function AddDocuments({ state, library }: { state: LibraryState; library: LibraryController }) {
  const [over, setOver] = useState(false);
  const files = useRef<HTMLInputElement>(null);
  const folder = useRef<HTMLInputElement>(null);
  const info = state.info;
  const take = (input: HTMLInputElement) => {
    void library.addFiles(pickedFiles(input.files));
    input.value = "";
  };
  const collections = info?.writable ?? [state.collection];
  return (
    <section
      class={`drop-zone${over ? " over" : ""}`}
      data-testid="drop-zone"
      aria-label="Add documents"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(event) => {
        event.preventDefault();
        setOver(false);
        if (event.dataTransfer) void droppedFiles(event.dataTransfer).then((p) => library.addFiles(p));
      }}
    >
      <p class="drop-title">Drop files or folders here</p>
      <p class="muted small" data-testid="upload-limits">
        {info
          ? `${info.suffixes.map((s) => s.slice(1)).join(", ")} · up to ${megabytes(info.max_file_bytes)} each`
          : "Loading the limits…"}
      </p>
      <div class="drop-actions">
        <button type="button" class="button primary" onClick={() => files.current?.click()}>
          Add files
        </button>
        <button type="button" class="button" onClick={() => folder.current?.click()}>
          Add a folder
        </button>
        <label class="small">
          into{" "}
          <select
            data-testid="upload-collection"
            value={state.collection}
            onChange={(e) => library.setCollection((e.target as HTMLSelectElement).value)}
          >
            {collections.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <input
        ref={files}
        type="file"
        multiple
        hidden
        data-testid="upload-input"
        accept={info?.suffixes.join(",")}
        onChange={(e) => take(e.target as HTMLInputElement)}
      />
      <input
        ref={folder}
        type="file"
        multiple
        hidden
        data-testid="folder-input"
        {...{ webkitdirectory: "" }}
        onChange={(e) => take(e.target as HTMLInputElement)}
      />
    </section>
  );
}
