/** Test doubles at the network edge: a scripted fetch that records requests. */
import { act } from "preact/test-utils";
import { expect } from "vitest";
import type { Locator, ThreadStreamEvent, ToolCallRecord } from "../src/protocol";

export interface Recorded {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
  signal: AbortSignal | null;
}

export type Handler = (req: Recorded) => Response | Promise<Response>;

/** A fetch whose answers come from `handler`; every request is kept in `calls`. */
export function fakeFetch(handler: Handler) {
  const calls: Recorded[] = [];
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const req: Recorded = {
      url: String(input),
      method: init.method ?? "GET",
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? JSON.parse(init.body) : null,
      signal: init.signal ?? null,
    };
    calls.push(req);
    if (req.signal?.aborted) throw new DOMException("aborted", "AbortError");
    return handler(req);
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export function sseText(events: ThreadStreamEvent[]): string {
  return events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
}

/** An SSE response cut into `chunk`-byte pieces (split lines, split characters). */
export function sse(events: ThreadStreamEvent[], chunk = 7): Response {
  const bytes = new TextEncoder().encode(sseText(events));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += chunk) controller.enqueue(bytes.slice(i, i + chunk));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

/**
 * An SSE response that sends `events` and then stays open until the request is aborted
 * (or `release()` ends it), like an answer still being generated.
 */
export function openSse(events: ThreadStreamEvent[], signal: AbortSignal | null) {
  let release = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(sseText(events)));
      const abort = () => controller.error(new DOMException("aborted", "AbortError"));
      if (signal?.aborted) abort();
      signal?.addEventListener("abort", abort);
      release = () => controller.close();
    },
  });
  const response = new Response(body, {
    status: 200,
    headers: { "Content-Type": "text/event-stream" },
  });
  return { response, release: () => release() };
}

export function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

export const T0 = "2025-01-01T00:00:00";

export function thread(id: string, title: string | null = null) {
  return { id, title, created_at: T0, status: { type: "active" as const }, items: { data: [], has_more: false } };
}

export function userItem(id: string, threadId: string, text: string) {
  return {
    type: "user_message" as const,
    id,
    thread_id: threadId,
    created_at: T0,
    content: [{ type: "input_text" as const, text }],
    attachments: [],
    inference_options: {},
  };
}

export function assistantItem(id: string, threadId: string, text = "", annotations: unknown[] = []) {
  return {
    type: "assistant_message" as const,
    id,
    thread_id: threadId,
    created_at: T0,
    content: text || annotations.length ? [{ type: "output_text" as const, text, annotations }] : [],
  } as import("../src/protocol").AssistantMessageItem;
}

const SOURCE_OF: Record<string, string> = { page: "manual.pdf", slide: "deck.pptx", sheet: "plan.xlsx" };

export function annotation(n: number, chunkId: string, index: number, locator: Locator | null = null) {
  return {
    type: "annotation" as const,
    index,
    source: {
      type: "entity" as const,
      id: chunkId,
      title: `guide.md — Install > Linux`,
      description: "Run the installer on Linux",
      data: {
        n,
        chunk_id: chunkId,
        doc_id: "doc1",
        source: locator ? SOURCE_OF[locator.kind] : "guide.md",
        page: locator?.kind === "page" ? Number(locator.value) : null,
        locator,
        heading: "Install > Linux",
        url: "/api/documents/doc1/file",
      },
    },
  };
}

export function searchWorkflow(id: string, threadId: string, status: "loading" | "complete") {
  return {
    type: "workflow" as const,
    id,
    thread_id: threadId,
    created_at: T0,
    workflow: {
      type: "custom" as const,
      tasks: [
        {
          type: "web_search" as const,
          title: "Searched “install linux” — 2 hits in 12 ms",
          title_query: "install linux",
          queries: ["install linux"],
          sources: [
            {
              type: "url" as const,
              title: "1. guide.md p.3 — Install > Linux",
              url: "/api/chunks/c1",
              description: "score 0.0312",
              group: "guide.md",
            },
            {
              type: "url" as const,
              title: "2. faq.md — Setup",
              url: "/api/chunks/c%202",
              description: "score 0.0150",
              group: "faq.md",
            },
          ],
          status_indicator: status,
        },
      ],
    },
  };
}

/** The record the server keeps of the search `searchWorkflow` shows (ranks from `firstRank`). */
export function searchRecord(threadId: string, workflowId: string, firstRank = 1): ToolCallRecord {
  return {
    time: "2025-01-01T00:00:00.000+00:00",
    user: "local",
    thread: threadId,
    workflow_item: workflowId,
    task_index: 0,
    call_id: "call_1",
    tool: "search_docs",
    arguments: { query: "install linux", top_k: null, source: null },
    duration_ms: 12.3,
    results: [
      {
        rank: firstRank,
        chunk_id: "c1",
        source: "guide.md",
        title: "Guide",
        page: 3,
        heading: "Install > Linux",
        score: 0.031234,
      },
      {
        rank: firstRank + 1,
        chunk_id: "c 2",
        source: "faq.md",
        title: "FAQ",
        page: null,
        heading: "Setup",
        score: 0.015,
      },
    ],
    error: null,
  };
}

export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `$` and `$$` by data-testid under the rendered root (read when called). */
export function byTestId(root: () => HTMLElement) {
  const selector = (testid: string) => `[data-testid='${testid}']`;
  return {
    $: (testid: string) => root().querySelector<HTMLElement>(selector(testid)),
    $$: (testid: string) => [...root().querySelectorAll<HTMLElement>(selector(testid))],
  };
}

/** Lets the UI run until `check` holds (or fails the test after `rounds` short waits). */
export async function settle(check: () => boolean, rounds = 300) {
  for (let i = 0; i < rounds && !check(); i++) {
    await act(async () => {
      await tick(5);
    });
  }
  expect(check()).toBe(true);
}
