/** Files the user picked or dropped, checked against the server's limits before sending. */
import type { DocumentStatus, LibraryInfo } from "./types";

/** A file and the name it is sent under: its path inside a dropped or picked folder. */
export interface Picked {
  file: Blob;
  name: string;
}

export type UploadPhase = "rejected" | "uploading" | DocumentStatus;

export interface UploadItem {
  key: string;
  name: string;
  size: number;
  collection: string;
  phase: UploadPhase;
  reason: string | null;
  uploadId: string | null;
  /** The name the server stored it under (sanitised; `name (1).ext` on a clash). */
  storedAs: string | null;
  jobId: string | null;
  /** Files done of the folder sync that indexes it. */
  progress: { done: number; total: number | null } | null;
}

let made = 0;

function item(name: string, size: number, collection: string): UploadItem {
  return {
    key: `u${++made}`,
    name,
    size,
    collection,
    phase: "uploading",
    reason: null,
    uploadId: null,
    storedAs: null,
    jobId: null,
    progress: null,
  };
}

export function startedUpload(name: string, size: number, collection: string): UploadItem {
  return item(name, size, collection);
}

export function rejectedUpload(
  name: string,
  size: number,
  collection: string,
  reason: string,
): UploadItem {
  return { ...item(name, size, collection), phase: "rejected", reason };
}

/** Why the server would refuse this file, said before it is sent; null if it would not. */
export function refusal(info: LibraryInfo, name: string, size: number): string | null {
  const base = name.split("/").pop() ?? name;
  const dot = base.lastIndexOf(".");
  const suffix = dot > 0 ? base.slice(dot).toLowerCase() : "";
  if (!info.suffixes.includes(suffix)) {
    return `${suffix ? `${suffix} files` : "Files without an extension"} cannot be indexed`;
  }
  if (size > info.max_file_bytes) {
    return `${megabytes(size)} is over the ${megabytes(info.max_file_bytes)} limit`;
  }
  return null;
}

/** A file's size as people read it: "812 B", "14 KB", "3.2 MB". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${Math.round(bytes / 1024)} KB`;
  return megabytes(bytes);
}

export function megabytes(bytes: number): string {
  const mb = bytes / 2 ** 20;
  return `${mb >= 10 ? Math.round(mb) : mb.toFixed(1)} MB`;
}

/** Every file of a drop, folders walked (each file named by its path in the folder). */
export async function droppedFiles(data: DataTransfer): Promise<Picked[]> {
  const entries = [...data.items]
    .map((entry) => entry.webkitGetAsEntry?.())
    .filter((entry): entry is FileSystemEntry => !!entry);
  if (entries.length === 0) return [...data.files].map((file) => ({ file, name: file.name }));
  const picked: Picked[] = [];
  for (const entry of entries) await walk(entry, "", picked);
  return picked;
}

async function walk(entry: FileSystemEntry, prefix: string, into: Picked[]): Promise<void> {
  const name = prefix + entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject),
    );
    into.push({ file, name });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) return;
    for (const child of batch) await walk(child, `${name}/`, into);
  }
}

/** Files from an `<input type=file>`, a folder's files named by their path in it. */
export function pickedFiles(files: FileList | null): Picked[] {
  return [...(files ?? [])].map((file) => ({
    file,
    name: file.webkitRelativePath || file.name,
  }));
}
