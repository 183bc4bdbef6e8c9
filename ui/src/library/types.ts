/** The Library API's JSON, as server/library_models.py declares it. */
import type { Locator } from "../protocol";

export type DocumentStatus = "indexed" | "failed" | "skipped" | "queued" | "indexing";
export type JobState = "queued" | "running" | "done" | "failed" | "cancelled";
export type LibrarySort = "name" | "indexed" | "size";

export interface JobSummary {
  job_id: string;
  state: JobState;
  files_total: number | null;
  files_done: number;
  error: string | null;
  counts: Record<string, number> | null;
  finished_at: number | null;
}

export interface LibraryDocument {
  doc_id: string | null;
  upload_id: string | null;
  name: string;
  folder: string;
  collection: string;
  format: string;
  part_kind: string | null;
  parts: number;
  chunks: number;
  size: number;
  indexed_at: number | null;
  status: DocumentStatus;
  reason: string | null;
  uploaded: boolean;
}

export interface LibraryPage {
  total: number;
  offset: number;
  limit: number;
  items: LibraryDocument[];
}

export interface UploadView {
  upload_id: string;
  name: string;
  collection: string;
  size: number;
  status: DocumentStatus;
  reason: string | null;
  doc_id: string;
  job: JobSummary | null;
}

export interface FolderView {
  folder: string;
  collection: string;
  documents: number;
  watched: boolean;
  last_sync: JobSummary | null;
}

export interface LibraryInfo {
  max_file_bytes: number;
  suffixes: string[];
  /** Those the user may read (the filter's choices). */
  collections: string[];
  /** Those the user may upload to. */
  writable: string[];
}

export interface ChunkView {
  chunk_id: string;
  ord: number;
  heading: string;
  locator: Locator | null;
  text: string;
}

export interface ChunkPage {
  doc_id: string;
  name: string;
  total: number;
  offset: number;
  items: ChunkView[];
}

export const FINISHED_JOB: JobState[] = ["done", "failed", "cancelled"];
