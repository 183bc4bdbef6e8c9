import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/markdown";
import type { Citation } from "../src/sources";

function cite(...ns: number[]): Map<number, Citation> {
  return new Map(
    ns.map((n) => [
      n,
      {
        n,
        chunkId: `c${n}`,
        docId: "d",
        source: "guide.md",
        title: `guide.md — "Intro" <${n}>`,
        page: null,
        heading: null,
        url: null,
        snippet: null,
      },
    ]),
  );
}

function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

describe("renderMarkdown", () => {
  it("renders lists, tables and code", () => {
    const html = renderMarkdown("- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode <b>\n```");
    const el = dom(html);
    expect(el.querySelectorAll("li")).toHaveLength(2);
    expect(el.querySelector(".table-wrap table td")?.textContent).toBe("1");
    expect(el.querySelector("pre code")?.textContent).toBe("code <b>\n");
  });

  it("turns known [n] markers into citation chips", () => {
    const el = dom(renderMarkdown("Install it [1]. Then run it [2][3], see [1, 2].", cite(1, 2, 3)));
    const chips = [...el.querySelectorAll("button[data-testid='citation']")];
    expect(chips.map((c) => c.getAttribute("data-n"))).toEqual(["1", "2", "3", "1", "2"]);
    expect(chips[0].getAttribute("type")).toBe("button");
    expect(chips[0].getAttribute("aria-label")).toBe('Source 1: guide.md — "Intro" <1>');
    expect(el.textContent).not.toContain("[");
  });

  it("keeps the chip's label whatever markup-like text the title holds", () => {
    const titles = ["a <b> c", "notes </title> draft", "x --> y", "[draft]> z", "</style><script>"];
    const citations = new Map(
      titles.map((title, i) => {
        const base = cite(i + 1).get(i + 1) as Citation;
        return [i + 1, { ...base, title }] as const;
      }),
    );
    const el = dom(renderMarkdown(titles.map((_, i) => `[${i + 1}]`).join(" "), citations));
    const chips = [...el.querySelectorAll("button[data-testid='citation']")];
    const labels = titles.map((title, i) => `Source ${i + 1}: ${title}`);
    expect(chips.map((c) => c.getAttribute("aria-label"))).toEqual(labels);
    expect(chips.map((c) => c.getAttribute("title"))).toEqual(labels);
    expect(el.querySelector("script, style")).toBeNull();
  });

  it("leaves unknown markers, code and links alone", () => {
    const el = dom(renderMarkdown("See [4] and `[1]` and [1](http://example.org/x).\n\n    [1]", cite(1)));
    expect(el.querySelectorAll("[data-testid='citation']")).toHaveLength(0);
    expect(el.textContent).toContain("[4]");
    expect(el.querySelector("code")?.textContent).toBe("[1]");
    const link = el.querySelector("a");
    expect(link?.getAttribute("href")).toBe("http://example.org/x");
    expect(link?.getAttribute("target")).toBe("_blank");
    expect(link?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("holds the place of citations that have not arrived while streaming", () => {
    const el = dom(renderMarkdown("Install it [1].", new Map(), true));
    expect(el.querySelector(".citation.pending")?.textContent).toBe("1");
    expect(el.querySelectorAll("[data-testid='citation']")).toHaveLength(0);
    expect(dom(renderMarkdown("Install it [1].", new Map(), false)).textContent?.trim()).toBe("Install it [1].");
  });

  it("never lets document or model text run script", () => {
    const evil = [
      "<script>window.__pwned=1</script>",
      '<img src=x onerror="window.__pwned=1">',
      "[click](javascript:window.__pwned=1)",
      '<a href="javascript:alert(1)">x</a>',
      "![x](http://tracker.example/p.png)",
      '<iframe src="http://evil"></iframe>',
      '<svg onload="window.__pwned=1"></svg>',
    ].join("\n\n");
    const html = renderMarkdown(evil, cite(1));
    const el = dom(html);
    expect(el.querySelector("script, img, iframe, svg")).toBeNull();
    for (const node of el.querySelectorAll("*")) {
      for (const attr of node.attributes) {
        expect(attr.name.startsWith("on")).toBe(false);
        expect(attr.value.toLowerCase()).not.toContain("javascript:");
      }
    }
    // Raw HTML is shown as text, so the reader sees what the document said.
    expect(el.textContent).toContain("<script>window.__pwned=1</script>");
  });
});
