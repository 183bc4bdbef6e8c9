import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatKitClient } from "../src/client";
import { Controller } from "../src/controller";
import { App } from "../src/ui/App";
import { FakeServer } from "./fake-server";
import { memoryStorage, tick } from "./helpers";

let root: HTMLElement;
let server: FakeServer;
let controller: Controller;

const $ = (testid: string) => root.querySelector<HTMLElement>(`[data-testid='${testid}']`);
const $$ = (testid: string) => [...root.querySelectorAll<HTMLElement>(`[data-testid='${testid}']`)];

async function settle(check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) {
    await act(async () => {
      await tick(5);
    });
  }
  expect(check()).toBe(true);
}

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
  });

  it("Shift+Enter keeps typing, Enter sends and the answer renders with citations and searches", async () => {
    await type("How do I install on Linux?");
    await key("Enter", true);
    expect(server.bodies("threads.create")).toHaveLength(0);
    await key("Enter");
    await settle(() => $$("assistant-message").length === 1 && !controller.state.inFlight);
    expect($$("user-message").map((e) => e.textContent)).toEqual(["How do I install on Linux?"]);
    const answer = $("assistant-message") as HTMLElement;
    expect(answer.querySelector("strong")?.textContent).toBe("installer");
    expect($$("citation").map((c) => c.textContent)).toEqual(["1"]);
    const tool = $("tool-call") as HTMLDetailsElement;
    expect(tool.textContent).toContain("install linux");
    expect(tool.textContent).toContain("2 hits");
    expect(tool.textContent).toContain("12 ms");
    expect(tool.querySelectorAll(".hits li")).toHaveLength(2);
    expect(tool.textContent).toContain("score 0.0312");
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
