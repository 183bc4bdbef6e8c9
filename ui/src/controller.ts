/**
 * What the user can do, independent of how it is drawn: send, stop, retry, open and manage
 * threads, feedback, sources. Holds the app state in a Store; the view only renders it.
 */
import {
  ChatKitClient,
  type ClientOptions,
  HttpError,
  ProtocolError,
  isAbortError,
} from "./client";
import { queryTerms } from "./highlight";
import type {
  AssistantMessageItem,
  Chunk,
  FeedbackKind,
  KbStatus,
  Me,
  Locator,
  ThreadItem,
  ThreadMeta,
  ThreadStreamEvent,
  UserMessageItem,
} from "./protocol";
import { type ChatState, applyEvent, emptyChat, lastUserMessage, truncateAfter } from "./reducer";
import {
  type SearchHit,
  citationsOf,
  indexRecords,
  originalHref,
  recordKey,
  toLocator,
} from "./sources";
import { Store } from "./store";

export interface PanelState {
  /** Marker number when opened from a citation. */
  n: number | null;
  title: string;
  source: string;
  locator: Locator | null;
  heading: string | null;
  href: string | null;
  snippet: string | null;
  terms: string[];
  chunk: Chunk | null;
  loading: boolean;
  error: string | null;
}

/** A file in the composer: uploading, ready to send, or refused with the server's reason. */
export interface DraftAttachment {
  key: string;
  name: string;
  size: number;
  status: "uploading" | "ready" | "failed";
  /** Fraction of the bytes sent (0 to 1). */
  progress: number;
  error: string | null;
  /** The server's attachment id, once created. */
  id: string | null;
}

export interface AppState {
  chat: ChatState;
  inFlight: boolean;
  stopping: boolean;
  loadingThread: boolean;
  draft: string;
  attachments: DraftAttachment[];
  threads: ThreadMeta[];
  threadsAfter: string | null;
  threadsHasMore: boolean;
  threadsLoading: boolean;
  threadsError: string | null;
  status: KbStatus | null;
  statusError: string | null;
  /** The signed-in user, when the server has accounts (null: single-person mode). */
  me: Me | null;
  panel: PanelState | null;
  feedback: Record<string, FeedbackKind>;
  authPrompt: { retry: boolean } | null;
  toast: string | null;
}

export const initialState: AppState = {
  chat: emptyChat,
  inFlight: false,
  stopping: false,
  loadingThread: false,
  draft: "",
  attachments: [],
  threads: [],
  threadsAfter: null,
  threadsHasMore: false,
  threadsLoading: false,
  threadsError: null,
  status: null,
  statusError: null,
  me: null,
  panel: null,
  feedback: {},
  authPrompt: null,
  toast: null,
};

export const THREAD_PAGE = 20;

type Starter = (signal: AbortSignal) => AsyncGenerator<ThreadStreamEvent>;

export interface ControllerOptions {
  /** Pause between reloads while waiting for the server to save a stopped answer. */
  stopPollMs?: number;
  stopPollTries?: number;
}

export class Controller {
  readonly store = new Store<AppState>(initialState);
  readonly client: ChatKitClient;
  private run: AbortController | null = null;
  private stopRequested = false;
  /** A question that has not reached the thread yet (resent by Retry). */
  private unsent: string | null = null;
  /** A thread whose loading failed (reloaded by Retry). */
  private failedLoad: string | null = null;
  private generation = 0;
  private panelFetch: AbortController | null = null;
  /** Only the newest fetch of tool-call records is shown. */
  private recordsFetches = 0;
  private recordsLoading: Promise<void> = Promise.resolve();
  private resolveToken: ((token: string | null) => void) | null = null;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts the files attached, for their chips' keys. */
  private attachments = 0;
  private readonly stopPollMs: number;
  private readonly stopPollTries: number;

  /** Takes a ready client, or options for one that asks this controller for a token. */
  constructor(client: ChatKitClient | ClientOptions = {}, options: ControllerOptions = {}) {
    this.client =
      client instanceof ChatKitClient
        ? client
        : new ChatKitClient({ ...client, onAuthRequired: (retry) => this.askToken(retry) });
    this.stopPollMs = options.stopPollMs ?? 200;
    this.stopPollTries = options.stopPollTries ?? 10;
  }

  get state(): AppState {
    return this.store.get();
  }

  private patch(change: Partial<AppState>): void {
    this.store.update((s) => ({ ...s, ...change }));
  }

  private patchChat(change: Partial<ChatState>): void {
    this.store.update((s) => ({ ...s, chat: { ...s.chat, ...change } }));
  }

  async init(threadId: string | null = null): Promise<void> {
    await Promise.all([
      this.loadStatus(),
      this.loadMe(),
      this.loadThreads(),
      threadId ? this.openThread(threadId) : Promise.resolve(),
    ]);
  }

  // --- status and thread list ---------------------------------------------------------------

  async loadStatus(): Promise<void> {
    try {
      this.patch({ status: await this.client.status(), statusError: null });
    } catch (error) {
      this.patch({ statusError: describe(error) });
    }
  }

  async loadMe(): Promise<void> {
    try {
      const me = await this.client.me();
      this.patch({ me: me.multi_user ? me : null });
    } catch {
      this.patch({ me: null }); // an older server: no name to show
    }
  }

  async loadThreads(more = false): Promise<void> {
    const after = more ? this.state.threadsAfter : null;
    this.patch({ threadsLoading: true, threadsError: null });
    try {
      const page = await this.client.listThreads(THREAD_PAGE, after);
      this.store.update((s) => {
        const known = more ? s.threads : [];
        const ids = new Set(known.map((t) => t.id));
        return {
          ...s,
          threads: [...known, ...page.data.filter((t) => !ids.has(t.id))],
          threadsAfter: page.after ?? page.data[page.data.length - 1]?.id ?? null,
          threadsHasMore: page.has_more,
          threadsLoading: false,
        };
      });
    } catch (error) {
      this.patch({ threadsLoading: false, threadsError: describe(error) });
    }
  }

  private upsertThread(thread: ThreadMeta, front: boolean): void {
    const { items: _items, ...meta } = thread as ThreadMeta & { items?: unknown };
    this.store.update((s) => {
      const index = s.threads.findIndex((t) => t.id === meta.id);
      if (index === -1) {
        return { ...s, threads: front ? [meta, ...s.threads] : [...s.threads, meta] };
      }
      const threads = s.threads.slice();
      threads[index] = { ...threads[index], ...meta };
      return { ...s, threads };
    });
  }

  // --- opening threads ----------------------------------------------------------------------

  newChat(): void {
    this.detachRun();
    this.failedLoad = null;
    this.unsent = null;
    this.patch({ chat: emptyChat, loadingThread: false, panel: null });
  }

  async openThread(threadId: string): Promise<void> {
    const s = this.state;
    if (s.chat.thread?.id === threadId && !this.failedLoad) return;
    this.detachRun();
    this.unsent = null;
    const generation = this.generation;
    this.patch({
      loadingThread: true,
      panel: null,
      chat: { ...emptyChat, thread: { id: threadId, created_at: "" } },
    });
    try {
      const { thread, items } = await this.client.loadThread(threadId);
      if (generation !== this.generation) return;
      this.failedLoad = null;
      this.patch({ loadingThread: false, chat: { ...emptyChat, thread, items } });
      this.upsertThread(thread, false);
      await this.loadBesideItems(threadId);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof HttpError && error.status === 404) {
        this.failedLoad = null;
        this.store.update((s) => ({
          ...s,
          threads: s.threads.filter((t) => t.id !== threadId),
        }));
        this.newChat();
        this.notify("That conversation no longer exists.");
        return;
      }
      this.failedLoad = threadId;
      this.patch({
        loadingThread: false,
        chat: { ...this.state.chat, error: { message: describe(error), allowRetry: true } },
      });
    }
  }

  /** Abandons the stream of the shown thread (the server keeps what it saved). */
  private detachRun(): void {
    this.generation++;
    if (this.run) {
      this.run.abort();
      this.run = null;
    }
    this.stopRequested = false;
    this.patch({ inFlight: false, stopping: false });
  }

  // --- sending ----------------------------------------------------------------------------

  setDraft(draft: string): void {
    this.patch({ draft });
  }

  // --- attachments ------------------------------------------------------------------------

  /** Uploads each file (create, then its bytes); each shows as a chip with its progress. */
  async attach(files: File[]): Promise<void> {
    await Promise.all(files.map((file) => this.attachOne(file)));
  }

  private async attachOne(file: File): Promise<void> {
    const key = `${++this.attachments}`;
    const chip: DraftAttachment = {
      key,
      name: file.name,
      size: file.size,
      status: "uploading",
      progress: 0,
      error: null,
      id: null,
    };
    this.patch({ attachments: [...this.state.attachments, chip] });
    try {
      const created = await this.client.createAttachment(file);
      if (!this.patchAttachment(key, { id: created.id, name: created.name })) {
        await this.client.deleteAttachment(created.id); // removed while being created
        return;
      }
      await this.client.uploadAttachment(created, file, (progress) =>
        this.patchAttachment(key, { progress }),
      );
      this.patchAttachment(key, { status: "ready", progress: 1 });
    } catch (error) {
      this.patchAttachment(key, { status: "failed", error: describe(error) });
    }
  }

  /** Takes a file out of the message; the server forgets what was uploaded of it. */
  async removeAttachment(key: string): Promise<void> {
    const chip = this.state.attachments.find((a) => a.key === key);
    this.patch({ attachments: this.state.attachments.filter((a) => a.key !== key) });
    if (chip?.id) {
      try {
        await this.client.deleteAttachment(chip.id);
      } catch {
        // an unsent attachment nobody can use again; the message goes on without it
      }
    }
  }

  private patchAttachment(key: string, change: Partial<DraftAttachment>): boolean {
    const found = this.state.attachments.some((a) => a.key === key);
    if (found) {
      const attachments = this.state.attachments.map((a) => (a.key === key ? { ...a, ...change } : a));
      this.patch({ attachments });
    }
    return found;
  }

  /** Whether the composer can send: nothing uploading, no refused file left in it. */
  canSend(text: string = this.state.draft): boolean {
    const s = this.state;
    return (
      text.trim() !== "" &&
      !s.inFlight &&
      !s.loadingThread &&
      s.attachments.every((a) => a.status === "ready")
    );
  }

  /** Sends the composer's text (or `text`): a new thread, or a message in the open one. */
  async send(text?: string): Promise<void> {
    const s = this.state;
    const question = (text ?? s.draft).trim();
    if (!this.canSend(question)) return;
    const attached = text === undefined ? s.attachments : [];
    const ids = attached.map((a) => a.id as string);
    this.unsent = question;
    this.failedLoad = null;
    this.store.update((st) => ({
      ...st,
      draft: text === undefined || st.draft.trim() === question ? "" : st.draft,
      attachments: text === undefined ? [] : st.attachments,
      chat: { ...st.chat, pending: question, error: null, notice: null, progress: null },
    }));
    const threadId = s.chat.thread?.id;
    await this.stream(
      (signal) =>
        threadId
          ? this.client.addUserMessage(threadId, question, signal, ids)
          : this.client.createThread(question, signal, ids),
      question,
      attached,
    );
  }

  /** Answers the last question again, or resends a question that never arrived. */
  async retry(): Promise<void> {
    const s = this.state;
    if (s.inFlight) return;
    if (this.failedLoad) {
      await this.openThread(this.failedLoad);
      return;
    }
    if (this.unsent) {
      await this.send(this.unsent);
      return;
    }
    const threadId = s.chat.thread?.id;
    const last = lastUserMessage(s.chat.items);
    if (!threadId || !last) return;
    this.patchChat({
      items: truncateAfter(s.chat.items, last.id),
      error: null,
      notice: null,
      progress: null,
    });
    await this.stream((signal) => this.client.retryAfterItem(threadId, last.id, signal), null);
  }

  /** Stops the answer being streamed; the server keeps the partial answer. */
  stop(): void {
    if (!this.run) return;
    this.stopRequested = true;
    this.patch({ stopping: true });
    this.run.abort();
  }

  private async stream(
    start: Starter,
    question: string | null,
    attached: DraftAttachment[] = [],
  ): Promise<void> {
    const run = new AbortController();
    this.run = run;
    this.stopRequested = false;
    const generation = this.generation;
    this.patch({ inFlight: true });
    let saved = question === null;
    let received = 0;
    let failure: unknown = null;
    try {
      for await (const event of start(run.signal)) {
        if (generation !== this.generation) return;
        received++;
        if (isUserMessageEvent(event)) {
          saved = true;
          this.unsent = null;
        }
        this.handle(event);
      }
    } catch (error) {
      failure = error;
    }
    if (generation !== this.generation) return;
    this.run = null;
    const stopped = this.stopRequested && (failure === null || isAbortError(failure));
    if (stopped) {
      await this.afterStop(generation);
    } else if (failure !== null) {
      this.patchChat({
        progress: null,
        error: { message: describe(failure, received > 0), allowRetry: true },
      });
    }
    if (generation !== this.generation) return;
    // A question that never reached the thread goes back into the composer: nothing is lost.
    const restore = !saved && question !== null && (this.state.chat.error !== null || stopped);
    this.store.update((st) => ({
      ...st,
      inFlight: false,
      stopping: false,
      draft: restore && !st.draft.trim() ? question : st.draft,
      attachments: restore ? [...attached, ...st.attachments] : st.attachments,
      chat: { ...st.chat, pending: null, progress: null },
    }));
    if (stopped && !saved) this.unsent = null;
    await this.recordsLoading;
    // A record is saved just after its task shows complete: ask again once the turn is over.
    const threadId = this.state.chat.thread?.id;
    if (threadId && generation === this.generation && lacksRecords(this.state.chat)) {
      await this.loadRecords(threadId);
    }
  }

  private handle(event: ThreadStreamEvent): void {
    if (event.type === "thread.created") this.upsertThread(event.thread, true);
    if (event.type === "thread.updated") this.upsertThread(event.thread, false);
    this.store.update((s) => ({ ...s, chat: applyEvent(s.chat, event) }));
    const threadId = this.state.chat.thread?.id;
    if (threadId && finishesSearch(event)) this.recordsLoading = this.loadRecords(threadId);
  }

  /** Loads what the server keeps beside the thread's items: search records and feedback. */
  private async loadBesideItems(threadId: string): Promise<void> {
    await Promise.all([this.loadRecords(threadId), this.loadFeedback(threadId)]);
  }

  /** A failure costs only the search details: the chat goes on. */
  private async loadRecords(threadId: string): Promise<void> {
    const fetch = ++this.recordsFetches;
    let change: Partial<ChatState>;
    try {
      change = { records: indexRecords(await this.client.toolCalls(threadId)), recordsError: null };
    } catch (error) {
      change = { recordsError: describe(error) };
    }
    if (fetch === this.recordsFetches && this.state.chat.thread?.id === threadId) {
      this.patchChat(change);
    }
  }

  private async loadFeedback(threadId: string): Promise<void> {
    try {
      const given = await this.client.threadFeedback(threadId);
      this.store.update((s) => ({ ...s, feedback: { ...s.feedback, ...given } }));
    } catch {
      // the buttons show as not pressed; giving feedback still works
    }
  }

  /** Reloads the thread so it shows what the server saved of the stopped answer. */
  private async afterStop(generation: number): Promise<void> {
    const threadId = this.state.chat.thread?.id;
    if (!threadId) return;
    const expectAnswer = hasAnswerAfterLastQuestion(this.state.chat.items);
    for (let attempt = 1; attempt <= this.stopPollTries; attempt++) {
      await sleep(this.stopPollMs);
      if (generation !== this.generation) return;
      try {
        const { thread, items } = await this.client.loadThread(threadId);
        if (generation !== this.generation) return;
        const complete = !expectAnswer || hasAnswerAfterLastQuestion(items);
        if (complete || attempt === this.stopPollTries) {
          // If the server never saved the partial answer, keep showing what was streamed.
          if (complete) this.patchChat({ thread, items, pending: null, progress: null });
          await this.loadBesideItems(threadId);
          return;
        }
      } catch {
        // keep what is shown; try again
      }
    }
  }

  // --- thread management ------------------------------------------------------------------

  async renameThread(threadId: string, title: string): Promise<void> {
    const clean = title.trim();
    if (!clean) return;
    try {
      const thread = await this.client.renameThread(threadId, clean);
      this.upsertThread({ ...thread, title: thread.title ?? clean }, false);
      if (this.state.chat.thread?.id === threadId) {
        this.patchChat({ thread: { ...this.state.chat.thread, title: thread.title ?? clean } });
      }
    } catch (error) {
      this.notify(`Could not rename: ${describe(error)}`);
    }
  }

  async deleteThread(threadId: string): Promise<void> {
    try {
      await this.client.deleteThread(threadId);
    } catch (error) {
      if (!(error instanceof HttpError && error.status === 404)) {
        this.notify(`Could not delete: ${describe(error)}`);
        return;
      }
    }
    this.store.update((s) => ({ ...s, threads: s.threads.filter((t) => t.id !== threadId) }));
    if (this.state.chat.thread?.id === threadId) this.newChat();
  }

  // --- feedback ---------------------------------------------------------------------------

  async feedback(item: AssistantMessageItem, kind: FeedbackKind): Promise<void> {
    const threadId = item.thread_id || this.state.chat.thread?.id;
    if (!threadId) return;
    const previous = this.state.feedback[item.id];
    this.patch({ feedback: { ...this.state.feedback, [item.id]: kind } });
    try {
      await this.client.feedback(threadId, item, kind);
      this.notify(kind === "positive" ? "Thanks for the feedback." : "Thanks — noted.");
    } catch (error) {
      const feedback = { ...this.state.feedback };
      if (previous) feedback[item.id] = previous;
      else delete feedback[item.id];
      this.patch({ feedback });
      this.notify(`Could not send feedback: ${describe(error)}`);
    }
  }

  // --- sources ----------------------------------------------------------------------------

  /** Opens the source panel for the citation `[n]` of an answer. */
  openCitation(itemId: string, n: number): void {
    const items = this.state.chat.items;
    const index = items.findIndex((i) => i.id === itemId);
    const item = items[index];
    if (!item || item.type !== "assistant_message") return;
    const citation = citationsOf(item).get(n);
    if (!citation) return;
    this.openPanel(
      {
        n,
        title: citation.title,
        source: citation.source,
        locator: citation.locator,
        heading: citation.heading,
        // with a token, a signed link replaces it once the passage is loaded
        href: this.client.accessToken() ? null : originalHref(citation.url, citation.locator),
        snippet: citation.snippet,
        terms: queryTerms(questionBefore(items, index)),
      },
      citation.chunkId,
    );
  }

  /** Opens the source panel for a hit of a search the agent ran. */
  openHit(hit: SearchHit, query: string): void {
    this.openPanel(
      {
        n: null,
        title: hit.label,
        source: hit.source,
        locator: hit.locator,
        heading: hit.heading,
        href: null,
        snippet: null,
        terms: queryTerms(query),
      },
      hit.chunkId,
    );
  }

  private openPanel(
    base: Omit<PanelState, "chunk" | "loading" | "error">,
    chunkRef: string,
  ): void {
    this.panelFetch?.abort();
    const fetcher = new AbortController();
    this.panelFetch = fetcher;
    this.patch({ panel: { ...base, chunk: null, loading: true, error: null } });
    this.client
      .chunk(chunkRef, fetcher.signal)
      .then(async (chunk) => {
        if (this.panelFetch !== fetcher) return;
        const locator = base.locator ?? toLocator(chunk.locator, chunk.page);
        const href = await this.originalLink(base.href, chunk, locator, fetcher.signal);
        if (this.panelFetch !== fetcher) return;
        this.patch({
          panel: {
            ...base,
            source: chunk.source || base.source,
            locator,
            heading: base.heading ?? chunk.heading ?? null,
            href,
            chunk,
            loading: false,
            error: null,
          },
        });
      })
      .catch((error: unknown) => {
        if (this.panelFetch !== fetcher || isAbortError(error)) return;
        this.patch({
          panel: { ...base, chunk: null, loading: false, error: describe(error) },
        });
      });
  }

  /** The link to the original file: as it is without a token; with one, a signed link the
   *  server makes for this user (a new tab cannot send the token, and it never goes in a URL). */
  private async originalLink(
    given: string | null,
    chunk: Chunk,
    locator: Locator | null,
    signal: AbortSignal,
  ): Promise<string | null> {
    if (!chunk.doc_id) return given;
    const plain = `/api/documents/${encodeURIComponent(chunk.doc_id)}/file`;
    if (!this.client.accessToken()) return given ?? originalHref(plain, locator);
    return originalHref(await this.client.documentLink(chunk.doc_id, signal), locator);
  }

  closePanel(): void {
    this.panelFetch?.abort();
    this.panelFetch = null;
    this.patch({ panel: null });
  }

  // --- access token -------------------------------------------------------------------------

  private askToken(retry: boolean): Promise<string | null> {
    this.resolveToken?.(null);
    this.patch({ authPrompt: { retry } });
    return new Promise((resolve) => {
      this.resolveToken = resolve;
    });
  }

  submitToken(token: string | null): void {
    const resolve = this.resolveToken;
    this.resolveToken = null;
    this.patch({ authPrompt: null });
    resolve?.(token);
  }

  // --- notices ----------------------------------------------------------------------------

  notify(message: string): void {
    clearTimeout(this.toastTimer);
    this.patch({ toast: message });
    this.toastTimer = setTimeout(() => this.patch({ toast: null }), 4000);
  }
}

function isUserMessageEvent(event: ThreadStreamEvent): boolean {
  return (
    (event.type === "thread.item.added" || event.type === "thread.item.done") &&
    event.item.type === "user_message"
  );
}

/** A search task finished (its record is then saved), or its workflow closed. */
function finishesSearch(event: ThreadStreamEvent): boolean {
  if (event.type === "thread.item.done") return event.item.type === "workflow";
  if (event.type !== "thread.item.updated") return false;
  const update = event.update;
  return (
    (update.type === "workflow.task.added" || update.type === "workflow.task.updated") &&
    update.task.type === "web_search" &&
    update.task.status_indicator === "complete"
  );
}

/** Whether a finished search of the thread is shown without its record. */
function lacksRecords(chat: ChatState): boolean {
  return chat.items.some(
    (item) =>
      item.type === "workflow" &&
      item.workflow.tasks.some(
        (task, index) =>
          task.type === "web_search" &&
          task.status_indicator === "complete" &&
          !(recordKey(item.id, index) in chat.records),
      ),
  );
}

function hasAnswerAfterLastQuestion(items: ThreadItem[]): boolean {
  const last = lastUserMessage(items);
  const start = last ? items.indexOf(last) + 1 : 0;
  return items
    .slice(start)
    .some(
      (item) =>
        item.type === "assistant_message" && item.content.some((part) => part.text.trim() !== ""),
    );
}

/** The text of the question an answer (at `index`) replies to. */
export function questionBefore(items: ThreadItem[], index: number): string {
  for (let i = index - 1; i >= 0; i--) {
    const item = items[i];
    if (item.type === "user_message") return userText(item);
  }
  return "";
}

export function userText(item: UserMessageItem): string {
  return item.content.map((part) => part.text).join("\n");
}

/** A sentence for the user about what went wrong. */
export function describe(error: unknown, midStream = false): string {
  if (error instanceof HttpError) {
    if (error.status === 401) return "The server needs an access token.";
    if (error.status === 413) return error.message || "The message is too long.";
    return error.message;
  }
  if (error instanceof ProtocolError) return error.message;
  if (error instanceof TypeError) {
    return midStream
      ? "The connection was lost while answering."
      : "Could not reach the server. Check that it is running and try again.";
  }
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
