/** Citations on answers and search hits in workflow tasks, as the UI shows them. */
import type { AssistantMessageItem, Locator, SearchTask, Task } from "./protocol";

export interface Citation {
  n: number;
  chunkId: string;
  docId: string | null;
  source: string;
  title: string;
  locator: Locator | null;
  heading: string | null;
  url: string | null;
  snippet: string | null;
}

/** The citations of an answer by their marker number (`[n]` -> `data.n`). */
export function citationsOf(item: AssistantMessageItem): Map<number, Citation> {
  const byNumber = new Map<number, Citation>();
  item.content.forEach((part) =>
    part.annotations.forEach((annotation, position) => {
      const citation = toCitation(annotation.source, position + 1);
      if (citation && !byNumber.has(citation.n)) byNumber.set(citation.n, citation);
    }),
  );
  return byNumber;
}

function toCitation(
  source: AssistantMessageItem["content"][number]["annotations"][number]["source"],
  fallbackN: number,
): Citation | null {
  const data: Record<string, unknown> = source.type === "entity" ? (source.data ?? {}) : {};
  const n = toInt(data.n) ?? fallbackN;
  const chunkId =
    str(data.chunk_id) ?? (source.type === "entity" ? source.id : null) ?? null;
  if (!chunkId) return null;
  return {
    n,
    chunkId,
    docId: str(data.doc_id),
    source: str(data.source) ?? (source.type === "file" ? source.filename : source.title),
    title: source.title,
    locator: toLocator(data.locator, data.page),
    heading: str(data.heading),
    url: str(data.url) ?? (source.type === "url" ? source.url : null),
    snippet: source.description ?? null,
  };
}

/** A passage's locator from citation or chunk data; a bare `page` (older servers) too. */
export function toLocator(value: unknown, page: unknown = null): Locator | null {
  if (value && typeof value === "object") {
    const data = value as Record<string, unknown>;
    const kind = str(data.kind);
    const text = str(data.value);
    if (kind && text) return { kind, value: text, label: str(data.label) ?? `${kind} ${text}` };
  }
  const number = toInt(page);
  return number === null ? null : { kind: "page", value: String(number), label: `page ${number}` };
}

/** The link that opens the original document, at its page for a paged file (PDF). */
export function originalHref(
  url: string | null,
  locator: Locator | null,
  token: string | null = null,
): string | null {
  if (!url) return null;
  const link = token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
  return locator?.kind === "page" ? `${link}#page=${locator.value}` : link;
}

export interface SearchHit {
  rank: number;
  title: string;
  url: string;
  chunkId: string | null;
  score: string | null;
  group: string | null;
}

export interface SearchCall {
  query: string;
  title: string;
  hits: number;
  ms: number | null;
  loading: boolean;
  results: SearchHit[];
}

/** Reads a search task (`web_search`): the query, number of hits, time and ranked hits. */
export function searchCall(task: Task): SearchCall | null {
  if (task.type !== "web_search") return null;
  const t = task as SearchTask;
  const title = t.title ?? "";
  const query = t.title_query ?? t.queries?.[0] ?? "";
  const sources = t.sources ?? [];
  const hitsInTitle = /(\d+)\s+(?:hits?|results?)/i.exec(title);
  const msInTitle = /([\d.]+)\s*ms\b/i.exec(title);
  return {
    query,
    title: title || `Searched “${query}”`,
    hits: hitsInTitle ? Number(hitsInTitle[1]) : sources.length,
    ms: msInTitle ? Number(msInTitle[1]) : null,
    loading: t.status_indicator === "loading",
    results: sources.map((source, i) => ({
      rank: i + 1,
      title: source.title.replace(/^\d+\.\s*/, ""),
      url: source.url,
      chunkId: chunkIdFromUrl(source.url),
      score: scoreOf(source.description),
      group: source.group ?? null,
    })),
  };
}

function chunkIdFromUrl(url: string): string | null {
  const match = /\/api\/chunks\/([^/?#]+)/.exec(url);
  return match ? decodeURIComponent(match[1]) : null;
}

function scoreOf(description: string | null | undefined): string | null {
  if (!description) return null;
  const match = /score\s*[:=]?\s*([-\d.eE]+)/.exec(description);
  return match ? match[1] : description;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

function toInt(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return null;
}
