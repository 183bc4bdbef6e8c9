/** The state of one open thread, and the pure function that folds stream events into it. */
import type {
  AssistantMessageContent,
  AssistantMessageItem,
  ThreadItem,
  ThreadItemUpdate,
  ThreadMeta,
  ThreadStreamEvent,
  Workflow,
  WorkflowItem,
} from "./protocol";
import type { ToolCallRecords } from "./sources";

export interface ChatError {
  message: string;
  code?: string;
  allowRetry: boolean;
}

export interface Notice {
  level: "info" | "warning" | "danger";
  message: string;
  title?: string | null;
}

export interface ChatState {
  thread: ThreadMeta | null;
  items: ThreadItem[];
  /** The question being sent, shown until the server echoes the saved user message. */
  pending: string | null;
  progress: string | null;
  error: ChatError | null;
  notice: Notice | null;
  /** The records of the thread's searches, by the workflow task that shows each. */
  records: ToolCallRecords;
  /** Why the records could not be loaded (the searches then show without details). */
  recordsError: string | null;
}

export const emptyChat: ChatState = {
  thread: null,
  items: [],
  pending: null,
  progress: null,
  error: null,
  notice: null,
  records: {},
  recordsError: null,
};

const ERROR_MESSAGES: Record<string, string> = {
  "stream.error": "Something went wrong while answering.",
};

export function errorFromEvent(event: {
  code?: string;
  message?: string | null;
  allow_retry?: boolean;
}): ChatError {
  const message =
    event.message || ERROR_MESSAGES[event.code ?? ""] || "Something went wrong while answering.";
  return { message, code: event.code, allowRetry: event.allow_retry ?? false };
}

export function applyEvent(state: ChatState, event: ThreadStreamEvent): ChatState {
  switch (event.type) {
    case "thread.created":
    case "thread.updated": {
      const { items: _items, ...thread } = event.thread;
      return { ...state, thread };
    }
    case "thread.item.added":
    case "thread.item.done":
    case "thread.item.replaced": {
      const next = { ...state, items: upsert(state.items, event.item) };
      if (event.item.type === "user_message") next.pending = null;
      if (event.item.type === "assistant_message") next.progress = null;
      return next;
    }
    case "thread.item.updated": {
      const index = state.items.findIndex((item) => item.id === event.item_id);
      if (index === -1) return state;
      const updated = applyUpdate(state.items[index], event.update);
      if (updated === state.items[index]) return state;
      const items = state.items.slice();
      items[index] = updated;
      return { ...state, items };
    }
    case "thread.item.removed":
      return { ...state, items: state.items.filter((item) => item.id !== event.item_id) };
    case "progress_update":
      return { ...state, progress: event.text };
    case "notice":
      return { ...state, notice: { level: event.level, message: event.message, title: event.title } };
    case "error":
      return { ...state, progress: null, error: errorFromEvent(event) };
    default:
      // stream_options, client_effect and unknown events change nothing shown.
      return state;
  }
}

function upsert(items: ThreadItem[], item: ThreadItem): ThreadItem[] {
  const index = items.findIndex((existing) => existing.id === item.id);
  if (index === -1) return [...items, item];
  const next = items.slice();
  next[index] = item;
  return next;
}

export function applyUpdate(item: ThreadItem, update: ThreadItemUpdate): ThreadItem {
  switch (update.type) {
    case "assistant_message.content_part.added":
    case "assistant_message.content_part.done":
      if (item.type !== "assistant_message") return item;
      return withContent(item, update.content_index, () => ({
        ...update.content,
        annotations: update.content.annotations ?? [],
      }));
    case "assistant_message.content_part.text_delta":
      if (item.type !== "assistant_message") return item;
      return withContent(item, update.content_index, (part) => ({
        ...part,
        text: part.text + update.delta,
      }));
    case "assistant_message.content_part.annotation_added":
      if (item.type !== "assistant_message") return item;
      return withContent(item, update.content_index, (part) => {
        const annotations = part.annotations.slice();
        annotations.splice(
          Math.min(update.annotation_index, annotations.length),
          0,
          update.annotation,
        );
        return { ...part, annotations };
      });
    case "workflow.task.added":
      if (item.type !== "workflow") return item;
      return withTasks(item, (tasks) => [...tasks, update.task]);
    case "workflow.task.updated":
      if (item.type !== "workflow") return item;
      return withTasks(item, (tasks) => {
        const next = tasks.slice();
        next[update.task_index] = update.task;
        return next;
      });
    default:
      return item;
  }
}

function withContent(
  item: AssistantMessageItem,
  index: number,
  change: (part: AssistantMessageContent) => AssistantMessageContent,
): AssistantMessageItem {
  const content = item.content.slice();
  while (content.length <= index) content.push({ type: "output_text", text: "", annotations: [] });
  content[index] = change(content[index]);
  return { ...item, content };
}

function withTasks(
  item: WorkflowItem,
  change: (tasks: Workflow["tasks"]) => Workflow["tasks"],
): WorkflowItem {
  return { ...item, workflow: { ...item.workflow, tasks: change(item.workflow.tasks) } };
}

/** The last saved user message, which `threads.retry_after_item` answers again. */
export function lastUserMessage(items: ThreadItem[]): ThreadItem | null {
  for (let i = items.length - 1; i >= 0; i--) if (items[i].type === "user_message") return items[i];
  return null;
}

/** Drops everything after an item (what the server deletes on a retry). */
export function truncateAfter(items: ThreadItem[], itemId: string): ThreadItem[] {
  const index = items.findIndex((item) => item.id === itemId);
  return index === -1 ? items : items.slice(0, index + 1);
}
