import { describe, expect, it } from "vitest";
import type { AssistantMessageItem, ThreadStreamEvent, WorkflowItem } from "../src/protocol";
import { type ChatState, applyEvent, emptyChat, lastUserMessage, truncateAfter } from "../src/reducer";
import { annotation, assistantItem, searchWorkflow, thread, userItem } from "./helpers";

function fold(events: ThreadStreamEvent[], state: ChatState = emptyChat): ChatState {
  return events.reduce(applyEvent, state);
}

const delta = (itemId: string, text: string, index = 0): ThreadStreamEvent => ({
  type: "thread.item.updated",
  item_id: itemId,
  update: { type: "assistant_message.content_part.text_delta", content_index: index, delta: text },
});

describe("applyEvent", () => {
  it("takes the thread from thread.created and its title from thread.updated", () => {
    const s = fold([
      { type: "thread.created", thread: thread("t1") },
      { type: "thread.updated", thread: thread("t1", "How to install") },
    ]);
    expect(s.thread).toMatchObject({ id: "t1", title: "How to install" });
    expect(s.thread).not.toHaveProperty("items");
  });

  it("clears the pending question when the server echoes the user message", () => {
    const s = fold([{ type: "thread.item.done", item: userItem("u1", "t1", "q") }], {
      ...emptyChat,
      pending: "q",
    });
    expect(s.pending).toBeNull();
    expect(s.items.map((i) => i.id)).toEqual(["u1"]);
  });

  it("streams an answer: added, content part, text deltas, annotations, done", () => {
    const s = fold([
      { type: "thread.item.done", item: userItem("u1", "t1", "q") },
      { type: "progress_update", text: "Searching…" },
      { type: "thread.item.added", item: assistantItem("a1", "t1") },
      {
        type: "thread.item.updated",
        item_id: "a1",
        update: {
          type: "assistant_message.content_part.added",
          content_index: 0,
          content: { type: "output_text", text: "", annotations: [] },
        },
      },
      delta("a1", "Run the "),
      delta("a1", "installer [1]."),
      {
        type: "thread.item.updated",
        item_id: "a1",
        update: {
          type: "assistant_message.content_part.annotation_added",
          content_index: 0,
          annotation_index: 0,
          annotation: annotation(1, "c1", 21),
        },
      },
    ]);
    const answer = s.items[1] as AssistantMessageItem;
    expect(s.progress).toBeNull();
    expect(answer.content[0].text).toBe("Run the installer [1].");
    expect(answer.content[0].annotations).toHaveLength(1);

    const done = applyEvent(s, {
      type: "thread.item.done",
      item: assistantItem("a1", "t1", "Run the installer [1].", [annotation(1, "c1", 21)]),
    });
    expect(done.items).toHaveLength(2);
    expect((done.items[1] as AssistantMessageItem).content[0].annotations[0].index).toBe(21);
  });

  it("creates missing content parts for a delta and inserts annotations at their index", () => {
    let s = fold([{ type: "thread.item.added", item: assistantItem("a1", "t1") }, delta("a1", "x", 1)]);
    let answer = s.items[0] as AssistantMessageItem;
    expect(answer.content.map((p) => p.text)).toEqual(["", "x"]);
    const add = (n: number, at: number): ThreadStreamEvent => ({
      type: "thread.item.updated",
      item_id: "a1",
      update: {
        type: "assistant_message.content_part.annotation_added",
        content_index: 1,
        annotation_index: at,
        annotation: annotation(n, `c${n}`, 1),
      },
    });
    s = fold([add(2, 0), add(1, 0), add(3, 99)], s);
    answer = s.items[0] as AssistantMessageItem;
    expect(answer.content[1].annotations.map((a) => a.source.type === "entity" && a.source.data?.n)).toEqual([1, 2, 3]);
  });

  it("does not mutate the previous state", () => {
    const before = fold([{ type: "thread.item.added", item: assistantItem("a1", "t1", "a") }]);
    const snapshot = JSON.stringify(before);
    applyEvent(before, delta("a1", "b"));
    expect(JSON.stringify(before)).toBe(snapshot);
  });

  it("adds and updates workflow search tasks", () => {
    const wf = searchWorkflow("w1", "t1", "loading");
    const empty: WorkflowItem = { ...wf, workflow: { ...wf.workflow, tasks: [] } };
    const task = wf.workflow.tasks[0];
    const s = fold([
      { type: "thread.item.added", item: empty },
      { type: "thread.item.updated", item_id: "w1", update: { type: "workflow.task.added", task_index: 0, task } },
      {
        type: "thread.item.updated",
        item_id: "w1",
        update: { type: "workflow.task.updated", task_index: 0, task: { ...task, status_indicator: "complete" } },
      },
    ]);
    const tasks = (s.items[0] as WorkflowItem).workflow.tasks;
    expect(tasks).toHaveLength(1);
    expect(tasks[0].status_indicator).toBe("complete");
  });

  it("ignores updates for unknown items and updates of the wrong kind", () => {
    const s = fold([{ type: "thread.item.added", item: userItem("u1", "t1", "q") }]);
    expect(applyEvent(s, delta("nope", "x"))).toBe(s);
    expect(applyEvent(s, delta("u1", "x"))).toBe(s);
  });

  it("removes and replaces items", () => {
    const s = fold([
      { type: "thread.item.added", item: userItem("u1", "t1", "q") },
      { type: "thread.item.added", item: assistantItem("a1", "t1", "old") },
      { type: "thread.item.replaced", item: assistantItem("a1", "t1", "new") },
    ]);
    expect((s.items[1] as AssistantMessageItem).content[0].text).toBe("new");
    expect(applyEvent(s, { type: "thread.item.removed", item_id: "a1" }).items).toHaveLength(1);
  });

  it("records an error event with its message, or a readable default", () => {
    const s = fold([
      { type: "progress_update", text: "Searching…" },
      { type: "error", code: "custom", message: "The model is unavailable.", allow_retry: true },
    ]);
    expect(s.error).toEqual({ message: "The model is unavailable.", code: "custom", allowRetry: true });
    expect(s.progress).toBeNull();
    const generic = applyEvent(emptyChat, { type: "error", code: "stream.error", allow_retry: true });
    expect(generic.error?.message).toBe("Something went wrong while answering.");
    expect(generic.error?.allowRetry).toBe(true);
  });

  it("keeps notices and ignores stream options, client effects and unknown events", () => {
    const s = applyEvent(emptyChat, { type: "notice", level: "warning", message: "Index is empty" });
    expect(s.notice).toEqual({ level: "warning", message: "Index is empty", title: undefined });
    expect(applyEvent(s, { type: "stream_options", stream_options: { allow_cancel: true } })).toBe(s);
    expect(applyEvent(s, { type: "client_effect", name: "x" })).toBe(s);
    expect(applyEvent(s, { type: "something.new" } as unknown as ThreadStreamEvent)).toBe(s);
  });
});

describe("helpers", () => {
  const items = [userItem("u1", "t", "a"), assistantItem("a1", "t", "x"), userItem("u2", "t", "b"), assistantItem("a2", "t", "y")];

  it("finds the last user message", () => {
    expect(lastUserMessage(items)?.id).toBe("u2");
    expect(lastUserMessage([])).toBeNull();
  });

  it("drops what follows an item, as the server does on retry", () => {
    expect(truncateAfter(items, "u2").map((i) => i.id)).toEqual(["u1", "a1", "u2"]);
    expect(truncateAfter(items, "zzz")).toBe(items);
  });
});
