/** The Library view against an in-memory Library API behind a fake fetch. */
import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChatKitClient } from "../src/client";
import { LibraryController } from "../src/library/controller";
import type { JobSummary, LibraryDocument, UploadView } from "../src/library/types";
import { Library } from "../src/ui/Library";
import { byTestId, fakeFetch, json, memoryStorage, settle, type Recorded } from "./helpers";

function doc(n: number, change: Partial<LibraryDocument> = {}): LibraryDocument {
  return {
    doc_id: `d${n}`,
    upload_id: null,
    name: `report ${String(n).padStart(3, "0")}.pdf`,
    folder: "/docs",
    collection: "default",
    format: "pdf",
    part_kind: "page",
    parts: 3,
    chunks: 7,
    size: 2048,
    indexed_at: 1_700_000_000,
    status: "indexed",
    reason: null,
    uploaded: false,
    ...change,
  };
}

function job(id: string, state: JobSummary["state"], done = 0): JobSummary {
  return { job_id: id, state, files_total: 2, files_done: done, error: null, counts: null, finished_at: null };
}

/** The Library API: documents, uploads whose job moves on each poll, jobs, chunks. */
class FakeLibrary {
  docs: LibraryDocument[] = Array.from({ length: 120 }, (_, i) => doc(i));
  uploads = new Map<string, UploadView>();
  /** Each job's states, one per poll; the last one stays. */
  jobs = new Map<string, JobSummary[]>();
  /** What each upload becomes once its job is done. */
  outcome: Pick<UploadView, "status" | "reason"> = { status: "indexed", reason: null };
  readonly fake = fakeFetch((req) => this.answer(req));

  private answer(req: Recorded): Response {
    const url = new URL(req.url, "http://kb");
    const path = url.pathname;
    if (path === "/api/library/info") {
      return json({ max_file_bytes: 1000, suffixes: [".md", ".pdf"], collections: ["default", "hr"], writable: ["default", "hr"] });
    }
    if (path === "/api/library/folders") return json([]);
    if (path === "/api/library/documents") return json(this.page(url.searchParams));
    if (path === "/api/library/uploads" && req.method === "POST") return json(this.upload(url.searchParams), 202);
    let match = /^\/api\/library\/uploads\/(.+)$/.exec(path);
    if (match) return json(this.uploadNow(match[1]));
    match = /^\/api\/library\/jobs\/(.+)$/.exec(path);
    if (match) return json(this.poll(match[1]));
    match = /^\/api\/library\/documents\/([^/]+)\/chunks$/.exec(path);
    if (match) {
      const items = [1, 2].map((p) => ({ chunk_id: `c${p}`, ord: p, heading: "Totals", locator: { kind: "page", value: String(p), label: `page ${p}` }, text: `Passage on page ${p}.` }));
      return json({ doc_id: match[1], name: "report.pdf", total: 2, offset: 0, items });
    }
    match = /^\/api\/library\/documents\/([^/]+)$/.exec(path);
    if (match && req.method === "DELETE") {
      const id = match[1];
      this.jobs.set("rm", [job("rm", "running"), job("rm", "done")]);
      this.afterJob.set("rm", () => (this.docs = this.docs.filter((d) => d.doc_id !== id)));
      return json(job("rm", "queued"), 202);
    }
    return json({ error: `no route ${path}` }, 404);
  }

  private afterJob = new Map<string, () => void>();

  private page(params: URLSearchParams) {
    const q = params.get("q") ?? "";
    const status = params.get("status");
    const found = this.docs.filter((d) => d.name.includes(q) && (!status || d.status === status));
    const offset = Number(params.get("offset") ?? 0);
    const limit = Number(params.get("limit") ?? 50);
    return { total: found.length, offset, limit, items: found.slice(offset, offset + limit) };
  }

  private upload(params: URLSearchParams): UploadView {
    const id = `up${this.uploads.size + 1}`;
    const jobId = `job-${id}`;
    this.jobs.set(jobId, [job(jobId, "running", 0), job(jobId, "running", 1), job(jobId, "done", 2)]);
    const view: UploadView = { upload_id: id, name: params.get("name") ?? "", collection: params.get("collection") ?? "", size: 10, status: "queued", reason: null, doc_id: `doc-${id}`, job: job(jobId, "queued") };
    this.uploads.set(id, view);
    return view;
  }

  private uploadNow(id: string): UploadView {
    const view = this.uploads.get(id) as UploadView;
    const states = this.jobs.get(view.job?.job_id ?? "") ?? [];
    return states.length === 1 && states[0].state === "done" ? { ...view, ...this.outcome } : view;
  }

  private poll(id: string): JobSummary {
    const states = this.jobs.get(id) ?? [];
    const now = states.length > 1 ? (states.shift() as JobSummary) : states[0];
    if (now.state === "done") this.afterJob.get(id)?.();
    return now;
  }
}

let root: HTMLElement;
let server: FakeLibrary;
let library: LibraryController;

const { $, $$ } = byTestId(() => root);

async function choose(testid: string, value: string) {
  const select = $(testid) as HTMLSelectElement;
  await act(() => {
    select.value = value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

async function pick(files: File[]) {
  const input = $("upload-input") as HTMLInputElement;
  Object.defineProperty(input, "files", { value: files, configurable: true });
  await act(() => {
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

const requests = (method: string, part: string) =>
  server.fake.calls.filter((c) => c.method === method && c.url.includes(part));

beforeEach(async () => {
  root = document.createElement("div");
  document.body.appendChild(root);
  server = new FakeLibrary();
  const client = new ChatKitClient({ fetch: server.fake.fetch, storage: memoryStorage() });
  library = new LibraryController(client, { pollMs: 5 });
  await act(() => render(<Library library={library} />, root));
  await act(() => library.open());
});

afterEach(() => {
  render(null, root);
  root.remove();
});

describe("Library", () => {
  it("lists documents with their parts, chunks and status, page by page", async () => {
    await settle(() => $$("doc-row").length === 50);
    expect($$("doc-row")[0].textContent).toContain("report 000.pdf");
    expect($$("doc-row")[0].textContent).toContain("3 pages");
    expect($("page-info")?.textContent).toBe("1–50 of 120");
    await act(() => $("pager-next")?.click());
    await settle(() => $("page-info")?.textContent === "51–100 of 120");
    expect($$("doc-row")[0].textContent).toContain("report 050.pdf");
  });

  it("sends the search, status filter and sort as typed parameters", async () => {
    server.docs[3] = doc(3, { status: "failed", reason: "the PDF is encrypted" });
    const search = $("library-search") as HTMLInputElement;
    await act(() => {
      search.value = "003";
      search.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await settle(() => $$("doc-row").length === 1);
    expect($("doc-reason")?.textContent).toBe("the PDF is encrypted");
    await choose("filter-status", "indexed");
    await settle(() => $("library-empty") !== null);
    await choose("library-sort", "Largest first");
    const last = new URL(requests("GET", "/documents?").at(-1)?.url ?? "", "http://kb");
    expect(last.searchParams.get("sort")).toBe("size");
    expect(last.searchParams.get("order")).toBe("desc");
    expect(last.searchParams.get("status")).toBe("indexed");
    expect(last.searchParams.get("q")).toBe("003");
  });

  it("refuses a wrong type or an oversize file before sending, and follows an upload to indexed", async () => {
    await settle(() => $("upload-limits")?.textContent?.includes("md, pdf") ?? false);
    await choose("upload-collection", "hr");
    await pick([
      new File(["MZ"], "tool.exe"),
      new File(["x".repeat(2000)], "huge.md"),
      new File(["# Notes"], "notes.md"),
    ]);
    const status = (name: string) =>
      $$("upload-item").find((el) => el.textContent?.includes(name))?.getAttribute("data-status");
    expect(status("tool.exe")).toBe("rejected");
    expect($$("upload-reason").map((el) => el.textContent)).toEqual(
      expect.arrayContaining([".exe files cannot be indexed", expect.stringContaining("over the")]),
    );
    await settle(() => status("notes.md") === "indexing");
    await settle(() => status("notes.md") === "indexed");
    const sent = requests("POST", "/api/library/uploads");
    expect(sent).toHaveLength(1);
    const params = new URL(sent[0].url, "http://kb").searchParams;
    expect([params.get("name"), params.get("collection")]).toEqual(["notes.md", "hr"]);
    expect($("uploads-summary")?.textContent).toBe("All done");
  });

  it("sends a picked folder's files under their paths in it", async () => {
    const input = $("folder-input") as HTMLInputElement;
    const file = new File(["# A"], "a.md");
    Object.defineProperty(file, "webkitRelativePath", { value: "notes/2024/a.md" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    await act(() => {
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await settle(() => requests("POST", "/api/library/uploads").length === 1);
    const params = new URL(requests("POST", "/api/library/uploads")[0].url, "http://kb").searchParams;
    expect(params.get("name")).toBe("notes/2024/a.md");
  });

  it("shows why an upload failed", async () => {
    server.outcome = { status: "failed", reason: "the file is not a valid PDF" };
    await pick([new File(["%PDF-broken"], "broken.pdf")]);
    await settle(() => $("upload-item")?.getAttribute("data-status") === "failed");
    expect($("upload-reason")?.textContent).toBe("the file is not a valid PDF");
  });

  it("removes an uploaded document after a confirmation and shows its chunks", async () => {
    server.docs = [doc(1, { uploaded: true }), doc(2)];
    await act(() => library.reload());
    await settle(() => $$("doc-row").length === 2);
    expect($$("doc-row")[1].querySelector("[data-testid='doc-remove']")).toBeNull();
    await act(() => $("doc-chunks")?.click());
    await settle(() => $$("chunk-item").length === 2);
    expect($$("chunk-locator").map((el) => el.textContent)).toEqual(["page 1", "page 2"]);
    await act(() => $("doc-remove")?.click());
    expect(requests("DELETE", "/documents/")).toHaveLength(0);
    await act(() => $("confirm-remove")?.click());
    await settle(() => $$("doc-row").length === 1);
    expect(requests("DELETE", "/documents/d1")).toHaveLength(1);
    expect($$("doc-row")[0].textContent).toContain("report 002.pdf");
  });
});
