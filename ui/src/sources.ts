/** Citations on answers and search hits in workflow tasks, as the UI shows them. */
import type {
  AssistantMessageItem,
  Locator,
  SearchResult,
  Task,
  ToolCallRecord,
} from "./protocol";

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
export function originalHref(url: string | null, locator: Locator | null): string | null {
  if (!url) return null;
  return locator?.kind === "page" ? `${url}#page=${locator.value}` : url;
}

export interface SearchHit {
  /** The passage number the answer cites it by (`[n]`). */
  rank: number;
  chunkId: string;
  source: string;
  locator: Locator | null;
  heading: string | null;
  /** The score as shown: 4 decimals. */
  score: string;
  /** What the hit list shows: file, page and section. */
  label: string;
}

export interface SearchCall {
  query: string;
  /** The glob the search was limited to, if any. */
  filter: string | null;
  loading: boolean;
  /** False while the record of a finished search is not loaded (or was never written). */
  recorded: boolean;
  ms: number | null;
  error: string | null;
  results: SearchHit[];
}

/** Tool-call records by the workflow task that shows them. */
export type ToolCallRecords = Record<string, ToolCallRecord>;

/** The key of the record shown by task `taskIndex` of workflow item `itemId`. */
export function recordKey(itemId: string, taskIndex: number): string {
  return `${itemId}#${taskIndex}`;
}

export function indexRecords(records: ToolCallRecord[]): ToolCallRecords {
  const byTask: ToolCallRecords = {};
  for (const record of records) {
    if (record.workflow_item !== null && record.task_index !== null) {
      byTask[recordKey(record.workflow_item, record.task_index)] = record;
    }
  }
  return byTask;
}

/**
 * A search task (`web_search`) as the UI shows it. The facts come from the task's record;
 * the task itself only says whether it is still running, and names the query meanwhile.
 */
export function searchCall(task: Task, record: ToolCallRecord | undefined): SearchCall | null {
  if (task.type !== "web_search") return null;
  if (!record) {
    return {
      query: task.title_query ?? task.queries?.[0] ?? "",
      filter: null,
      loading: task.status_indicator === "loading",
      recorded: false,
      ms: null,
      error: null,
      results: [],
    };
  }
  return {
    query: record.arguments.query,
    filter: record.arguments.source ?? null,
    loading: false,
    recorded: true,
    ms: Math.round(record.duration_ms),
    error: record.error,
    results: record.results.map(toHit),
  };
}

function toHit(result: SearchResult): SearchHit {
  const locator = toLocator(result.locator, result.page);
  const heading = result.heading || null;
  return {
    rank: result.rank,
    chunkId: result.chunk_id,
    source: result.source,
    locator,
    heading,
    score: result.score.toFixed(4),
    label: passageLabel(result.source, locator, heading),
  };
}

/** "guide.md, page 3 — Install > Linux", "tour.pptx, slide 4" */
export function passageLabel(
  source: string,
  locator: Locator | null,
  heading: string | null,
): string {
  return `${source}${locator ? `, ${locator.label}` : ""}${heading ? ` — ${heading}` : ""}`;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

function toInt(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return null;
}
