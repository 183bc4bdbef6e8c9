/**
 * Incremental Server-Sent Events parser (the subset ChatKit uses: `data:` fields separated by
 * blank lines). Chunks may split lines, CRLF pairs and multi-byte characters anywhere.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private hasData = false;
  private skipLf = false;

  /** Feeds decoded text; returns the payloads of the events it completed. */
  push(text: string): string[] {
    const events: string[] = [];
    let start = 0;
    let i = 0;
    let chunk = text;
    if (this.skipLf && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.skipLf = false;
    for (; i < chunk.length; i++) {
      const ch = chunk[i];
      if (ch !== "\n" && ch !== "\r") continue;
      this.line(this.buffer + chunk.slice(start, i), events);
      this.buffer = "";
      if (ch === "\r") {
        if (i + 1 === chunk.length) this.skipLf = true;
        else if (chunk[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.buffer += chunk.slice(start);
    return events;
  }

  /** Ends the stream: a final event without its blank line still counts. */
  end(): string[] {
    const events: string[] = [];
    if (this.buffer) this.line(this.buffer, events);
    this.buffer = "";
    this.dispatch(events);
    return events;
  }

  private line(line: string, events: string[]): void {
    if (line === "") {
      this.dispatch(events);
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.data.push(value);
      this.hasData = true;
    }
    // `event`, `id` and `retry` carry nothing ChatKit uses.
  }

  private dispatch(events: string[]): void {
    if (this.hasData) events.push(this.data.join("\n"));
    this.data = [];
    this.hasData = false;
  }
}

/** Yields the `data` payload of each event in a byte stream. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    finished = true;
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // The consumer stopped early (or reading failed): close the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
