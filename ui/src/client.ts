/** A small typed client for the ChatKit endpoint and the app's JSON API. */
import type {
  AssistantMessageItem,
  Attachment,
  Chunk,
  FeedbackKind,
  KbStatus,
  Me,
  NonStreamingRequest,
  Page,
  StreamingRequest,
  Thread,
  ThreadItem,
  ThreadFeedback,
  ThreadMeta,
  ThreadStreamEvent,
  ToolCallRecord,
} from "./protocol";
import { userInput } from "./protocol";
import { readSse } from "./sse";

export const TOKEN_KEY = "kb.token";
export const USER_KEY = "kb.user";

/** The server answered with an HTTP error before any stream started. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The server sent something that is not the protocol (bad JSON in a stream, ...). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException
    ? error.name === "AbortError"
    : error instanceof Error && error.name === "AbortError";
}

/** Asks the user for an access token; `retry` is true when the previous one was refused. */
export type TokenPrompt = (retry: boolean) => Promise<string | null>;

/** What an upload sends; `onProgress` gets the fraction of the bytes sent so far. */
export interface UploadRequest {
  url: string;
  method: string;
  headers: Headers;
  body: Blob;
  onProgress: (fraction: number) => void;
  signal?: AbortSignal;
}

/** Sends the bytes of an attachment (fetch cannot report upload progress: XHR can). */
export type Uploader = (request: UploadRequest) => Promise<Response>;

export interface ClientOptions {
  endpoint?: string;
  fetch?: typeof fetch;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  onAuthRequired?: TokenPrompt;
  upload?: Uploader;
}

const PAGE = 100;

export class ChatKitClient {
  private readonly endpoint: string;
  private readonly fetchImpl: typeof fetch;
  private readonly storage: ClientOptions["storage"];
  private readonly onAuthRequired?: TokenPrompt;
  private readonly uploader: Uploader;
  private pendingPrompt: Promise<string | null> | null = null;

  constructor(options: ClientOptions = {}) {
    this.endpoint = options.endpoint ?? "/chatkit";
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    this.onAuthRequired = options.onAuthRequired;
    this.uploader = options.upload ?? xhrUpload;
  }

  // --- transport --------------------------------------------------------------------------

  /** A plain (non-streaming) ChatKit request; resolves to the decoded JSON answer. */
  async request<T>(req: NonStreamingRequest, signal?: AbortSignal): Promise<T> {
    const res = await this.send(this.endpoint, postJson(req), signal);
    return (await res.json()) as T;
  }

  /** A streaming ChatKit request; yields each server event as it arrives. */
  async *stream(req: StreamingRequest, signal?: AbortSignal): AsyncGenerator<ThreadStreamEvent> {
    const res = await this.send(this.endpoint, postJson(req), signal);
    if (!res.body) throw new ProtocolError("The server sent no stream.");
    for await (const data of readSse(res.body)) {
      let event: ThreadStreamEvent;
      try {
        event = JSON.parse(data) as ThreadStreamEvent;
      } catch {
        throw new ProtocolError("The server sent a malformed event.");
      }
      if (event && typeof event === "object" && typeof event.type === "string") yield event;
    }
  }

  /** The access token in use: links a new tab opens must then be signed by the server. */
  accessToken(): string | null {
    return this.storage?.getItem(TOKEN_KEY) ?? null;
  }

  /** GET a JSON resource of the app (status, chunks). */
  async getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.send(path, { method: "GET" }, signal);
    return (await res.json()) as T;
  }

  /** Any request of the app's API, with its token and user; throws HttpError on failure. */
  call(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    return this.send(url, init, signal);
  }

  private async send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const token = this.accessToken();
      const headers = this.identify(new Headers(init.headers));
      headers.set("Accept", "application/json, text/event-stream");
      const res = await this.fetchImpl(url, { ...init, headers, signal });
      if (res.status === 401 && this.onAuthRequired && attempt < 3) {
        const fresh = await this.askToken(token !== null);
        if (fresh) continue;
      }
      if (!res.ok) throw new HttpError(res.status, await errorMessage(res));
      return res;
    }
  }

  /** Who asks: the access token and the user, on every request. */
  private identify(headers: Headers): Headers {
    const token = this.accessToken();
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const user = this.storage?.getItem(USER_KEY);
    if (user) headers.set("X-KB-User", user);
    return headers;
  }

  /** One prompt at a time, however many requests were refused together. */
  private askToken(retry: boolean): Promise<string | null> {
    if (!this.pendingPrompt) {
      this.storage?.removeItem(TOKEN_KEY);
      this.pendingPrompt = (this.onAuthRequired as TokenPrompt)(retry)
        .then((token) => {
          const value = token?.trim() || null;
          if (value) this.storage?.setItem(TOKEN_KEY, value);
          return value;
        })
        .finally(() => {
          this.pendingPrompt = null;
        });
    }
    return this.pendingPrompt;
  }

  // --- ChatKit operations -----------------------------------------------------------------

  createThread(
    text: string,
    signal?: AbortSignal,
    attachments: string[] = [],
  ): AsyncGenerator<ThreadStreamEvent> {
    const input = userInput(text, attachments);
    return this.stream({ type: "threads.create", params: { input } }, signal);
  }

  addUserMessage(
    threadId: string,
    text: string,
    signal?: AbortSignal,
    attachments: string[] = [],
  ): AsyncGenerator<ThreadStreamEvent> {
    const input = userInput(text, attachments);
    return this.stream(
      { type: "threads.add_user_message", params: { thread_id: threadId, input } },
      signal,
    );
  }

  /** Phase one of an attachment: the server checks name, size and type before any byte. */
  createAttachment(file: { name: string; size: number; type: string }): Promise<Attachment> {
    const params = { name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" };
    return this.request({ type: "attachments.create", params });
  }

  /** Phase two: the bytes, to the URL the server gave (its path: the page's own origin). */
  async uploadAttachment(
    attachment: Attachment,
    file: Blob,
    onProgress: (fraction: number) => void,
    signal?: AbortSignal,
  ): Promise<Attachment> {
    const descriptor = attachment.upload_descriptor;
    if (!descriptor) return attachment;
    const url = new URL(descriptor.url, globalThis.location?.href ?? "http://localhost");
    const headers = this.identify(new Headers(descriptor.headers ?? {}));
    headers.set("Content-Type", "application/octet-stream");
    const res = await this.uploader({
      url: url.pathname,
      method: descriptor.method,
      headers,
      body: file,
      onProgress,
      signal,
    });
    if (!res.ok) throw new HttpError(res.status, await errorMessage(res));
    return (await res.json()) as Attachment;
  }

  async deleteAttachment(attachmentId: string): Promise<void> {
    await this.request({ type: "attachments.delete", params: { attachment_id: attachmentId } });
  }

  retryAfterItem(
    threadId: string,
    itemId: string,
    signal?: AbortSignal,
  ): AsyncGenerator<ThreadStreamEvent> {
    return this.stream(
      { type: "threads.retry_after_item", params: { thread_id: threadId, item_id: itemId } },
      signal,
    );
  }

  listThreads(limit: number, after: string | null = null): Promise<Page<ThreadMeta>> {
    const params = after ? { limit, order: "desc" as const, after } : { limit, order: "desc" as const };
    return this.request({ type: "threads.list", params });
  }

  getThread(threadId: string): Promise<Thread> {
    return this.request({ type: "threads.get_by_id", params: { thread_id: threadId } });
  }

  /** Every item of a thread, oldest first, following `after` cursors. */
  async allItems(threadId: string): Promise<ThreadItem[]> {
    const items: ThreadItem[] = [];
    let after: string | null = null;
    for (;;) {
      const params: { thread_id: string; limit: number; order: "asc"; after?: string } = {
        thread_id: threadId,
        limit: PAGE,
        order: "asc",
      };
      if (after) params.after = after;
      const page: Page<ThreadItem> = await this.request({ type: "items.list", params });
      items.push(...page.data);
      if (!page.has_more || !page.after || page.data.length === 0) return items;
      after = page.after;
    }
  }

  /** A thread and all its items. */
  async loadThread(threadId: string): Promise<{ thread: ThreadMeta; items: ThreadItem[] }> {
    const thread = await this.getThread(threadId);
    const first = thread.items?.data ?? [];
    const items = thread.items?.has_more ? await this.allItems(threadId) : first;
    const { items: _omit, ...meta } = thread;
    return { thread: meta, items };
  }

  renameThread(threadId: string, title: string): Promise<Thread> {
    return this.request({ type: "threads.update", params: { thread_id: threadId, title } });
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.request({ type: "threads.delete", params: { thread_id: threadId } });
  }

  async feedback(threadId: string, item: AssistantMessageItem, kind: FeedbackKind): Promise<void> {
    await this.request({
      type: "items.feedback",
      params: { thread_id: threadId, item_ids: [item.id], kind },
    });
  }

  /** The records of the searches made in a thread, oldest first. */
  async toolCalls(threadId: string, signal?: AbortSignal): Promise<ToolCallRecord[]> {
    const path = threadPath(threadId, "tool-calls");
    const body = await this.getJson<{ data: ToolCallRecord[] }>(path, signal);
    return body.data;
  }

  /** The feedback given on the answers of a thread. */
  async threadFeedback(threadId: string, signal?: AbortSignal): Promise<ThreadFeedback> {
    const path = threadPath(threadId, "feedback");
    const body = await this.getJson<{ data: ThreadFeedback }>(path, signal);
    return body.data;
  }

  status(): Promise<KbStatus> {
    return this.getJson("/api/status");
  }

  me(): Promise<Me> {
    return this.getJson("/api/me");
  }

  /** A short-lived signed URL of a document's original file, for a new tab. */
  async documentLink(docId: string, signal?: AbortSignal): Promise<string> {
    const path = `/api/documents/${encodeURIComponent(docId)}/link`;
    const res = await this.send(path, { method: "POST" }, signal);
    return ((await res.json()) as { url: string }).url;
  }

  chunk(urlOrId: string, signal?: AbortSignal): Promise<Chunk> {
    const url = urlOrId.startsWith("/") ? urlOrId : `/api/chunks/${encodeURIComponent(urlOrId)}`;
    return this.getJson(url, signal);
  }
}

function threadPath(threadId: string, resource: string): string {
  return `/api/threads/${encodeURIComponent(threadId)}/${resource}`;
}

function postJson(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** The message of an error answer: `{"error": ...}`, FastAPI's `{"detail": ...}` or the status. */
export async function errorMessage(res: Response): Promise<string> {
  const fallback = `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`;
  let text = "";
  try {
    text = await res.text();
  } catch {
    return fallback;
  }
  try {
    const body = JSON.parse(text) as { error?: unknown; detail?: unknown; message?: unknown };
    for (const value of [body.error, body.message, body.detail]) {
      if (typeof value === "string" && value) return value;
      if (Array.isArray(value) && value.length) {
        const first = value[0] as { msg?: unknown };
        if (typeof first?.msg === "string") return first.msg;
      }
    }
  } catch {
    // not JSON
  }
  return text && text.length < 300 && !text.trimStart().startsWith("<") ? text : fallback;
}

/** The browser's uploader: XMLHttpRequest, whose upload reports progress. */
export function xhrUpload(request: UploadRequest): Promise<Response> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(request.method, request.url);
    request.headers.forEach((value, name) => xhr.setRequestHeader(name, value));
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) request.onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const headers = { "Content-Type": xhr.getResponseHeader("Content-Type") ?? "text/plain" };
      resolve(new Response(xhr.responseText, { status: xhr.status, headers }));
    };
    xhr.onerror = () => reject(new TypeError("The upload failed: the server could not be reached."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    request.signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(request.body);
  });
}

function safeLocalStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
