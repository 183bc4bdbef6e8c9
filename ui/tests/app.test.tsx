import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatKitClient } from "../src/client";
import { Controller } from "../src/controller";
import { App } from "../src/ui/App";
import { FakeServer } from "./fake-server";
import { byTestId, memoryStorage, settle, tick } from "./helpers";

let root: HTMLElement;
let server: FakeServer;
let controller: Controller;

const { $, $$ } = byTestId(() => root);

async function type(text: string) {
  const box = $("composer") as HTMLTextAreaElement;
  await act(() => {
    box.value = text;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function key(name: string, shiftKey = false) {
  await act(() => {
    $("composer")?.dispatchEvent(new KeyboardEvent("keydown", { key: name, shiftKey, bubbles: true, cancelable: true }));
  });
}

beforeEach(async () => {
  root = document.createElement("div");
  document.body.appendChild(root);
  server = new FakeServer();
  controller = new Controller(new ChatKitClient({ fetch: server.fetch, storage: memoryStorage() }), { stopPollMs: 10 });
  await act(() => render(<App controller={controller} />, root));
  await act(() => controller.init());
});

afterEach(() => {
  render(null, root);
  root.remove();
});

describe("App", () => {
  it("shows the knowledge-base status in the header", () => {
    expect($("kb-status")?.textContent).toContain("3 documents");
    expect($("kb-status")?.textContent).toContain("42 chunks");
    expect($("kb-status")?.textContent).toContain("offline");
    expect($("whoami")).toBeNull(); // the single-person mode: nobody to name
  });

  it("names the signed-in user in the header", async () => {
    server.me = { user: "alice", groups: [], is_admin: false, multi_user: true };
    await act(() => controller.init());
    expect($("whoami")?.textContent).toBe("alice");
  });

  it("Shift+Enter keeps typing, Enter sends and the answer renders with citations and searches", async () => {
    await type("How do I install on Linux?");
    await key("Enter", true);
    expect(server.bodies("threads.create")).toHaveLength(0);
    await key("Enter");
    await settle(() => $$("assistant-message").length === 1 && $$("search-hit").length === 2);
    expect($$("user-message").map((e) => e.textContent)).toEqual(["How do I install on Linux?"]);
    const answer = $("assistant-message") as HTMLElement;
    expect(answer.querySelector("strong")?.textContent).toBe("installer");
    expect($$("citation").map((c) => c.textContent)).toEqual(["1"]);
    const tool = $("tool-call") as HTMLDetailsElement;
    expect(tool.textContent).toContain("install linux");
    expect(tool.textContent).toContain("2 hits");
    expect(tool.textContent).toContain("12 ms");
    expect($$("search-hit").map((e) => e.textContent)).toEqual([
      "1guide.md, page 3 — Install > Linuxscore 0.0312",
      "2faq.md — Setupscore 0.0150",
    ]);
    expect($$("thread-item").map((e) => e.textContent)).toEqual(["How do I install on Linux?"]);
    expect(($("composer") as HTMLTextAreaElement).value).toBe("");
  });

  it("clicking a citation opens the source panel with the passage highlighted", async () => {
    await act(() => controller.send("How do I install on Linux?"));
    await act(() => {
      $("citation")?.click();
    });
    await settle(() => $("source-passage")?.getAttribute("aria-busy") === "false");
    const panel = $("source-panel") as HTMLElement;
    expect(panel.textContent).toContain("guide.md");
    expect(panel.textContent).toContain("Install > Linux");
    expect([...panel.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["install", "Linux", "installer"]);
    expect(panel.textContent).not.toContain("Loading");
    expect($("open-original")?.getAttribute("href")).toBe("/api/documents/doc1/file");
    await act(() => {
      window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    });
    expect($("source-panel")).toBeNull();
  });

  it("shows a citation's slide or sheet range in the answer and in the source panel", async () => {
    server.locator = { kind: "sheet", value: "Budget!A12:D40", label: "Budget!A12:D40" };
    await act(() => controller.send("What is the budget?"));
    expect($("source-link")?.textContent).toContain("plan.xlsx, Budget!A12:D40");
    await act(() => {
      $("citation")?.click();
    });
    await settle(() => $("source-passage")?.getAttribute("aria-busy") === "false");
    expect($("source-locator")?.textContent).toBe("Budget!A12:D40");
    expect($("source-panel")?.textContent).toContain("Location");
    expect($("open-original")?.getAttribute("href")).toBe("/api/documents/doc1/file");
  });

  it("opens a cited PDF page at that page", async () => {
    server.locator = { kind: "page", value: "3", label: "page 3" };
    await act(() => controller.send("Where is it?"));
    await act(() => {
      $("citation")?.click();
    });
    await settle(() => $("source-passage")?.getAttribute("aria-busy") === "false");
    expect($("source-locator")?.textContent).toBe("page 3");
    expect($("open-original")?.getAttribute("href")).toBe("/api/documents/doc1/file#page=3");
  });

  it("disables the composer and offers Stop while an answer streams", async () => {
    server.mode = "hang";
    await type("q");
    await key("Enter");
    await settle(() => $$("assistant-message").length === 1);
    expect(($("composer") as HTMLTextAreaElement).disabled).toBe(true);
    expect($("send-button")).toBeNull();
    await act(() => {
      $("stop-button")?.click();
    });
    await settle(() => !controller.state.inFlight);
    expect($("stop-button")).toBeNull();
    expect(($("composer") as HTMLTextAreaElement).disabled).toBe(false);
    expect($("assistant-message")?.textContent).toContain("installer");
  });

  it("shows errors with a retry button and keeps what was typed", async () => {
    server.mode = "http-error";
    await type("my question");
    await key("Enter");
    await settle(() => !!$("error-retry"));
    expect(root.querySelector("[role='alert']")?.textContent).toContain("Message too large");
    expect(($("composer") as HTMLTextAreaElement).value).toBe("my question");
    server.mode = "answer";
    await act(() => {
      $("error-retry")?.click();
    });
    await settle(() => $$("assistant-message").length === 1 && !controller.state.inFlight);
    expect($("error-retry")).toBeNull();
  });

  it("shows searches from their records, whatever the display text says", async () => {
    server.rewordDisplay = true; // titles, queries, sources: nonsense with wrong numbers
    server.firstRank = 4;
    await act(() => controller.send("How do I install on Linux?"));
    await settle(() => $$("search-hit").length === 2);
    const summary = $("tool-call")?.querySelector("summary")?.textContent ?? "";
    expect(summary).toBe("Searched“install linux”2 hits · 12 ms");
    const hits = $$("search-hit");
    expect(hits.map((h) => h.querySelector(".hit-rank")?.textContent)).toEqual(["4", "5"]);
    expect(hits.map((h) => h.querySelector(".hit-title")?.textContent)).toEqual([
      "guide.md, page 3 — Install > Linux",
      "faq.md — Setup",
    ]);
    expect(hits.map((h) => h.querySelector(".hit-score")?.textContent)).toEqual([
      "score 0.0312",
      "score 0.0150",
    ]);
    await act(() => {
      hits[1].querySelector<HTMLButtonElement>(".hit-title")?.click();
    });
    await settle(() => $("source-passage")?.getAttribute("aria-busy") === "false");
    expect(server.calls.at(-1)?.url).toBe("/api/chunks/c%202");
    expect($("source-file")?.textContent).toBe("faq.md");
    expect($("source-heading")?.textContent).toBe("Setup");
    expect($("source-passage")?.textContent).toContain("Setup takes a minute.");
  });

  it("shows the error of a failed search", async () => {
    await act(() => controller.send("q"));
    const threadId = controller.state.chat.thread?.id as string;
    const [record] = server.records.get(threadId) ?? [];
    server.records.set(threadId, [{ ...record, results: [], error: "RuntimeError: index locked" }]);
    await act(() => controller.newChat());
    await act(() => controller.openThread(threadId));
    expect($("tool-call")?.querySelector(".tool-meta")?.textContent).toBe("failed");
    expect($("tool-call-error")?.textContent).toBe("The search failed: RuntimeError: index locked");
    expect($$("search-hit")).toHaveLength(0);
  });

  it("keeps the chat working when the search records cannot be loaded", async () => {
    server.recordsStatus = 500;
    await act(() => controller.send("How do I install on Linux?"));
    expect($("assistant-message")?.textContent).toContain("installer");
    expect(root.querySelector("[role='alert']")).toBeNull();
    const tool = $("tool-call") as HTMLElement;
    expect(tool.querySelector("summary")?.textContent).toBe("Searched“install linux”details unavailable");
    expect($("tool-call-note")?.textContent).toBe(
      "The details of this search could not be loaded: The records are unavailable.",
    );
    expect(($("composer") as HTMLTextAreaElement).disabled).toBe(false);
  });

  it("shows the feedback given on an answer after a reload", async () => {
    await act(() => controller.send("q"));
    await act(async () => {
      $("feedback-down")?.click();
      await tick(5);
    });
    const threadId = controller.state.chat.thread?.id as string;
    render(null, root);
    const reloaded = new Controller(new ChatKitClient({ fetch: server.fetch, storage: memoryStorage() }));
    await act(() => render(<App controller={reloaded} />, root));
    await act(() => reloaded.init(threadId));
    expect($$("assistant-message")).toHaveLength(1);
    expect($("feedback-down")?.getAttribute("aria-pressed")).toBe("true");
    expect($("feedback-up")?.getAttribute("aria-pressed")).toBe("false");
  });

  it("feedback buttons are labelled and pressed", async () => {
    await act(() => controller.send("q"));
    const up = $("feedback-up") as HTMLButtonElement;
    expect(up.getAttribute("aria-label")).toBe("Good answer");
    await act(async () => {
      up.click();
      await tick(5);
    });
    expect(up.getAttribute("aria-pressed")).toBe("true");
    expect($("feedback-down")?.getAttribute("aria-pressed")).toBe("false");
  });
});

describe("access token dialog", () => {
  it("asks for the token when the server answers 401, then loads", async () => {
    const guarded = new FakeServer();
    const storage = memoryStorage();
    const fetch: typeof globalThis.fetch = async (input, init) =>
      new Headers(init?.headers).get("Authorization") === "Bearer s3cret"
        ? guarded.fetch(input, init)
        : new Response(JSON.stringify({ error: "missing or wrong token" }), { status: 401 });
    const app = new Controller({ fetch, storage });
    const host = document.createElement("div");
    document.body.appendChild(host);
    await act(() => render(<App controller={app} />, host));
    let init!: Promise<void>;
    await act(() => {
      init = app.init();
    });
    await settle(() => !!host.querySelector("[data-testid='token-input']"));
    const input = host.querySelector<HTMLInputElement>("[data-testid='token-input']") as HTMLInputElement;
    await act(() => {
      input.value = "s3cret";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(() => {
      input.form?.requestSubmit();
    });
    await act(() => init);
    await settle(() => host.querySelector("[data-testid='kb-status']")?.textContent?.includes("3 documents") ?? false);
    expect(host.querySelector("[data-testid='token-input']")).toBeNull();
    expect(storage.data.get("kb.token")).toBe("s3cret");
    render(null, host);
    host.remove();
  });
});
