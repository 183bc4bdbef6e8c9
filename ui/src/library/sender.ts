/** Sends picked files a few at a time, in the order they were picked. */
import { describe } from "../controller";
import type { LibraryApi } from "./api";
import type { UploadItem } from "./uploads";

const SENDERS = 3;

export class UploadSender {
  private queue: { item: UploadItem; file: Blob }[] = [];
  private sending = 0;

  /** `update(key, change)` reports each file's news; `sent()` after each accepted one. */
  constructor(
    private readonly api: LibraryApi,
    private readonly update: (key: string, change: Partial<UploadItem>) => void,
    private readonly sent: () => void,
  ) {}

  async add(files: { item: UploadItem; file: Blob }[]): Promise<void> {
    this.queue.push(...files);
    const senders = Math.min(SENDERS - this.sending, this.queue.length);
    await Promise.all(Array.from({ length: senders }, () => this.drain()));
  }

  private async drain(): Promise<void> {
    this.sending++;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        await this.send(next.item, next.file);
      }
    } finally {
      this.sending--;
    }
  }

  private async send(item: UploadItem, file: Blob): Promise<void> {
    try {
      const view = await this.api.send(file, item.name, item.collection);
      this.update(item.key, {
        phase: view.status,
        uploadId: view.upload_id,
        storedAs: view.name,
        jobId: view.job?.job_id ?? null,
        reason: view.reason,
      });
      this.sent();
    } catch (error) {
      this.update(item.key, { phase: "failed", reason: describe(error) });
    }
  }
}
