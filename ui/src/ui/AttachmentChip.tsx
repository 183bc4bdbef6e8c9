/** A file attached to the question being written: its name, upload progress or error, and
 * a button to take it out before sending. */
import type { JSX } from "preact";
import type { DraftAttachment } from "../controller";
import { CloseIcon, FileIcon } from "./icons";

export function AttachmentChip({
  attachment,
  onRemove,
}: {
  attachment: DraftAttachment;
  onRemove: (key: string) => void;
}): JSX.Element {
  const { name, status, progress, error } = attachment;
  const percent = Math.round(progress * 100);
  return (
    <div class={`attachment-chip ${status}`} data-testid="attachment-chip" title={error ?? name}>
      <FileIcon />
      <span class="attachment-name">{name}</span>
      {status === "uploading" && (
        <span
          class="attachment-progress"
          role="progressbar"
          aria-label={`Uploading ${name}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
        >
          <i style={{ width: `${percent}%` }} />
        </span>
      )}
      {status === "ready" && <span class="attachment-size">{formatSize(attachment.size)}</span>}
      {error && (
        <span class="attachment-error" role="alert" data-testid="attachment-error">
          {error}
        </span>
      )}
      <button
        type="button"
        class="attachment-remove"
        data-testid="attachment-remove"
        aria-label={`Remove ${name}`}
        title="Remove"
        onClick={() => onRemove(attachment.key)}
      >
        <CloseIcon />
      </button>
    </div>
  );
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
