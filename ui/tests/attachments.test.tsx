import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatKitClient } from "../src/client";
import { Controller, type DraftAttachment } from "../src/controller";
import { App } from "../src/ui/App";
import { AttachmentChip } from "../src/ui/AttachmentChip";
import { FakeServer } from "./fake-server";
import { byTestId, memoryStorage, settle, tick } from "./helpers";

let root: HTMLElement;

const { $, $$ } = byTestId(() => root);

const chip = (change: Partial<DraftAttachment> = {}): DraftAttachment => ({
  key: "1",
  name: "report.pdf",
  size: 2_500_000,
  status: "uploading",
  progress: 0.4,
  error: null,
  id: "atc_1",
  ...change,
});

beforeEach(() => {
  root = document.createElement("div");
  document.body.appendChild(root);
});

afterEach(async () => {
  await act(() => render(null, root));
  root.remove();
  await tick(150); // preact's effect timers fire before the test environment goes away
});

describe("AttachmentChip", () => {
  it("shows the upload's progress, then the file's size once it is ready", async () => {
    await act(() => render(<AttachmentChip attachment={chip()} onRemove={() => {}} />, root));
    const bar = root.querySelector("[role='progressbar']");
    expect(bar?.getAttribute("aria-valuenow")).toBe("40");
    expect(bar?.getAttribute("aria-label")).toBe("Uploading report.pdf");
    await act(() =>
      render(<AttachmentChip attachment={chip({ status: "ready", progress: 1 })} onRemove={() => {}} />, root),
    );
    expect(root.querySelector("[role='progressbar']")).toBeNull();
    expect($("attachment-chip")?.textContent).toContain("report.pdf2.4 MB");
  });

  it("shows why a file was refused, and removes it with its key", async () => {
    const onRemove = vi.fn();
    const failed = chip({ status: "failed", error: "report.pdf is 31.0 MB: too large" });
    await act(() => render(<AttachmentChip attachment={failed} onRemove={onRemove} />, root));
    expect($("attachment-error")?.textContent).toBe("report.pdf is 31.0 MB: too large");
    expect($("attachment-chip")?.className).toContain("failed");
    await act(() => $("attachment-remove")?.click());
    expect(onRemove).toHaveBeenCalledWith("1");
  });
});

describe("attaching files in the composer", () => {
  let server: FakeServer;
  let controller: Controller;

  beforeEach(async () => {
    server = new FakeServer();
    const client = new ChatKitClient({ fetch: server.fetch, storage: memoryStorage({ "kb.user": "ann" }), upload: server.upload });
    controller = new Controller(client);
    await act(() => render(<App controller={controller} />, root));
    await act(() => controller.init());
  });

  async function type(text: string) {
    const box = $("composer") as HTMLTextAreaElement;
    await act(() => {
      box.value = text;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  async function pick(...files: File[]) {
    const input = $("attach-input") as HTMLInputElement;
    Object.defineProperty(input, "files", { value: files, configurable: true });
    await act(() => {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  it("uploads with progress, holds Send until done, and sends the file with the question", async () => {
    server.holdUploads = true;
    await type("What does the report say?");
    await pick(new File(["# Report\n\nSales grew."], "report.md", { type: "text/markdown" }));
    await settle(() => root.querySelector("[role='progressbar']")?.getAttribute("aria-valuenow") === "50");
    expect(($("send-button") as HTMLButtonElement).disabled).toBe(true);
    const [upload] = server.uploads;
    expect(upload.url).toBe("/api/attachments/atc_1/upload"); // this page's origin
    expect(upload.headers.get("X-KB-User")).toBe("ann");
    expect(upload.headers.get("Content-Type")).toBe("application/octet-stream");
    server.releaseUploads();
    await settle(() => !($("send-button") as HTMLButtonElement).disabled);
    await act(() => $("send-button")?.click());
    await settle(() => $$("assistant-message").length === 1);
    expect(server.bodies("threads.create")[0].params.input).toMatchObject({ attachments: ["atc_1"] });
    expect($$("message-attachment").map((e) => e.textContent)).toEqual(["report.md"]);
    expect($$("attachment-chip")).toHaveLength(0);
  });

  it("shows a refused file's reason, and a removed file is deleted on the server", async () => {
    await pick(new File(["MZ"], "setup.exe"), new File(["# A"], "a.md"));
    await settle(() => $$("attachment-chip").length === 2 && $("attachment-error") !== null);
    expect($("attachment-error")?.textContent).toContain(".exe files cannot be attached");
    await type("Question");
    expect(($("send-button") as HTMLButtonElement).disabled).toBe(true); // a refused file is still in
    const [refused, ready] = $$("attachment-remove");
    await act(() => refused.click());
    await settle(() => !($("send-button") as HTMLButtonElement).disabled);
    await act(() => ready.click());
    await settle(() => server.bodies("attachments.delete").length === 1);
    expect(server.bodies("attachments.delete")[0].params).toEqual({ attachment_id: "atc_1" });
    expect(server.attachments.size).toBe(0);
  });
});
