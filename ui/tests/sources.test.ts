import { describe, expect, it } from "vitest";
import { highlight, queryTerms } from "../src/highlight";
import { citationsOf, indexRecords, originalHref, recordKey, searchCall, toLocator } from "../src/sources";
import { annotation, assistantItem, searchRecord, searchWorkflow } from "./helpers";

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
  });
});

describe("search calls", () => {
  const task = searchWorkflow("w", "t", "complete").workflow.tasks[0];

  it("builds the view from the record: query, time, ranks, chunks, places and scores", () => {
    const reworded = { ...task, title: "Found 99 hits in 777 ms", title_query: "wibble", sources: [] };
    const call = searchCall(reworded, { ...searchRecord("t", "w", 4), arguments: { query: "install linux", source: "*.md" } });
    expect(call).toMatchObject({ query: "install linux", filter: "*.md", ms: 12, loading: false, recorded: true, error: null });
    expect(call?.results).toEqual([
      { rank: 4, chunkId: "c1", source: "guide.md", locator: { kind: "page", value: "3", label: "page 3" }, heading: "Install > Linux", score: "0.0312", label: "guide.md, page 3 — Install > Linux" },
      { rank: 5, chunkId: "c 2", source: "faq.md", locator: null, heading: "Setup", score: "0.0150", label: "faq.md — Setup" },
    ]);
  });

  it("shows a failed search's error", () => {
    const failed = { ...searchRecord("t", "w"), results: [], error: "RuntimeError: index locked" };
    expect(searchCall(task, failed)).toMatchObject({ recorded: true, error: "RuntimeError: index locked", results: [] });
  });

  it("without its record: searching while loading, then finished without details", () => {
    expect(searchCall({ type: "web_search", title_query: "q", status_indicator: "loading" }, undefined)).toMatchObject({
      query: "q",
      loading: true,
      recorded: false,
      ms: null,
      results: [],
    });
    expect(searchCall({ ...task, queries: ["only"], title_query: null }, undefined)).toMatchObject({ query: "only", loading: false, recorded: false });
    expect(searchCall({ type: "custom", title: "x" }, undefined)).toBeNull();
  });

  it("finds each record by workflow item and task index", () => {
    const second = { ...searchRecord("t", "w", 3), task_index: 1 };
    const unplaced = { ...searchRecord("t", "w"), workflow_item: null };
    const byTask = indexRecords([searchRecord("t", "w"), second, unplaced]);
    expect(Object.keys(byTask)).toHaveLength(2);
    expect(byTask[recordKey("w", 1)]?.results[0].rank).toBe(3);
    expect(byTask[recordKey("w", 0)]?.results[0].rank).toBe(1);
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
