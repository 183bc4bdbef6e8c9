"""The ChatKit server: runs the agent for each user message and turns its [n] citations
into annotations. Knows nothing of HTTP (see server/app.py)."""

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import openai
from agents import Agent, Runner, TResponseInputItem
from agents.exceptions import AgentsException
from chatkit.agents import ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    Annotation,
    AssistantMessageItem,
    AttachmentsCreateReq,
    EntitySource,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadsDeleteReq,
    ThreadStreamEvent,
    UserMessageItem,
)
from chatkit.types import (
    FeedbackKind as ChatKitFeedbackKind,
)

from kb.search import DocumentSearch
from kb.types import Hit
from server.access import Access
from server.agent import KBAgentContext
from server.context import RequestContext
from server.passages import describe
from server.preflight import REQUEST, RequestRefused, clean_title, parse_request, preflight
from server.scratch import ThreadScratch
from server.store import FeedbackKind, SQLStore
from server.toollog import ToolCallLog

logger = logging.getLogger("kb.chat")
CITATION = re.compile(r"\[(\d+)\]")
TITLE_LENGTH = 60
MAX_TURNS = 6
HISTORY_PAGE = 50  # items read per page while collecting the history's messages
MESSAGE_TYPES = (UserMessageItem, AssistantMessageItem)


class KBChatServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: SQLStore,
        agent: Agent[KBAgentContext],
        searcher: DocumentSearch,
        tool_log: ToolCallLog,
        *,
        history_messages: int = 10,
        default_top_k: int = 5,
        feedback_path: Path | None = None,
        scratch: ThreadScratch | None = None,
        access: Access | None = None,
    ) -> None:
        super().__init__(store, scratch.files if scratch else None)
        self.sql_store = store  # the same store, with our additions (feedback, tool calls)
        self.scratch = scratch
        self.agent = agent
        self.searcher = searcher
        self.tool_log = tool_log
        self.history_messages = history_messages
        self.default_top_k = default_top_k
        self.feedback_path = feedback_path
        self.access = access or Access()

    async def process(
        self,
        request: str | bytes | bytearray,
        context: RequestContext,
        origin: str = "http://127.0.0.1",
    ) -> StreamingResult | NonStreamingResult:
        """Raises RequestRefused, before any answer starts, for what cannot be served.
        `origin`: where the caller reached this server (attachments' upload URLs)."""
        checked = await preflight(self.store, parse_request(request), context)
        if isinstance(checked, AttachmentsCreateReq):
            return NonStreamingResult(await self._create_attachment(checked, context, origin))
        result = await super().process(REQUEST.dump_json(checked), context)
        if isinstance(checked, ThreadsDeleteReq) and self.scratch:
            await self.scratch.forget(checked.params.thread_id, context)
        return result

    async def _create_attachment(
        self, request: AttachmentsCreateReq, context: RequestContext, origin: str
    ) -> bytes:
        if self.scratch is None:
            raise RequestRefused(400, "attachments.create is not supported without a server")
        attachment = await self.scratch.files.create(request.params, context, origin)
        return self._serialize(attachment)

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message and not thread.title:
            thread.title = _title(input_user_message)
        if input_user_message and input_user_message.attachments and self.scratch:
            async for event in self.scratch.receive(
                thread, input_user_message.attachments, context
            ):
                yield event
        agent_context = KBAgentContext(
            thread=thread,
            store=self.store,
            request_context=context,
            searcher=self.searcher,
            readable=await self.access.readable(context),
            tool_log=self.tool_log,
            default_top_k=self.default_top_k,
            scratch=self.scratch.collection(context, thread.id) if self.scratch else None,
        )
        history = await self._history(thread, context)
        result = Runner.run_streamed(
            self.agent, history, context=agent_context, max_turns=MAX_TURNS
        )
        try:
            async for event in stream_agent_response(agent_context, result):
                if isinstance(event, ThreadItemDoneEvent) and isinstance(
                    event.item, AssistantMessageItem
                ):
                    add_citations(event.item, agent_context.passages)
                yield event
        except (openai.APIError, AgentsException) as error:
            raise CustomStreamError(_readable(error), allow_retry=True) from error

    async def handle_stream_cancelled(
        self, thread: ThreadMetadata, pending_items: list[ThreadItem], context: RequestContext
    ) -> None:
        # A closed tab cancels the request's scope; shield the save of the partial answer
        # or every await in it is cancelled too and nothing is kept.
        with anyio.CancelScope(shield=True):
            await super().handle_stream_cancelled(thread, pending_items, context)

    async def _history(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> list[TResponseInputItem]:
        """The newest `history_messages` messages of the thread, oldest first, the new
        question included; workflow and other items do not count."""
        messages: list[ThreadItem] = []
        after: str | None = None
        while len(messages) < self.history_messages:
            page = await self.store.load_thread_items(
                thread.id, after, HISTORY_PAGE, "desc", context
            )
            messages += [item for item in page.data if isinstance(item, MESSAGE_TYPES)]
            if not page.has_more or not page.data:
                break
            after = page.data[-1].id
        newest = messages[: self.history_messages]
        return await HistoryConverter().to_agent_input(list(reversed(newest)))

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: ChatKitFeedbackKind,
        context: RequestContext,
    ) -> None:
        kind = FeedbackKind(feedback)
        await self.sql_store.save_feedback(thread_id, item_ids, kind, context)  # NotFound: others'
        record = {"thread": thread_id, "items": item_ids, "kind": kind, "user": context.user_id}
        line = json.dumps(record)
        logger.info("feedback %s", line)
        if self.feedback_path:
            await asyncio.to_thread(_append_line, self.feedback_path, line)


class HistoryConverter(ThreadItemConverter):
    """Earlier answers as plain assistant text.

    ChatKit's default sends them as `output_text` parts, which the Chat Completions
    converter of the Agents SDK rejects ("Unknown content"): Ollama and vLLM users would
    lose every follow-up.
    """

    async def assistant_message_to_input(
        self, item: AssistantMessageItem
    ) -> TResponseInputItem | None:
        text = "".join(part.text for part in item.content)
        return {"type": "message", "role": "assistant", "content": text}

    async def user_message_to_input(
        self, item: UserMessageItem, is_last_message: bool = True
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        """The question as typed; its attachments (in the index, not in the prompt) named
        in a system note before it, so the question itself stays what the user asked."""
        question = item.model_copy(update={"attachments": []})
        converted = await super().user_message_to_input(question, is_last_message)
        if not item.attachments:
            return converted
        names = ", ".join(attachment.name for attachment in item.attachments)
        note: TResponseInputItem = {
            "role": "system",
            "content": f"The user attached {names} to the next message: search_docs "
            "searches the files attached in this conversation first.",
        }
        rest = converted if isinstance(converted, list) else [converted] if converted else []
        return [note, *rest]


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def add_citations(item: AssistantMessageItem, passages: list[Hit]) -> None:
    """Each passage cited as [n] becomes one annotation, at its first citation."""
    for content in item.content:
        cited: dict[int, int] = {}
        for match in CITATION.finditer(content.text):
            number = int(match.group(1))
            if 1 <= number <= len(passages):
                cited.setdefault(number, match.end())
        content.annotations = [
            Annotation(source=citation_source(number, passages[number - 1]), index=index)
            for number, index in cited.items()
        ]


def citation_source(number: int, hit: Hit) -> EntitySource:
    snippet = " ".join(hit.text.split())
    return EntitySource(
        id=hit.chunk_id,
        title=describe(hit),
        description=snippet[:200] + ("…" if len(snippet) > 200 else ""),
        data={
            "n": number,
            "chunk_id": hit.chunk_id,
            "doc_id": hit.doc_id,
            "source": hit.source,
            "page": hit.page,
            "locator": hit.locator.to_json() if hit.locator else None,
            "heading": hit.heading,
            "url": f"/api/documents/{hit.doc_id}/file",
        },
    )


def _title(message: UserMessageItem) -> str:
    text = " ".join(
        part.text for part in message.content if getattr(part, "type", "") == "input_text"
    )
    text = clean_title(text)
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1].rstrip() + "…"


def _readable(error: Exception) -> str:
    if isinstance(error, openai.AuthenticationError):
        return "The chat model rejected the API key (401). Check OPENAI_API_KEY / KB_MODEL_API_KEY."
    if isinstance(error, openai.APITimeoutError):
        return "The chat model did not answer in time. Try again."
    if isinstance(error, openai.APIConnectionError):
        return "Cannot reach the chat model server. Is it running? Check KB_MODEL_BASE_URL."
    if isinstance(error, openai.APIStatusError):
        return f"The chat model failed ({error.status_code}): {error.message}"
    return f"The chat model failed: {error}"
