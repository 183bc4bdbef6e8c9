/**
 * The Library: what is indexed (paged, sorted, filtered), uploads with their live status,
 * remove / re-index, a document's chunks, and the folders' last syncs. Its own store, so the
 * chat's controller stays as it is; the view only renders this state.
 */
import type { ChatKitClient } from "../client";
import { describe } from "../controller";
import { Store } from "../store";
import { type ListQuery, LibraryApi } from "./api";
import type {
  ChunkPage,
  DocumentStatus,
  FolderView,
  JobSummary,
  LibraryDocument,
  LibraryInfo,
  LibraryPage,
} from "./types";
import { FINISHED_JOB } from "./types";
import { UploadSender } from "./sender";
import { type Picked, type UploadItem, refusal, rejectedUpload, startedUpload } from "./uploads";

export type { UploadItem } from "./uploads";

export interface ChunksState {
  doc: LibraryDocument;
  page: ChunkPage | null;
  loading: boolean;
  error: string | null;
}

export interface LibraryState {
  open: boolean;
  info: LibraryInfo | null;
  query: ListQuery;
  page: LibraryPage | null;
  loading: boolean;
  error: string | null;
  folders: FolderView[];
  uploads: UploadItem[];
  collection: string;
  /** Documents with a remove or re-index under way. */
  busy: Record<string, "removing" | "reindexing">;
  chunks: ChunksState | null;
  notice: string | null;
}

export const PAGE_SIZE = 50;

export const initialLibrary: LibraryState = {
  open: false,
  info: null,
  query: { q: "", status: "", collection: "", sort: "name", order: "asc", offset: 0, limit: PAGE_SIZE },
  page: null,
  loading: false,
  error: null,
  folders: [],
  uploads: [],
  collection: "default",
  busy: {},
  chunks: null,
  notice: null,
};

export interface LibraryOptions {
  pollMs?: number;
  /** Called when documents were added or removed (the header's counts). */
  onChange?: () => void;
}

export class LibraryController {
  readonly store = new Store<LibraryState>(initialLibrary);
  readonly api: LibraryApi;
  private readonly pollMs: number;
  private readonly onChange: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private listing = 0;
  private readonly sender: UploadSender;
  /** Remove and re-index jobs being followed: job id -> document id. */
  private jobs = new Map<string, string>();

  constructor(client: ChatKitClient, options: LibraryOptions = {}) {
    this.api = new LibraryApi(client);
    this.pollMs = options.pollMs ?? 700;
    this.onChange = options.onChange ?? (() => undefined);
    this.sender = new UploadSender(
      this.api,
      (key, change) => this.updateUpload(key, change),
      () => this.schedule(),
    );
  }

  get state(): LibraryState {
    return this.store.get();
  }

  private patch(change: Partial<LibraryState>): void {
    this.store.update((s) => ({ ...s, ...change }));
  }

  async open(): Promise<void> {
    this.patch({ open: true });
    await Promise.all([this.loadInfo(), this.reload()]);
  }

  close(): void {
    this.patch({ open: false, chunks: null });
  }

  private async loadInfo(): Promise<LibraryInfo | null> {
    try {
      const info = this.state.info ?? (await this.api.info());
      const { collection } = this.state;
      const target = info.writable.includes(collection) ? collection : (info.writable[0] ?? collection);
      this.patch({ info, collection: target });
      return info;
    } catch (error) {
      this.patch({ error: describe(error) });
      return null;
    }
  }

  /** The documents page for the current query, and the folders. */
  async reload(): Promise<void> {
    const listing = ++this.listing;
    this.patch({ loading: true });
    try {
      const [page, folders] = await Promise.all([
        this.api.documents(this.state.query),
        this.api.folders(),
      ]);
      if (listing === this.listing) this.patch({ page, folders, loading: false, error: null });
    } catch (error) {
      if (listing === this.listing) this.patch({ loading: false, error: describe(error) });
    }
  }

  /** Changes the filters or the sort; back to the first page. */
  async setQuery(change: Partial<ListQuery>): Promise<void> {
    const query = { ...this.state.query, offset: 0, ...change };
    this.patch({ query });
    await this.reload();
  }

  async turnPage(direction: 1 | -1): Promise<void> {
    const { query, page } = this.state;
    const offset = Math.max(0, query.offset + direction * query.limit);
    if (page && offset >= page.total && direction > 0) return;
    await this.setQuery({ offset });
  }

  setCollection(collection: string): void {
    this.patch({ collection });
  }

  // --- uploads ------------------------------------------------------------------------------

  /** Checks each file against the server's limits, then sends those that pass. */
  async addFiles(picked: Picked[]): Promise<void> {
    const info = await this.loadInfo();
    if (!info || picked.length === 0) return;
    const collection = this.state.collection;
    const items: UploadItem[] = [];
    const accepted: { item: UploadItem; file: Blob }[] = [];
    for (const { file, name } of picked) {
      const reason = refusal(info, name, file.size);
      const item = reason
        ? rejectedUpload(name, file.size, collection, reason)
        : startedUpload(name, file.size, collection);
      items.push(item);
      if (!reason) accepted.push({ item, file });
    }
    this.patch({ uploads: [...items, ...this.state.uploads] });
    await this.sender.add(accepted);
  }

  private updateUpload(key: string, change: Partial<UploadItem>): void {
    this.store.update((s) => ({
      ...s,
      uploads: s.uploads.map((u) => (u.key === key ? { ...u, ...change } : u)),
    }));
  }

  clearFinishedUploads(): void {
    const active: string[] = ["uploading", "queued", "indexing"];
    this.patch({ uploads: this.state.uploads.filter((u) => active.includes(u.phase)) });
  }

  // --- remove, re-index, chunks -------------------------------------------------------------

  async remove(doc: LibraryDocument): Promise<void> {
    await this.follow(doc, "removing", () =>
      doc.doc_id ? this.api.remove(doc.doc_id) : this.api.discard(doc.upload_id ?? ""),
    );
  }

  async reindex(doc: LibraryDocument): Promise<void> {
    if (doc.doc_id) await this.follow(doc, "reindexing", () => this.api.reindex(doc.doc_id ?? ""));
  }

  private async follow(
    doc: LibraryDocument,
    action: "removing" | "reindexing",
    start: () => Promise<JobSummary>,
  ): Promise<void> {
    const key = docKey(doc);
    this.patch({ busy: { ...this.state.busy, [key]: action } });
    try {
      const job = await start();
      this.jobs.set(job.job_id, key);
      this.schedule();
    } catch (error) {
      this.done(key);
      this.patch({ notice: describe(error) });
    }
  }

  private done(key: string): void {
    const { [key]: _finished, ...busy } = this.state.busy;
    this.patch({ busy });
  }

  async showChunks(doc: LibraryDocument, more = false): Promise<void> {
    if (!doc.doc_id) return;
    const previous = more ? this.state.chunks?.page ?? null : null;
    this.patch({ chunks: { doc, page: previous, loading: true, error: null } });
    try {
      const page = await this.api.chunks(doc.doc_id, previous?.items.length ?? 0);
      const items = [...(previous?.items ?? []), ...page.items];
      this.patch({ chunks: { doc, page: { ...page, items }, loading: false, error: null } });
    } catch (error) {
      this.patch({ chunks: { doc, page: previous, loading: false, error: describe(error) } });
    }
  }

  closeChunks(): void {
    this.patch({ chunks: null });
  }

  dismissNotice(): void {
    this.patch({ notice: null });
  }

  // --- following jobs ------------------------------------------------------------------------

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
  }

  /** One round of news: each followed job once, and the uploads whose sync finished. */
  private async poll(): Promise<void> {
    const waiting = this.state.uploads.filter((u) => u.jobId && isWaiting(u.phase));
    const jobIds = new Set([...waiting.map((u) => u.jobId as string), ...this.jobs.keys()]);
    const jobs = new Map<string, JobSummary | null>();
    await Promise.all(
      [...jobIds].map(async (id) => jobs.set(id, await this.api.job(id).catch(() => null))),
    );
    let changed = false;
    for (const upload of waiting) {
      const job = jobs.get(upload.jobId as string);
      if (job && !FINISHED_JOB.includes(job.state)) {
        const progress = { done: job.files_done, total: job.files_total };
        this.updateUpload(upload.key, { phase: job.state === "running" ? "indexing" : "queued", progress });
      } else {
        changed = (await this.settleUpload(upload)) || changed;
      }
    }
    for (const [jobId, key] of this.jobs) {
      const job = jobs.get(jobId);
      if (job && !FINISHED_JOB.includes(job.state)) continue;
      this.jobs.delete(jobId);
      this.done(key);
      if (job?.state !== "done") this.patch({ notice: job?.error ?? "The change did not finish." });
      changed = true;
    }
    if (changed) {
      this.onChange();
      if (this.state.open) await this.reload();
    }
    if (this.jobs.size || this.state.uploads.some((u) => isWaiting(u.phase))) this.schedule();
  }

  private async settleUpload(upload: UploadItem): Promise<boolean> {
    try {
      const view = await this.api.upload(upload.uploadId as string);
      this.updateUpload(upload.key, { phase: view.status, reason: view.reason, progress: null });
      return !isWaiting(view.status);
    } catch (error) {
      this.updateUpload(upload.key, { phase: "failed", reason: describe(error) });
      return true;
    }
  }
}

function isWaiting(phase: UploadItem["phase"] | DocumentStatus): boolean {
  return phase === "queued" || phase === "indexing";
}

export function docKey(doc: LibraryDocument): string {
  return doc.doc_id ?? `upload:${doc.upload_id}`;
}
