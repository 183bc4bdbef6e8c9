/** The open thread: questions, answers with citations, searches, errors. */
import type { JSX } from "preact";
import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import type { AppState, Controller } from "../controller";
import { userText } from "../controller";
import { renderMarkdown } from "../markdown";
import type {
  AssistantMessageItem,
  CustomTask,
  FeedbackKind,
  ThreadItem,
  WorkflowItem,
} from "../protocol";
import type { ChatState } from "../reducer";
import {
  type SearchCall,
  type ToolCallRecords,
  citationsOf,
  recordKey,
  searchCall,
} from "../sources";
import {
  CopyIcon,
  FileIcon,
  RetryIcon,
  SearchIcon,
  ThumbDownIcon,
  ThumbUpIcon,
} from "./icons";

interface Props {
  state: AppState;
  controller: Controller;
  onAsk: (question: string) => void;
}

export function Messages({ state, controller, onAsk }: Props): JSX.Element {
  const { chat, inFlight } = state;
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  const onScroll = () => {
    const el = scroller.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };

  const items = chat.items;
  const lastAnswer = [...items].reverse().find((i) => i.type === "assistant_message");
  const answering = inFlight && !state.stopping;
  const waiting =
    answering &&
    (chat.pending !== null || !lastAnswer || items.indexOf(lastAnswer) < lastQuestionIndex(items));
  const empty = items.length === 0 && chat.pending === null && !state.loadingThread;

  return (
    <div class="messages" ref={scroller} onScroll={onScroll}>
      <div
        class="messages-inner"
        role="log"
        aria-label="Conversation"
        aria-live="polite"
        aria-busy={inFlight || state.loadingThread}
      >
        {empty && !chat.error && <Welcome state={state} onAsk={onAsk} />}
        {state.loadingThread && <p class="muted loading">Loading conversation…</p>}
        {items.map((item) => (
          <Item
            key={item.id}
            item={item}
            streaming={answering && item === lastAnswer && !waiting}
            feedback={state.feedback[item.id]}
            chat={chat}
            controller={controller}
          />
        ))}
        {chat.pending !== null && (
          <div class="message user pending" data-testid="user-message">
            {chat.pending}
          </div>
        )}
        {waiting && (
          <div class="progress" role="status">
            <span class="dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            {chat.progress ?? "Thinking…"}
          </div>
        )}
        {chat.notice && (
          <div
            class={`notice ${chat.notice.level}`}
            role="status"
            dangerouslySetInnerHTML={{ __html: renderMarkdown(chat.notice.message) }}
          />
        )}
        {chat.error && !inFlight && (
          <div class="error-box" role="alert">
            <p>{chat.error.message}</p>
            <button
              type="button"
              class="button"
              data-testid="error-retry"
              onClick={() => void controller.retry()}
            >
              <RetryIcon /> Retry
            </button>
          </div>
        )}
      </div>
    </div>
  );
}

function lastQuestionIndex(items: ThreadItem[]): number {
  for (let i = items.length - 1; i >= 0; i--) if (items[i].type === "user_message") return i;
  return -1;
}

function Welcome({ state, onAsk }: { state: AppState; onAsk: (q: string) => void }) {
  const docs = state.status?.documents;
  return (
    <div class="welcome">
      <h2>Ask your documents</h2>
      <p class="muted">
        Answers come from {docs === undefined ? "your knowledge base" : `${docs} indexed documents`}
        , with a numbered citation for every passage used. Click a citation to read the source.
      </p>
      <div class="suggestions">
        {["What is this knowledge base about?", "How do I get started?"].map((q) => (
          <button type="button" class="chip-button" key={q} onClick={() => onAsk(q)}>
            {q}
          </button>
        ))}
      </div>
    </div>
  );
}

interface ItemProps {
  item: ThreadItem;
  streaming: boolean;
  feedback: FeedbackKind | undefined;
  chat: Pick<ChatState, "records" | "recordsError">;
  controller: Controller;
}

function Item({ item, streaming, feedback, chat, controller }: ItemProps): JSX.Element | null {
  switch (item.type) {
    case "user_message":
      return (
        <div class="message user" data-testid="user-message" data-item-id={item.id}>
          {userText(item)}
          {item.attachments?.length ? (
            <ul class="message-attachments" aria-label="Attached files">
              {item.attachments.map((attachment) => (
                <li key={attachment.id} data-testid="message-attachment">
                  <FileIcon />
                  {attachment.name}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      );
    case "assistant_message":
      return (
        <AssistantMessage
          item={item}
          streaming={streaming}
          feedback={feedback}
          controller={controller}
        />
      );
    case "workflow":
      return (
        <WorkflowView
          item={item}
          records={chat.records}
          recordsError={chat.recordsError}
          controller={controller}
        />
      );
    default:
      return null;
  }
}

interface AnswerProps {
  item: AssistantMessageItem;
  streaming: boolean;
  feedback: FeedbackKind | undefined;
  controller: Controller;
}

function AssistantMessage({ item, streaming, feedback, controller }: AnswerProps) {
  const citations = useMemo(() => citationsOf(item), [item.content]);
  const text = item.content.map((part) => part.text).join("\n\n");
  const html = useMemo(
    () => renderMarkdown(text, citations, streaming),
    [text, citations, streaming],
  );

  const onClick = (event: MouseEvent) => {
    const target = event.target as Element | null;
    const chip = target?.closest?.("button[data-testid='citation']");
    if (chip) controller.openCitation(item.id, Number(chip.getAttribute("data-n")));
  };

  const copy = () => {
    navigator.clipboard?.writeText(text).then(
      () => controller.notify("Answer copied."),
      () => controller.notify("Could not copy."),
    );
  };

  return (
    <article
      class={`message assistant${streaming ? " streaming" : ""}`}
      data-testid="assistant-message"
      data-item-id={item.id}
      aria-label="Answer"
      aria-busy={streaming}
    >
      <div class="md" onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />
      {!streaming && citations.size > 0 && (
        <ol class="source-list" aria-label="Sources">
          {[...citations.values()]
            .sort((a, b) => a.n - b.n)
            .map((c) => (
              <li key={c.n}>
                <button
                  type="button"
                  class="source-link"
                  data-testid="source-link"
                  onClick={() => controller.openCitation(item.id, c.n)}
                >
                  <span class="source-n">{c.n}</span>
                  <span class="source-title">
                    {c.source}
                    {c.locator && `, ${c.locator.label}`}
                    {c.heading && <span class="muted"> — {c.heading}</span>}
                  </span>
                </button>
              </li>
            ))}
        </ol>
      )}
      {!streaming && (
        <div class="answer-actions">
          <button
            type="button"
            class="icon-button"
            data-testid="feedback-up"
            aria-label="Good answer"
            title="Good answer"
            aria-pressed={feedback === "positive"}
            onClick={() => void controller.feedback(item, "positive")}
          >
            <ThumbUpIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            data-testid="feedback-down"
            aria-label="Bad answer"
            title="Bad answer"
            aria-pressed={feedback === "negative"}
            onClick={() => void controller.feedback(item, "negative")}
          >
            <ThumbDownIcon />
          </button>
          <button
            type="button"
            class="icon-button"
            aria-label="Copy answer"
            title="Copy answer"
            onClick={copy}
          >
            <CopyIcon />
          </button>
        </div>
      )}
    </article>
  );
}

interface WorkflowProps {
  item: WorkflowItem;
  records: ToolCallRecords;
  recordsError: string | null;
  controller: Controller;
}

function WorkflowView({ item, records, recordsError, controller }: WorkflowProps) {
  return (
    <div class="tool-calls" aria-label="Searches run for this answer">
      {item.workflow.tasks.map((task, index) => {
        const call = searchCall(task, records[recordKey(item.id, index)]);
        if (call) {
          return (
            <ToolCall key={index} call={call} recordsError={recordsError} controller={controller} />
          );
        }
        if (task.type === "custom" && task.icon === "document") {
          return <FileTaskView key={index} task={task} />;
        }
        const title = task.title ?? ("content" in task ? task.content : null);
        return title ? (
          <div key={index} class="task muted">
            {title}
          </div>
        ) : null;
      })}
    </div>
  );
}

/** How reading an attached file went: "Reading…", "Read x.pdf", or the reason it failed. */
function FileTaskView({ task }: { task: CustomTask }) {
  const failed = task.status_indicator === "none" && Boolean(task.content);
  return (
    <div class={`task file-task${failed ? " failed" : ""}`} data-testid="attachment-status">
      <FileIcon />
      <span>
        {task.title}
        {task.status_indicator === "loading" ? " …" : ""}
        {failed ? `: ${task.content}` : ""}
      </span>
    </div>
  );
}

interface ToolCallProps {
  call: SearchCall;
  recordsError: string | null;
  controller: Controller;
}

function ToolCall({ call, recordsError, controller }: ToolCallProps) {
  return (
    <details class="tool-call" data-testid="tool-call">
      <summary>
        <SearchIcon />
        <span class="tool-label">{call.loading ? "Searching" : "Searched"}</span>
        <span class="tool-query">“{call.query}”</span>
        <span class={`tool-meta${call.loading ? " loading" : ""}`}>
          {toolMeta(call, recordsError)}
        </span>
      </summary>
      <ToolCallDetails call={call} recordsError={recordsError} controller={controller} />
    </details>
  );
}

/** The summary's facts: "2 hits · 12 ms · in *.md". */
function toolMeta(call: SearchCall, recordsError: string | null): string {
  if (call.loading) return "searching…";
  if (!call.recorded) return recordsError ? "details unavailable" : "";
  if (call.error) return "failed";
  const hits = call.results.length;
  const facts = [`${hits} ${hits === 1 ? "hit" : "hits"}`, `${call.ms} ms`];
  if (call.filter) facts.push(`in ${call.filter}`);
  return facts.join(" · ");
}

function ToolCallDetails({ call, recordsError, controller }: ToolCallProps) {
  if (call.loading) return <p class="muted hits-empty">Searching…</p>;
  if (!call.recorded) {
    return (
      <p class="muted hits-empty" data-testid="tool-call-note">
        {recordsError
          ? `The details of this search could not be loaded: ${recordsError}`
          : "No details were recorded for this search."}
      </p>
    );
  }
  if (call.error) {
    return (
      <p class="hits-empty tool-error" data-testid="tool-call-error">
        The search failed: {call.error}
      </p>
    );
  }
  if (call.results.length === 0) return <p class="muted hits-empty">No passages found.</p>;
  return (
    <ol class="hits">
      {call.results.map((hit) => (
        <li key={hit.rank} data-testid="search-hit">
          <span class="hit-rank">{hit.rank}</span>
          <button
            type="button"
            class="hit-title"
            onClick={() => controller.openHit(hit, call.query)}
          >
            {hit.label}
          </button>
          <span class="hit-score">score {hit.score}</span>
        </li>
      ))}
    </ol>
  );
}
