import { describe, expect, it } from "vitest";
import { SseParser, readSse } from "../src/sse";

function feed(chunks: string[]): string[] {
  const parser = new SseParser();
  const out = chunks.flatMap((c) => parser.push(c));
  return [...out, ...parser.end()];
}

function stream(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of readSse(body)) out.push(data);
  return out;
}

describe("SseParser", () => {
  const text = 'data: {"type":"a"}\n\ndata: {"type":"b"}\n\n';

  it("parses complete events", () => {
    expect(feed([text])).toEqual(['{"type":"a"}', '{"type":"b"}']);
  });

  it("parses the same events however the text is split", () => {
    for (let size = 1; size <= text.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      expect(feed(chunks)).toEqual(['{"type":"a"}', '{"type":"b"}']);
    }
  });

  it("handles CRLF and CR line ends, even a CRLF split between chunks", () => {
    expect(feed(["data: 1\r\n\r\ndata: 2\r\r"])).toEqual(["1", "2"]);
    expect(feed(["data: 1\r", "\n\r", "\ndata: 2\r\n\r\n"])).toEqual(["1", "2"]);
  });

  it("joins multi-line data and ignores comments and other fields", () => {
    const events = feed([": keep-alive\n", "event: message\nid: 7\nretry: 100\n", "data: a\ndata:b\n\n"]);
    expect(events).toEqual(["a\nb"]);
  });

  it("does not emit an event without data and keeps a value's inner spaces", () => {
    expect(feed(["event: x\n\n", "data:  two spaces\n\n"])).toEqual([" two spaces"]);
  });

  it("emits a last event that lacks its blank line when the stream ends", () => {
    expect(feed(['data: {"type":"end"}'])).toEqual(['{"type":"end"}']);
  });
});

describe("readSse", () => {
  it("decodes multi-byte characters split across chunks", async () => {
    const bytes = new TextEncoder().encode('data: {"t":"Searched “café” — ok"}\n\n');
    const parts = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(await collect(stream(parts))).toEqual(['{"t":"Searched “café” — ok"}']);
  });

  it("cancels the body when the consumer stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\ndata: 2\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const data of readSse(body)) {
      expect(data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
