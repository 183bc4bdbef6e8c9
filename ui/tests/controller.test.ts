import { describe, expect, it } from "vitest";
import { ChatKitClient } from "../src/client";
import { Controller } from "../src/controller";
import type { AssistantMessageItem, WorkflowItem } from "../src/protocol";
import { type SearchHit, recordKey, searchCall } from "../src/sources";
import { FakeServer } from "./fake-server";
import { memoryStorage, tick } from "./helpers";

function setup() {
  const server = new FakeServer();
  const client = new ChatKitClient({ fetch: server.fetch, storage: memoryStorage() });
  const controller = new Controller(client, { stopPollMs: 10, stopPollTries: 20 });
  return { server, controller };
}

async function until(check: () => boolean, ms = 2000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error("timed out");
    await tick(5);
  }
}

describe("Controller", () => {
  it("loads the status and the thread list", async () => {
    const { controller } = setup();
    await controller.init();
    expect(controller.state.status).toMatchObject({ documents: 3, chunks: 42, chat_model: "offline" });
    expect(controller.state.threads).toEqual([]);
  });

  it("sends a first question: creates the thread, streams the answer, lists the thread", async () => {
    const { controller, server } = setup();
    controller.setDraft("How do I install on Linux?");
    const sending = controller.send();
    expect(controller.state.inFlight).toBe(true);
    expect(controller.state.draft).toBe("");
    expect(controller.state.chat.pending).toBe("How do I install on Linux?");
    await sending;
    const s = controller.state;
    expect(s.inFlight).toBe(false);
    expect(s.chat.pending).toBeNull();
    expect(s.chat.items.map((i) => i.type)).toEqual(["user_message", "workflow", "assistant_message"]);
    const answer = s.chat.items[2] as AssistantMessageItem;
    expect(answer.content[0].text).toBe("Run the **installer** [1].");
    expect(answer.content[0].annotations).toHaveLength(1);
    expect(s.chat.thread?.title).toBe("How do I install on Linux?");
    expect(s.threads.map((t) => t.title)).toEqual(["How do I install on Linux?"]);
    expect(server.bodies("threads.create")).toHaveLength(1);
  });

  it("sends a follow-up into the open thread", async () => {
    const { controller, server } = setup();
    await controller.send("first");
    await controller.send("second");
    const add = server.bodies("threads.add_user_message");
    expect(add).toHaveLength(1);
    expect(add[0].params.thread_id).toBe(controller.state.chat.thread?.id);
    expect(controller.state.chat.items.filter((i) => i.type === "user_message")).toHaveLength(2);
  });

  it("shows an error event and retries after the last user message", async () => {
    const { controller, server } = setup();
    server.mode = "error-event";
    await controller.send("q");
    expect(controller.state.chat.error).toMatchObject({ message: "The model is unavailable.", allowRetry: true });
    expect(controller.state.draft).toBe(""); // the question is saved in the thread
    server.mode = "answer";
    await controller.retry();
    const retry = server.bodies("threads.retry_after_item");
    expect(retry).toHaveLength(1);
    const userId = controller.state.chat.items[0].id;
    expect(retry[0].params).toEqual({ thread_id: controller.state.chat.thread?.id, item_id: userId });
    expect(controller.state.chat.error).toBeNull();
    expect(controller.state.chat.items.map((i) => i.type)).toEqual(["user_message", "workflow", "assistant_message"]);
  });

  it("keeps what was typed when the request fails before the thread saw it", async () => {
    const { controller, server } = setup();
    server.mode = "http-error";
    controller.setDraft("a long question");
    await controller.send();
    expect(controller.state.chat.error?.message).toBe("Message too large");
    expect(controller.state.draft).toBe("a long question");
    expect(controller.state.chat.pending).toBeNull();

    server.mode = "network";
    await controller.retry();
    expect(controller.state.chat.error?.message).toMatch(/Could not reach the server/);
    expect(controller.state.draft).toBe("a long question");

    server.mode = "answer";
    await controller.retry();
    expect(controller.state.chat.error).toBeNull();
    expect(controller.state.draft).toBe("");
    expect(controller.state.chat.items[0].type).toBe("user_message");
  });

  it("stops mid-answer and reloads what the server saved", async () => {
    const { controller, server } = setup();
    server.mode = "hang";
    const sending = controller.send("q");
    await until(() => (controller.state.chat.items[2] as AssistantMessageItem | undefined)?.content[0]?.text === "Run the **installer** [1].");
    expect(controller.state.inFlight).toBe(true);
    controller.stop();
    expect(controller.state.stopping).toBe(true);
    await sending;
    expect(controller.state.inFlight).toBe(false);
    expect(controller.state.chat.error).toBeNull();
    expect(server.bodies("threads.get_by_id").length).toBeGreaterThan(0);
    const saved = controller.state.chat.items.find((i) => i.type === "assistant_message") as AssistantMessageItem;
    expect(saved.content[0].text).toBe("Run the **installer** [1].");
  });

  it("opens a thread, and a deleted one falls back to a new chat", async () => {
    const { controller, server } = setup();
    await controller.send("q");
    const id = controller.state.chat.thread?.id as string;
    controller.newChat();
    expect(controller.state.chat.items).toEqual([]);
    await controller.openThread(id);
    expect(controller.state.chat.items).toHaveLength(3);
    server.threads.delete(id);
    controller.newChat();
    await controller.openThread(id);
    expect(controller.state.chat.thread).toBeNull();
    expect(controller.state.toast).toMatch(/no longer exists/);
  });

  it("renames and deletes threads", async () => {
    const { controller } = setup();
    await controller.send("q");
    const id = controller.state.chat.thread?.id as string;
    await controller.renameThread(id, "  Renamed  ");
    expect(controller.state.threads[0].title).toBe("Renamed");
    expect(controller.state.chat.thread?.title).toBe("Renamed");
    await controller.deleteThread(id);
    expect(controller.state.threads).toEqual([]);
    expect(controller.state.chat.thread).toBeNull();
  });

  it("sends feedback for an answer", async () => {
    const { controller, server } = setup();
    await controller.send("q");
    const answer = controller.state.chat.items[2] as AssistantMessageItem;
    await controller.feedback(answer, "positive");
    expect(server.bodies("items.feedback")[0].params).toEqual({
      thread_id: controller.state.chat.thread?.id,
      item_ids: [answer.id],
      kind: "positive",
    });
    expect(controller.state.feedback[answer.id]).toBe("positive");
  });

  it("opens a citation: fetches the passage and marks the question's words", async () => {
    const { controller, server } = setup();
    await controller.send("How do I install on Linux?");
    const answer = controller.state.chat.items[2];
    controller.openCitation(answer.id, 1);
    expect(controller.state.panel).toMatchObject({ n: 1, loading: true, source: "guide.md" });
    await until(() => controller.state.panel?.loading === false);
    const panel = controller.state.panel;
    expect(panel?.chunk?.text).toContain("run the installer");
    expect(panel?.terms).toEqual(["install", "linux"]);
    expect(panel?.href).toBe("/api/documents/doc1/file");
    expect(panel?.heading).toBe("Install > Linux");
    expect(server.calls.some((c) => c.url === "/api/chunks/c1")).toBe(true);
    controller.closePanel();
    expect(controller.state.panel).toBeNull();
  });

  it("opens a search hit in the panel: its chunk, file, section and a link to the original", async () => {
    const { controller, server } = setup();
    await controller.send("q");
    const workflow = controller.state.chat.items[1] as WorkflowItem;
    const record = controller.state.chat.records[recordKey(workflow.id, 0)];
    const call = searchCall(workflow.workflow.tasks[0], record);
    controller.openHit(call?.results[1] as SearchHit, "install linux");
    expect(controller.state.panel).toMatchObject({ n: null, source: "faq.md", locator: null, heading: "Setup", loading: true });
    await until(() => controller.state.panel?.loading === false);
    expect(server.calls.at(-1)?.url).toBe("/api/chunks/c%202");
    expect(controller.state.panel).toMatchObject({
      source: "faq.md",
      heading: "Setup",
      href: "/api/documents/doc1/file",
      terms: ["install", "linux"],
      chunk: { chunk_id: "c 2", text: "Setup takes a minute." },
    });
  });
});

describe("tool-call records", () => {
  const recordsUrl = (threadId: string) => `/api/threads/${threadId}/tool-calls`;

  it("are fetched when a search completes, while the answer is still streaming", async () => {
    const { controller, server } = setup();
    server.mode = "hang";
    const sending = controller.send("q");
    await until(() => Object.keys(controller.state.chat.records).length === 1);
    expect(controller.state.inFlight).toBe(true);
    const threadId = controller.state.chat.thread?.id as string;
    expect(server.calls.some((c) => c.url === recordsUrl(threadId))).toBe(true);
    const workflow = controller.state.chat.items[1] as WorkflowItem;
    expect(controller.state.chat.records[recordKey(workflow.id, 0)]?.results.map((r) => r.chunk_id)).toEqual(["c1", "c 2"]);
    controller.stop();
    await sending;
  });

  it("are asked for again at the end of the turn when they lagged behind the stream", async () => {
    const { controller, server } = setup();
    server.staleRecordFetches = 2; // on the task's completion and on the workflow's end
    await controller.send("q");
    const threadId = controller.state.chat.thread?.id as string;
    expect(server.calls.filter((c) => c.url === recordsUrl(threadId))).toHaveLength(3);
    const workflow = controller.state.chat.items[1] as WorkflowItem;
    expect(controller.state.chat.records[recordKey(workflow.id, 0)]).toBeDefined();
  });

  it("are loaded when a thread is opened", async () => {
    const { controller, server } = setup();
    await controller.send("q");
    const threadId = controller.state.chat.thread?.id as string;
    expect(server.calls.filter((c) => c.url === recordsUrl(threadId))).toHaveLength(2);
    const reopened = new Controller(new ChatKitClient({ fetch: server.fetch, storage: memoryStorage() }));
    await reopened.openThread(threadId);
    expect(Object.values(reopened.state.chat.records).map((r) => r.thread)).toEqual([threadId]);
    expect(reopened.state.chat.recordsError).toBeNull();
  });

  for (const status of [404, 500]) {
    it(`a ${status} on the records route leaves the chat working`, async () => {
      const { controller, server } = setup();
      server.recordsStatus = status;
      await controller.send("q");
      expect(controller.state.chat.error).toBeNull();
      expect(controller.state.chat.items.map((i) => i.type)).toEqual(["user_message", "workflow", "assistant_message"]);
      expect(controller.state.chat.records).toEqual({});
      expect(controller.state.chat.recordsError).toBe("The records are unavailable.");
      await controller.send("again");
      expect(controller.state.chat.items).toHaveLength(6);
      server.recordsStatus = null;
      const threadId = controller.state.chat.thread?.id as string;
      controller.newChat();
      await controller.openThread(threadId);
      expect(Object.keys(controller.state.chat.records)).toHaveLength(2);
      expect(controller.state.chat.recordsError).toBeNull();
    });
  }
});

describe("thread list paging", () => {
  it("loads more threads with the after cursor", async () => {
    const { controller, server } = setup();
    for (let i = 0; i < 25; i++) server.threads.set(`thr_${String(i).padStart(2, "0")}`, { title: `T${i}`, items: [] });
    await controller.loadThreads();
    const first = server.bodies("threads.list")[0];
    expect(first.params).toEqual({ limit: 20, order: "desc" });
    // The fake lists every thread at once: page it by hand to check the cursor handling.
    controller.store.update((s) => ({ ...s, threads: s.threads.slice(0, 20), threadsHasMore: true, threadsAfter: s.threads[19].id }));
    await controller.loadThreads(true);
    const second = server.bodies("threads.list")[1];
    expect(second.params).toEqual({ limit: 20, order: "desc", after: "thr_05" });
    expect(new Set(controller.state.threads.map((t) => t.id)).size).toBe(25);
    expect(controller.state.threadsHasMore).toBe(false);
  });
});

describe("access token", () => {
  it("asks once, sends the bearer token and remembers it", async () => {
    const server = new FakeServer();
    const storage = memoryStorage();
    const guarded: typeof fetch = async (input, init) => {
      const auth = new Headers(init?.headers).get("Authorization");
      if (auth !== "Bearer letmein") {
        return new Response(JSON.stringify({ error: "missing or wrong token" }), { status: 401 });
      }
      return server.fetch(input, init);
    };
    const controller = new Controller({ fetch: guarded, storage });
    const init = controller.init();
    await until(() => controller.state.authPrompt !== null);
    expect(controller.state.authPrompt).toEqual({ retry: false });
    controller.submitToken("letmein");
    await init;
    expect(controller.state.authPrompt).toBeNull();
    expect(controller.state.status?.documents).toBe(3);
    expect(storage.data.get("kb.token")).toBe("letmein");
  });

  it("shows who is signed in and opens originals through a signed link, never the token", async () => {
    const server = new FakeServer();
    server.me = { user: "alice", groups: ["hr"], is_admin: false, multi_user: true };
    const storage = memoryStorage();
    storage.data.set("kb.token", "kb_secret");
    const controller = new Controller({ fetch: server.fetch, storage });
    await controller.init();
    expect(controller.state.me?.user).toBe("alice");
    controller.openHit(
      { rank: 1, chunkId: "c1", source: "guide.md", locator: null, heading: null, score: "1", label: "guide" },
      "q",
    );
    await until(() => controller.state.panel?.loading === false);
    expect(controller.state.panel?.href).toBe("/api/documents/doc1/file?user=alice&exp=9&sig=ab");
    expect(JSON.stringify(server.calls)).not.toContain("token=");
  });
});
