/** An in-memory ChatKit server behind a fake fetch, for controller and view tests. */
import type { AssistantMessageItem, Locator, ThreadItem, ThreadStreamEvent } from "../src/protocol";
import {
  T0,
  annotation,
  assistantItem,
  fakeFetch,
  json,
  openSse,
  searchWorkflow,
  sse,
  thread,
  userItem,
} from "./helpers";

export type Mode = "answer" | "hang" | "error-event" | "http-error" | "network";

export class FakeServer {
  threads = new Map<string, { title: string | null; items: ThreadItem[] }>();
  mode: Mode = "answer";
  /** Answers saved when a hanging stream is aborted (what the real server keeps). */
  saveOnAbort = true;
  /** Where the cited passage sits (a slide, a sheet range...); null for unpaged text. */
  locator: Locator | null = null;
  private n = 0;
  readonly recorder = fakeFetch((req) => this.handle(req));

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
    const chunk = /^\/api\/chunks\/(.+)$/.exec(req.url);
    if (chunk) {
      return json({
        chunk_id: decodeURIComponent(chunk[1]),
        doc_id: "doc1",
        source: "guide.md",
        title: "Guide",
        page: null,
        locator: this.locator,
        heading: "Install > Linux",
        text: "To install on Linux, run the installer script.",
      });
    }
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
      case "items.feedback":
        return json({});
      case "threads.update": {
        const t = this.threads.get(params.thread_id);
        if (t) t.title = params.title;
        return json(thread(params.thread_id, params.title));
      }
      case "threads.delete":
        this.threads.delete(params.thread_id);
        return json({});
      case "threads.create":
      case "threads.add_user_message":
      case "threads.retry_after_item":
        return this.stream(type, params, req.signal);
    }
    return json({ error: `unknown ${type}` }, 400);
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
      const user = userItem(this.id("msg"), threadId, question);
      t.items.push(user);
      events.push({ type: "thread.item.done", item: user });
    }
    events.push({ type: "stream_options", stream_options: { allow_cancel: true } });
    if (this.mode === "error-event") {
      events.push({ type: "error", code: "custom", message: "The model is unavailable.", allow_retry: true });
      return sse(events);
    }
    const wf = searchWorkflow(this.id("wf"), threadId, "complete");
    events.push({ type: "thread.item.added", item: { ...wf, workflow: { ...wf.workflow, tasks: [] } } });
    events.push({ type: "thread.item.updated", item_id: wf.id, update: { type: "workflow.task.added", task_index: 0, task: wf.workflow.tasks[0] } });
    events.push({ type: "thread.item.done", item: wf });
    t.items.push(wf);
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
