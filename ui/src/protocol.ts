/**
 * The subset of the ChatKit wire protocol (openai-chatkit 1.6, `chatkit/types.py`) this UI
 * speaks. The server serialises with `exclude_none`, so optional fields may be absent.
 */

export interface Page<T> {
  data: T[];
  has_more: boolean;
  after?: string | null;
}

export interface ThreadStatus {
  type: "active" | "locked" | "closed";
  reason?: string | null;
}

export interface ThreadMeta {
  id: string;
  title?: string | null;
  created_at: string;
  status?: ThreadStatus;
}

export interface Thread extends ThreadMeta {
  items: Page<ThreadItem>;
}

// --- sources and annotations ---------------------------------------------------------------

interface SourceBase {
  title: string;
  description?: string | null;
  timestamp?: string | null;
  group?: string | null;
}

export interface URLSource extends SourceBase {
  type: "url";
  url: string;
  attribution?: string | null;
}

export interface FileSource extends SourceBase {
  type: "file";
  filename: string;
}

export interface EntitySource extends SourceBase {
  type: "entity";
  id: string;
  label?: string | null;
  data?: Record<string, unknown>;
}

export type Source = URLSource | FileSource | EntitySource;

export interface Annotation {
  type: "annotation";
  source: Source;
  index?: number | null;
}

// --- items ------------------------------------------------------------------------------------

interface ItemBase {
  id: string;
  thread_id: string;
  created_at: string;
}

export type UserMessageContent =
  | { type: "input_text"; text: string }
  | { type: "input_tag"; id: string; text: string; data?: Record<string, unknown> };

export interface InferenceOptions {
  model?: string | null;
  tool_choice?: { id: string } | null;
}

/** Where the browser POSTs an attachment's bytes (phase two of the upload). */
export interface AttachmentUploadDescriptor {
  url: string;
  method: "POST" | "PUT";
  headers?: Record<string, string>;
}

/** `FileAttachment | ImageAttachment`; kb answers with files only. */
export interface Attachment {
  type: "file" | "image";
  id: string;
  name: string;
  mime_type: string;
  /** Present until the bytes are uploaded. */
  upload_descriptor?: AttachmentUploadDescriptor | null;
  thread_id?: string | null;
  preview_url?: string;
}

export interface UserMessageItem extends ItemBase {
  type: "user_message";
  content: UserMessageContent[];
  attachments?: Attachment[];
  quoted_text?: string | null;
  inference_options?: InferenceOptions;
}

export interface AssistantMessageContent {
  type: "output_text";
  text: string;
  annotations: Annotation[];
}

export interface AssistantMessageItem extends ItemBase {
  type: "assistant_message";
  content: AssistantMessageContent[];
}

interface TaskBase {
  status_indicator?: "none" | "loading" | "complete";
  title?: string | null;
}

export interface SearchTask extends TaskBase {
  type: "web_search";
  title_query?: string | null;
  queries?: string[];
  sources?: URLSource[];
}

export interface CustomTask extends TaskBase {
  type: "custom";
  content?: string | null;
  /** "document": the outcome of reading an attached file (`content` says why it failed). */
  icon?: string | null;
}

export interface ThoughtTask extends TaskBase {
  type: "thought";
  content: string;
}

export interface FileTask extends TaskBase {
  type: "file";
  sources?: FileSource[];
}

export interface ImageTask extends TaskBase {
  type: "image";
}

export type Task = SearchTask | CustomTask | ThoughtTask | FileTask | ImageTask;

export interface Workflow {
  type: "custom" | "reasoning";
  tasks: Task[];
  summary?: { title: string } | { duration: number } | null;
  expanded?: boolean;
}

export interface WorkflowItem extends ItemBase {
  type: "workflow";
  workflow: Workflow;
}

export interface TaskItem extends ItemBase {
  type: "task";
  task: Task;
}

export interface EndOfTurnItem extends ItemBase {
  type: "end_of_turn";
}

/** Items this UI does not render (widgets, images, client tool calls, ...). */
export interface OtherItem extends ItemBase {
  type: "widget" | "generated_image" | "client_tool_call" | "structured_input";
}

export type ThreadItem =
  | UserMessageItem
  | AssistantMessageItem
  | WorkflowItem
  | TaskItem
  | EndOfTurnItem
  | OtherItem;

// --- item updates -----------------------------------------------------------------------------

export type ThreadItemUpdate =
  | {
      type: "assistant_message.content_part.added";
      content_index: number;
      content: AssistantMessageContent;
    }
  | { type: "assistant_message.content_part.text_delta"; content_index: number; delta: string }
  | {
      type: "assistant_message.content_part.annotation_added";
      content_index: number;
      annotation_index: number;
      annotation: Annotation;
    }
  | {
      type: "assistant_message.content_part.done";
      content_index: number;
      content: AssistantMessageContent;
    }
  | { type: "workflow.task.added"; task_index: number; task: Task }
  | { type: "workflow.task.updated"; task_index: number; task: Task }
  | { type: "widget.streaming_text.value_delta" | "widget.root.updated" }
  | { type: "widget.component.updated" | "generated_image.updated" };

// --- stream events ----------------------------------------------------------------------------

export interface ErrorEvent {
  type: "error";
  code?: string;
  message?: string | null;
  allow_retry?: boolean;
}

export interface NoticeEvent {
  type: "notice";
  level: "info" | "warning" | "danger";
  message: string;
  title?: string | null;
}

export type ThreadStreamEvent =
  | { type: "thread.created"; thread: Thread }
  | { type: "thread.updated"; thread: Thread }
  | { type: "thread.item.added"; item: ThreadItem }
  | { type: "thread.item.updated"; item_id: string; update: ThreadItemUpdate }
  | { type: "thread.item.done"; item: ThreadItem }
  | { type: "thread.item.removed"; item_id: string }
  | { type: "thread.item.replaced"; item: ThreadItem }
  | { type: "stream_options"; stream_options: { allow_cancel: boolean } }
  | { type: "progress_update"; icon?: string | null; text: string }
  | { type: "client_effect"; name: string; data?: Record<string, unknown> }
  | ErrorEvent
  | NoticeEvent;

// --- requests ---------------------------------------------------------------------------------

export interface UserMessageInput {
  content: UserMessageContent[];
  attachments: string[];
  quoted_text?: string | null;
  inference_options: InferenceOptions;
}

export type FeedbackKind = "positive" | "negative";

export type StreamingRequest =
  | { type: "threads.create"; params: { input: UserMessageInput } }
  | { type: "threads.add_user_message"; params: { thread_id: string; input: UserMessageInput } }
  | { type: "threads.retry_after_item"; params: { thread_id: string; item_id: string } };

export type NonStreamingRequest =
  | { type: "threads.get_by_id"; params: { thread_id: string } }
  | {
      type: "threads.list";
      params: { limit?: number; order?: "asc" | "desc"; after?: string | null };
    }
  | {
      type: "items.list";
      params: {
        thread_id: string;
        limit?: number;
        order?: "asc" | "desc";
        after?: string | null;
      };
    }
  | {
      type: "items.feedback";
      params: { thread_id: string; item_ids: string[]; kind: FeedbackKind };
    }
  | { type: "attachments.create"; params: { name: string; size: number; mime_type: string } }
  | { type: "attachments.delete"; params: { attachment_id: string } }
  | { type: "threads.update"; params: { thread_id: string; title: string } }
  | { type: "threads.delete"; params: { thread_id: string } };

export type ChatKitRequest = StreamingRequest | NonStreamingRequest;

/** Builds the `input` of a user message: attachments and inference options are required. */
export function userInput(text: string, attachments: string[] = []): UserMessageInput {
  return { content: [{ type: "input_text", text }], attachments, inference_options: {} };
}

// --- the app's own JSON API -------------------------------------------------------------------

/** Who the server takes the caller for (GET /api/me). */
export interface Me {
  user: string;
  groups: string[];
  is_admin: boolean;
  /** Accounts, single sign-on or a proxy are configured (else: the single-person mode). */
  multi_user: boolean;
}

export interface KbStatus {
  documents: number;
  chunks: number;
  embedding_model: string;
  chat_model: string;
}

/** Where a passage sits in its file: a page, slide, sheet range, chapter, message or cell. */
export interface Locator {
  kind: string;
  value: string;
  /** What a reader sees: "page 3", "slide 4", "Budget!A12:D40". */
  label: string;
}

export interface Chunk {
  chunk_id: string;
  doc_id: string;
  source: string;
  title?: string | null;
  page?: number | null;
  locator?: Locator | null;
  heading?: string | null;
  text: string;
}

/** The arguments the agent passed to `search_docs`. */
export interface SearchArguments {
  query: string;
  top_k?: number | null;
  source?: string | null;
}

/** One passage a search returned; `rank` is the number the answer cites it by (`[n]`). */
export interface SearchResult {
  rank: number;
  chunk_id: string;
  source: string;
  title?: string;
  page?: number | null;
  locator?: Locator | null;
  heading?: string | null;
  score: number;
}

/**
 * The record of one tool call (`server/toollog.py`), served by
 * `GET /api/threads/{id}/tool-calls`. It shows as task `task_index` of workflow item
 * `workflow_item`; the UI reads the facts here, never the task's display text.
 */
export interface ToolCallRecord {
  time: string;
  user: string;
  thread: string;
  workflow_item: string | null;
  task_index: number | null;
  call_id: string | null;
  tool: string;
  arguments: SearchArguments;
  duration_ms: number;
  results: SearchResult[];
  error: string | null;
}

/** Item id -> the feedback the user gave on it (`GET /api/threads/{id}/feedback`). */
export type ThreadFeedback = Record<string, FeedbackKind>;
