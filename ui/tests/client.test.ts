import { describe, expect, it, vi } from "vitest";
import { ChatKitClient, HttpError, ProtocolError, TOKEN_KEY, USER_KEY, isAbortError } from "../src/client";
import type { ThreadStreamEvent } from "../src/protocol";
import { fakeFetch, json, memoryStorage, openSse, searchRecord, sse, thread, userItem } from "./helpers";

async function all(events: AsyncGenerator<ThreadStreamEvent>): Promise<ThreadStreamEvent[]> {
  const out: ThreadStreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function client(handler: Parameters<typeof fakeFetch>[0], options = {}) {
  const { fetch, calls } = fakeFetch(handler);
  const storage = memoryStorage();
  return { client: new ChatKitClient({ fetch, storage, ...options }), calls, storage };
}

describe("request shapes", () => {
  it("threads.create sends the user input with attachments and inference options", async () => {
    const { client: c, calls } = client(() => sse([]));
    await all(c.createThread("How do I install?"));
    expect(calls[0].url).toBe("/chatkit");
    expect(calls[0].method).toBe("POST");
    expect(calls[0].headers.get("Content-Type")).toBe("application/json");
    expect(calls[0].body).toEqual({
      type: "threads.create",
      params: {
        input: {
          content: [{ type: "input_text", text: "How do I install?" }],
          attachments: [],
          inference_options: {},
        },
      },
    });
  });

  it("threads.add_user_message and threads.retry_after_item name the thread", async () => {
    const { client: c, calls } = client(() => sse([]));
    await all(c.addUserMessage("thr_1", "And on Mac?"));
    await all(c.retryAfterItem("thr_1", "msg_2"));
    expect(calls[0].body).toMatchObject({
      type: "threads.add_user_message",
      params: { thread_id: "thr_1", input: { content: [{ type: "input_text", text: "And on Mac?" }], attachments: [], inference_options: {} } },
    });
    expect(calls[1].body).toEqual({
      type: "threads.retry_after_item",
      params: { thread_id: "thr_1", item_id: "msg_2" },
    });
  });

  it("reads a thread's tool-call records and feedback as the asking user", async () => {
    const record = searchRecord("thr 1", "wf_1");
    const { client: c, calls, storage } = client((req) =>
      req.url.endsWith("/tool-calls") ? json({ data: [record] }) : json({ data: { msg_2: "negative" } }),
    );
    storage.setItem(TOKEN_KEY, "tok");
    storage.setItem(USER_KEY, "ann");
    expect(await c.toolCalls("thr 1")).toEqual([record]);
    expect(await c.threadFeedback("thr 1")).toEqual({ msg_2: "negative" });
    expect(calls.map((r) => [r.method, r.url])).toEqual([
      ["GET", "/api/threads/thr%201/tool-calls"],
      ["GET", "/api/threads/thr%201/feedback"],
    ]);
    expect(calls.map((r) => r.headers.get("Authorization"))).toEqual(["Bearer tok", "Bearer tok"]);
    expect(calls.map((r) => r.headers.get("X-KB-User"))).toEqual(["ann", "ann"]);
  });

  it("reports another user's thread as not found", async () => {
    const { client: c } = client(() => json({ error: "Thread not found" }, 404));
    await expect(c.toolCalls("thr_x")).rejects.toMatchObject({ status: 404, message: "Thread not found" });
  });

  it("lists threads newest first, with the cursor only when paging", async () => {
    const { client: c, calls } = client(() => json({ data: [], has_more: false }));
    await c.listThreads(20);
    await c.listThreads(20, "thr_9");
    expect(calls[0].body).toEqual({ type: "threads.list", params: { limit: 20, order: "desc" } });
    expect(calls[1].body).toEqual({
      type: "threads.list",
      params: { limit: 20, order: "desc", after: "thr_9" },
    });
  });

  it("renames, deletes and sends feedback with the protocol's shapes", async () => {
    const { client: c, calls } = client(() => json({ ...thread("thr_1", "New") }));
    await c.renameThread("thr_1", "New");
    await c.deleteThread("thr_1");
    await c.feedback("thr_1", { id: "msg_3" } as never, "negative");
    expect(calls.map((r) => r.body)).toEqual([
      { type: "threads.update", params: { thread_id: "thr_1", title: "New" } },
      { type: "threads.delete", params: { thread_id: "thr_1" } },
      { type: "items.feedback", params: { thread_id: "thr_1", item_ids: ["msg_3"], kind: "negative" } },
    ]);
  });

  it("loads every item of a long thread by following the after cursor", async () => {
    const items = Array.from({ length: 5 }, (_, i) => userItem(`m${i}`, "t", `q${i}`));
    const { client: c, calls } = client((req) => {
      const body = req.body as { type: string; params: { after?: string } };
      if (body.type === "threads.get_by_id") {
        return json({ ...thread("t", "T"), items: { data: items.slice(0, 2), has_more: true, after: "m1" } });
      }
      const start = body.params.after ? items.findIndex((i) => i.id === body.params.after) + 1 : 0;
      const data = items.slice(start, start + 2);
      return json({ data, has_more: start + 2 < items.length, after: data[data.length - 1]?.id });
    });
    const loaded = await c.loadThread("t");
    expect(loaded.thread).toEqual({ id: "t", title: "T", created_at: expect.any(String), status: { type: "active" } });
    expect(loaded.items.map((i) => i.id)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(calls.slice(1).map((r) => r.body)).toEqual([
      { type: "items.list", params: { thread_id: "t", limit: 100, order: "asc" } },
      { type: "items.list", params: { thread_id: "t", limit: 100, order: "asc", after: "m1" } },
      { type: "items.list", params: { thread_id: "t", limit: 100, order: "asc", after: "m3" } },
    ]);
  });

  it("fetches status and chunks from the JSON API, escaping the chunk id", async () => {
    const { client: c, calls } = client(() => json({}));
    await c.status();
    await c.chunk("doc 1#3");
    await c.chunk("/api/chunks/abc");
    expect(calls.map((r) => [r.method, r.url])).toEqual([
      ["GET", "/api/status"],
      ["GET", "/api/chunks/doc%201%233"],
      ["GET", "/api/chunks/abc"],
    ]);
  });

  it("sends X-KB-User when a user is configured", async () => {
    const { fetch, calls } = fakeFetch(() => json({ data: [], has_more: false }));
    const c = new ChatKitClient({ fetch, storage: memoryStorage({ [USER_KEY]: "alice" }) });
    await c.listThreads(5);
    expect(calls[0].headers.get("X-KB-User")).toBe("alice");
    expect(calls[0].headers.has("Authorization")).toBe(false);
  });
});

describe("streams", () => {
  it("yields each event of a chunked SSE answer in order", async () => {
    const events: ThreadStreamEvent[] = [
      { type: "thread.created", thread: thread("t") },
      { type: "stream_options", stream_options: { allow_cancel: true } },
      { type: "thread.item.updated", item_id: "a", update: { type: "assistant_message.content_part.text_delta", content_index: 0, delta: "é “x” " } },
      { type: "error", code: "stream.error", allow_retry: true },
    ];
    for (const size of [1, 3, 64, 4096]) {
      const { client: c } = client(() => sse(events, size));
      expect(await all(c.createThread("q"))).toEqual(events);
    }
  });

  it("raises a ProtocolError on a malformed event", async () => {
    const { client: c } = client(
      () => new Response("data: {not json\n\n", { headers: { "Content-Type": "text/event-stream" } }),
    );
    await expect(all(c.createThread("q"))).rejects.toBeInstanceOf(ProtocolError);
  });

  it("stops with an AbortError when the request is aborted mid-stream", async () => {
    const abort = new AbortController();
    const { client: c } = client((req) => openSse([{ type: "progress_update", text: "…" }], req.signal).response);
    const seen: string[] = [];
    const run = (async () => {
      for await (const e of c.createThread("q", abort.signal)) {
        seen.push(e.type);
        abort.abort();
      }
    })();
    const error = await run.catch((e: unknown) => e);
    expect(seen).toEqual(["progress_update"]);
    expect(isAbortError(error)).toBe(true);
  });
});

describe("HTTP errors", () => {
  it.each([
    [400, { error: "Invalid request: params.input" }, "Invalid request: params.input"],
    [404, { error: "Thread not found" }, "Thread not found"],
    [413, { error: "Message too large" }, "Message too large"],
    [422, { detail: [{ msg: "field required" }] }, "field required"],
    [500, "<html>oops</html>", "The server answered 500."],
  ])("%i before the stream becomes an HttpError with the server's message", async (status, body, message) => {
    const { client: c } = client(() =>
      typeof body === "string" ? new Response(body, { status }) : json(body, status),
    );
    const error = await all(c.createThread("q")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(status);
    expect((error as HttpError).message).toBe(message);
  });

  it("asks for a token once on 401, keeps it and retries with a bearer header", async () => {
    const prompt = vi.fn(async () => "s3cret");
    const { client: c, calls, storage } = client(
      (req) => (req.headers.get("Authorization") === "Bearer s3cret" ? json({ data: [], has_more: false }) : json({ error: "unauthorized" }, 401)),
      { onAuthRequired: prompt },
    );
    await Promise.all([c.listThreads(20), c.listThreads(20), c.status()]);
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(prompt).toHaveBeenCalledWith(false);
    expect(storage.data.get(TOKEN_KEY)).toBe("s3cret");
    await c.listThreads(20);
    expect(calls[calls.length - 1].headers.get("Authorization")).toBe("Bearer s3cret");
    expect(prompt).toHaveBeenCalledTimes(1);
  });

  it("asks again (retry=true) when the stored token is refused, and gives up on cancel", async () => {
    const prompt = vi.fn(async () => null);
    const { fetch } = fakeFetch(() => json({ error: "unauthorized" }, 401));
    const storage = memoryStorage({ [TOKEN_KEY]: "old" });
    const c = new ChatKitClient({ fetch, storage, onAuthRequired: prompt });
    const error = await c.status().catch((e: unknown) => e);
    expect(prompt).toHaveBeenCalledWith(true);
    expect((error as HttpError).status).toBe(401);
    expect(storage.data.has(TOKEN_KEY)).toBe(false);
  });

  it("lets a network failure through as a TypeError", async () => {
    const c = new ChatKitClient({
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
      storage: null,
    });
    await expect(c.status()).rejects.toBeInstanceOf(TypeError);
  });
});
