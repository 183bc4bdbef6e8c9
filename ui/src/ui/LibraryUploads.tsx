/** Uploads as they go (sending, queued, indexing, then indexed / failed / skipped with the
 * reason), and the folders the server syncs with their last sync. */
import type { LibraryController, LibraryState } from "../library/controller";
import type { FolderView, JobSummary } from "../library/types";
import type { UploadItem } from "../library/uploads";
import { fileSize } from "../library/uploads";

const PHASE_LABEL: Record<UploadItem["phase"], string> = {
  rejected: "Not sent",
  uploading: "Uploading…",
  queued: "Queued",
  indexing: "Indexing…",
  indexed: "Indexed",
  failed: "Failed",
  skipped: "Skipped",
};

export function Uploads({ state, library }: { state: LibraryState; library: LibraryController }) {
  if (state.uploads.length === 0) return null;
  const active = state.uploads.filter((u) => ["uploading", "queued", "indexing"].includes(u.phase));
  return (
    <section class="uploads" aria-label="Uploads">
      <header class="uploads-header">
        <h3>Uploads</h3>
        <span class="muted small" aria-live="polite" data-testid="uploads-summary">
          {active.length ? `${active.length} in progress` : "All done"}
        </span>
        {active.length < state.uploads.length && (
          <button type="button" class="link-button" onClick={() => library.clearFinishedUploads()}>
            Clear finished
          </button>
        )}
      </header>
      <ul class="upload-list">
        {state.uploads.map((upload) => (
          <li
            key={upload.key}
            class={`upload-item ${upload.phase}`}
            data-testid="upload-item"
            data-status={upload.phase}
          >
            <span class="upload-name" title={upload.storedAs ?? upload.name}>
              {upload.storedAs ?? upload.name}
            </span>
            <span class="muted small">{fileSize(upload.size)}</span>
            <span class={`status-chip ${upload.phase}`} data-testid="upload-status">
              {PHASE_LABEL[upload.phase]}
              {upload.phase === "indexing" && upload.progress?.total
                ? ` ${upload.progress.done} of ${upload.progress.total} files`
                : ""}
            </span>
            {upload.reason && (
              <span class="upload-reason small" data-testid="upload-reason">
                {upload.reason}
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Folders({ folders }: { folders: FolderView[] }) {
  if (folders.length === 0) return null;
  return (
    <section class="folders" aria-label="Folders">
      <h3>Folders</h3>
      <ul class="folder-list">
        {folders.map((folder) => (
          <li key={folder.folder} class="folder-item" data-testid="folder-item">
            <span class="folder-path" title={folder.folder}>
              {folder.folder}
            </span>
            <span class="muted small">
              {folder.documents.toLocaleString()} documents · {folder.collection}
              {folder.watched ? " · watched" : ""}
            </span>
            <span class="small" data-testid="folder-sync">
              {lastSync(folder.last_sync)}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function lastSync(job: JobSummary | null): string {
  if (!job) return "No sync since the server started";
  const when = job.finished_at ? new Date(job.finished_at * 1000).toLocaleTimeString() : "";
  if (job.state !== "done") return `Last sync ${when}: ${job.error ?? job.state}`;
  const counts = job.counts ?? {};
  const parts = ["added", "updated", "deleted", "failed", "skipped"]
    .filter((name) => counts[name])
    .map((name) => `${counts[name]} ${name}`);
  return `Last sync ${when}: ${parts.length ? parts.join(", ") : "no changes"}`;
}
