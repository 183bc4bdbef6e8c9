import { describe, expect, it } from "vitest";
import { highlight, queryTerms } from "../src/highlight";
import { citationsOf, originalHref, searchCall, toLocator } from "../src/sources";
import { annotation, assistantItem, searchWorkflow } from "./helpers";

describe("citations", () => {
  const page3 = { kind: "page", value: "3", label: "page 3" };
  const slide4 = { kind: "slide", value: "4", label: "slide 4" };
  const range = { kind: "sheet", value: "Budget!A12:D40", label: "Budget!A12:D40" };

  it("maps data.n to the cited chunk, file, locator and heading", () => {
    const item = assistantItem("a", "t", "x [1] y [2]", [annotation(1, "c1", 5), annotation(2, "c2", 11, page3)]);
    const map = citationsOf(item);
    expect([...map.keys()]).toEqual([1, 2]);
    expect(map.get(2)).toEqual({
      n: 2,
      chunkId: "c2",
      docId: "doc1",
      source: "manual.pdf",
      title: "guide.md — Install > Linux",
      locator: page3,
      heading: "Install > Linux",
      url: "/api/documents/doc1/file",
      snippet: "Run the installer on Linux",
    });
    expect(map.get(1)?.locator).toBeNull();
  });

  it("reads slide and sheet locators, and a bare page from older servers", () => {
    const item = assistantItem("a", "t", "[1] [2]", [annotation(1, "c1", 3, slide4), annotation(2, "c2", 7, range)]);
    const map = citationsOf(item);
    expect(map.get(1)?.locator).toEqual(slide4);
    expect(map.get(2)?.locator).toEqual(range);
    expect(toLocator(null, 5)).toEqual({ kind: "page", value: "5", label: "page 5" });
    expect(toLocator({ kind: "cell", value: "7" })).toEqual({ kind: "cell", value: "7", label: "cell 7" });
    expect(toLocator({ kind: "slide" }, null)).toBeNull();
  });

  it("opens PDFs at their page, other files as they are", () => {
    expect(originalHref("/api/documents/d/file", { ...page3, value: "4" })).toBe("/api/documents/d/file#page=4");
    expect(originalHref("/api/documents/d/file", null)).toBe("/api/documents/d/file");
    expect(originalHref("/api/documents/d/file", slide4)).toBe("/api/documents/d/file");
    expect(originalHref(null, page3)).toBeNull();
    expect(originalHref("/api/documents/d/file", { ...page3, value: "2" }, "a b")).toBe(
      "/api/documents/d/file?token=a%20b#page=2",
    );
  });
});

describe("search calls", () => {
  it("reads query, hits, time and ranked hits with scores", () => {
    const call = searchCall(searchWorkflow("w", "t", "complete").workflow.tasks[0]);
    expect(call).toMatchObject({ query: "install linux", hits: 2, ms: 12, loading: false });
    expect(call?.results).toEqual([
      { rank: 1, title: "guide.md p.3 — Install > Linux", url: "/api/chunks/c1", chunkId: "c1", score: "0.0312", group: "guide.md" },
      { rank: 2, title: "faq.md — Setup", url: "/api/chunks/c%202", chunkId: "c 2", score: "0.0150", group: "faq.md" },
    ]);
  });

  it("falls back to the number of sources and ignores other tasks", () => {
    expect(searchCall({ type: "web_search", queries: ["q"], sources: [] })).toMatchObject({ query: "q", hits: 0, ms: null });
    expect(searchCall({ type: "custom", title: "x" })).toBeNull();
  });
});

describe("highlight", () => {
  it("keeps content words of the question", () => {
    expect(queryTerms("How do I install the CLI on Linux?")).toEqual(["install", "cli", "linux"]);
  });

  it("marks matching words, case-insensitively and by stem", () => {
    const segments = highlight("Installing on linux: the Linux installer installs.", ["install", "linux"]);
    expect(segments.filter((s) => s.mark).map((s) => s.text)).toEqual(["Installing", "linux", "Linux", "installer", "installs"]);
    expect(segments.map((s) => s.text).join("")).toBe("Installing on linux: the Linux installer installs.");
  });

  it("returns the text unmarked without terms", () => {
    expect(highlight("abc", [])).toEqual([{ text: "abc", mark: false }]);
  });
});
