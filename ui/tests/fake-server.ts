/** An in-memory ChatKit server behind a fake fetch, for controller and view tests. */
import type { UploadRequest } from "../src/client";
import type {
  Attachment,
  AssistantMessageItem,
  FeedbackKind,
  Locator,
  SearchTask,
  ThreadItem,
  ThreadStreamEvent,
  ToolCallRecord,
} from "../src/protocol";
import {
  T0,
  annotation,
  assistantItem,
  fakeFetch,
  json,
  openSse,
  searchRecord,
  searchWorkflow,
  sse,
  thread,
  userItem,
} from "./helpers";

export type Mode = "answer" | "hang" | "error-event" | "http-error" | "network";

/** The passages the fake index holds. */
const CHUNKS: Record<string, { source: string; heading: string; text: string }> = {
  c1: { source: "guide.md", heading: "Install > Linux", text: "To install on Linux, run the installer script." },
  "c 2": { source: "faq.md", heading: "Setup", text: "Setup takes a minute." },
};

/** Display text nothing may be read from: wrong counts, times, scores, ranks and links. */
function nonsense(task: SearchTask): SearchTask {
  return {
    ...task,
    title: "Blorp 99 hits in 777 ms",
    title_query: "wibble",
    queries: ["wibble"],
    sources: [7, 8, 9].map((n) => ({
      type: "url" as const,
      title: `${n}. zz.md p.9 — Nowhere`,
      url: `/api/chunks/x${n}`,
      description: "score 0.9999",
      group: "zz.md",
    })),
  };
}

export class FakeServer {
  threads = new Map<string, { title: string | null; items: ThreadItem[] }>();
  mode: Mode = "answer";
  /** Answers saved when a hanging stream is aborted (what the real server keeps). */
  saveOnAbort = true;
  /** Tool-call records and feedback, per thread. */
  records = new Map<string, ToolCallRecord[]>();
  given = new Map<string, Record<string, FeedbackKind>>();
  /** An HTTP status the tool-calls route fails with, if set. */
  recordsStatus: number | null = null;
  /** How many record fetches miss the newest record (saved just after its task completes). */
  staleRecordFetches = 0;
  /** Show searches with nonsense titles and sources (the records stay right). */
  rewordDisplay = false;
  /** The passage number of the search's first hit. */
  firstRank = 1;
  /** Where the cited passage sits (a slide, a sheet range...); null for unpaged text. */
  locator: Locator | null = null;
  /** What GET /api/me answers (multi_user false: the single-person mode). */
  me = { user: "local", groups: [] as string[], is_admin: false, multi_user: false };
  private n = 0;
  readonly recorder = fakeFetch((req) => this.handle(req));
  /** Attachments created, by id; and the uploads received (held until released if set). */
  attachments = new Map<string, Attachment>();
  uploads: UploadRequest[] = [];
  holdUploads = false;
  private held: (() => void)[] = [];

  /** The uploader the client is given: reports half the bytes sent, then (released) all. */
  readonly upload = async (request: UploadRequest): Promise<Response> => {
    this.uploads.push(request);
    request.onProgress(0.5);
    if (this.holdUploads) await new Promise<void>((resolve) => this.held.push(resolve));
    const id = /\/api\/attachments\/([^/]+)\/upload$/.exec(request.url)?.[1] ?? "";
    const found = this.attachments.get(id);
    if (!found) return json({ error: `attachment ${id} not found` }, 404);
    request.onProgress(1);
    const { upload_descriptor: _sent, ...done } = found;
    this.attachments.set(id, done);
    return json(done);
  };

  releaseUploads() {
    for (const release of this.held.splice(0)) release();
  }

  get fetch() {
    return this.recorder.fetch;
  }

  get calls() {
    return this.recorder.calls;
  }

  bodies(type: string) {
    return this.calls.map((c) => c.body as { type: string; params: Record<string, unknown> }).filter((b) => b?.type === type);
  }

  private id(prefix: string) {
    return `${prefix}_${++this.n}`;
  }

  private handle(req: { url: string; body: unknown; signal: AbortSignal | null }): Response {
    if (this.mode === "network") throw new TypeError("Failed to fetch");
    if (req.url === "/api/status") {
      return json({ documents: 3, chunks: 42, embedding_model: "all-MiniLM-L6-v2", chat_model: "offline" });
    }
    if (req.url === "/api/me") return json(this.me);
    const link = /^\/api\/documents\/([^/]+)\/link$/.exec(req.url);
    if (link) return json({ url: `/api/documents/${link[1]}/file?user=${this.me.user}&exp=9&sig=ab` });
    const chunk = /^\/api\/chunks\/(.+)$/.exec(req.url);
    if (chunk) {
      const chunkId = decodeURIComponent(chunk[1]);
      const found = CHUNKS[chunkId];
      if (!found) return json({ error: `no passage ${chunkId} in the index` }, 404);
      return json({
        chunk_id: chunkId,
        doc_id: "doc1",
        title: "Guide",
        page: null,
        locator: this.locator,
        ...found,
      });
    }
    const beside = /^\/api\/threads\/([^/]+)\/(tool-calls|feedback)$/.exec(req.url);
    if (beside) return this.besideItems(decodeURIComponent(beside[1]), beside[2]);
    const { type, params } = req.body as { type: string; params: Record<string, any> };
    switch (type) {
      case "threads.list":
        return json({
          data: [...this.threads.entries()].reverse().map(([id, t]) => ({ ...thread(id, t.title), items: undefined })),
          has_more: false,
        });
      case "threads.get_by_id": {
        const t = this.threads.get(params.thread_id);
        if (!t) return json({ error: "Thread not found" }, 404);
        return json({ ...thread(params.thread_id, t.title), items: { data: t.items, has_more: false } });
      }
      case "items.list": {
        const t = this.threads.get(params.thread_id);
        return json({ data: t?.items ?? [], has_more: false });
      }
      case "items.feedback": {
        const given = this.given.get(params.thread_id) ?? {};
        for (const id of params.item_ids) given[id] = params.kind;
        this.given.set(params.thread_id, given);
        return json({});
      }
      case "threads.update": {
        const t = this.threads.get(params.thread_id);
        if (t) t.title = params.title;
        return json(thread(params.thread_id, params.title));
      }
      case "threads.delete":
        this.threads.delete(params.thread_id);
        this.records.delete(params.thread_id);
        this.given.delete(params.thread_id);
        return json({});
      case "attachments.create": {
        if (params.name.endsWith(".exe")) {
          return json({ error: ".exe files cannot be attached; attach one of .md, .pdf" }, 415);
        }
        const id = this.id("atc");
        const url = `http://127.0.0.1:8000/api/attachments/${id}/upload`;
        const attachment: Attachment = {
          type: "file",
          id,
          name: params.name,
          mime_type: params.mime_type,
          upload_descriptor: { url, method: "POST", headers: {} },
        };
        this.attachments.set(id, attachment);
        return json(attachment);
      }
      case "attachments.delete":
        this.attachments.delete(params.attachment_id);
        return json({});
      case "threads.create":
      case "threads.add_user_message":
      case "threads.retry_after_item":
        return this.stream(type, params, req.signal);
    }
    return json({ error: `unknown ${type}` }, 400);
  }

  private besideItems(threadId: string, resource: string): Response {
    if (resource === "tool-calls" && this.recordsStatus !== null) {
      return json({ error: "The records are unavailable." }, this.recordsStatus);
    }
    if (!this.threads.has(threadId)) return json({ error: "Thread not found" }, 404);
    if (resource === "feedback") return json({ data: this.given.get(threadId) ?? {} });
    const records = this.records.get(threadId) ?? [];
    const stale = this.staleRecordFetches > 0;
    if (stale) this.staleRecordFetches--;
    return json({ data: stale ? records.slice(0, -1) : records });
  }

  private stream(type: string, params: Record<string, any>, signal: AbortSignal | null): Response {
    if (this.mode === "http-error") return json({ error: "Message too large" }, 413);
    const events: ThreadStreamEvent[] = [];
    let threadId: string = params.thread_id;
    let question = "";
    if (type === "threads.create") {
      threadId = this.id("thr");
      this.threads.set(threadId, { title: null, items: [] });
      events.push({ type: "thread.created", thread: thread(threadId) });
    }
    const t = this.threads.get(threadId);
    if (!t) return json({ error: "Thread not found" }, 404);
    if (type === "threads.retry_after_item") {
      const index = t.items.findIndex((i) => i.id === params.item_id);
      t.items = t.items.slice(0, index + 1);
      const item = t.items[index];
      question = item.type === "user_message" ? item.content[0].text : "";
    } else {
      question = params.input.content[0].text;
      const ids: string[] = params.input.attachments;
      const user = {
        ...userItem(this.id("msg"), threadId, question),
        attachments: ids.map((id) => this.attachments.get(id) as Attachment),
      };
      t.items.push(user);
      events.push({ type: "thread.item.done", item: user });
    }
    events.push({ type: "stream_options", stream_options: { allow_cancel: true } });
    if (this.mode === "error-event") {
      events.push({ type: "error", code: "custom", message: "The model is unavailable.", allow_retry: true });
      return sse(events);
    }
    const shown = searchWorkflow(this.id("wf"), threadId, "complete");
    const task = this.rewordDisplay ? nonsense(shown.workflow.tasks[0]) : shown.workflow.tasks[0];
    const wf = { ...shown, workflow: { ...shown.workflow, tasks: [task] } };
    const searching: SearchTask = { ...task, status_indicator: "loading", sources: [] };
    events.push({ type: "thread.item.added", item: { ...wf, workflow: { ...wf.workflow, tasks: [] } } });
    events.push({ type: "thread.item.updated", item_id: wf.id, update: { type: "workflow.task.added", task_index: 0, task: searching } });
    events.push({ type: "thread.item.updated", item_id: wf.id, update: { type: "workflow.task.updated", task_index: 0, task } });
    events.push({ type: "thread.item.done", item: wf });
    t.items.push(wf);
    this.records.set(threadId, [...(this.records.get(threadId) ?? []), searchRecord(threadId, wf.id, this.firstRank)]);
    const answerId = this.id("msg");
    events.push({ type: "thread.item.added", item: assistantItem(answerId, threadId) });
    const text = "Run the **installer** [1].";
    for (const piece of ["Run the ", "**installer** ", "[1]."]) {
      events.push({ type: "thread.item.updated", item_id: answerId, update: { type: "assistant_message.content_part.text_delta", content_index: 0, delta: piece } });
    }
    const ann = annotation(1, "c1", 24, this.locator);
    if (this.mode === "hang") {
      const partial = assistantItem(answerId, threadId, text, []);
      signal?.addEventListener("abort", () => {
        if (this.saveOnAbort) setTimeout(() => t.items.push(partial), 30);
      });
      return openSse(events, signal).response;
    }
    events.push({ type: "thread.item.updated", item_id: answerId, update: { type: "assistant_message.content_part.annotation_added", content_index: 0, annotation_index: 0, annotation: ann } });
    const done: AssistantMessageItem = assistantItem(answerId, threadId, text, [ann]);
    events.push({ type: "thread.item.done", item: done });
    t.items.push(done);
    if (t.title === null) {
      t.title = question.slice(0, 40);
      events.push({ type: "thread.updated", thread: thread(threadId, t.title) });
    }
    return sse(events, 11);
  }
}

export { T0 };
