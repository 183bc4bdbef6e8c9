/** The Library's requests, over the app's client (its token, user and error handling). */
import type { ChatKitClient } from "../client";
import type {
  ChunkPage,
  FolderView,
  JobSummary,
  LibraryInfo,
  LibraryPage,
  LibrarySort,
  UploadView,
} from "./types";

export interface ListQuery {
  q: string;
  status: string;
  collection: string;
  sort: LibrarySort;
  order: "asc" | "desc";
  offset: number;
  limit: number;
}

const BASE = "/api/library";

export class LibraryApi {
  constructor(private readonly client: ChatKitClient) {}

  info(): Promise<LibraryInfo> {
    return this.client.getJson(`${BASE}/info`);
  }

  documents(query: ListQuery, signal?: AbortSignal): Promise<LibraryPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== "") params.set(key, String(value));
    }
    return this.client.getJson(`${BASE}/documents?${params}`, signal);
  }

  folders(): Promise<FolderView[]> {
    return this.client.getJson(`${BASE}/folders`);
  }

  chunks(docId: string, offset: number): Promise<ChunkPage> {
    return this.client.getJson(`${BASE}/documents/${encodeURIComponent(docId)}/chunks?offset=${offset}`);
  }

  job(jobId: string): Promise<JobSummary> {
    return this.client.getJson(`${BASE}/jobs/${encodeURIComponent(jobId)}`);
  }

  upload(uploadId: string): Promise<UploadView> {
    return this.client.getJson(`${BASE}/uploads/${encodeURIComponent(uploadId)}`);
  }

  /** Sends one file; `name` may be a path within a dropped folder ("notes/a.md"). */
  async send(file: Blob, name: string, collection: string): Promise<UploadView> {
    const params = new URLSearchParams({ name, collection });
    const init = {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: file,
    };
    return (await this.client.call(`${BASE}/uploads?${params}`, init)).json();
  }

  async remove(docId: string): Promise<JobSummary> {
    const url = `${BASE}/documents/${encodeURIComponent(docId)}`;
    return (await this.client.call(url, { method: "DELETE" })).json();
  }

  async discard(uploadId: string): Promise<JobSummary> {
    const url = `${BASE}/uploads/${encodeURIComponent(uploadId)}`;
    return (await this.client.call(url, { method: "DELETE" })).json();
  }

  async reindex(docId: string): Promise<JobSummary> {
    const url = `${BASE}/documents/${encodeURIComponent(docId)}/reindex`;
    return (await this.client.call(url, { method: "POST" })).json();
  }
}
