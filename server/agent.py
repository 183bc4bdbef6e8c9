"""The agent, its `search_docs` tool and what the tool leaves behind: workflow tasks,
remembered passages (for citations) and a tool-call log line."""

import asyncio
import time
from typing import Annotated

from agents import Agent, Model, RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.types import SearchTask, URLSource
from pydantic import Field, SkipValidation

from kb.search import DocumentSearch
from kb.types import Hit, SearchMode
from server.context import RequestContext
from server.passages import describe, format_passages
from server.toollog import SearchArguments, SearchResult, ToolCallLog, ToolCallRecord

MAX_TOP_K = 20

INSTRUCTIONS = """You answer questions about the user's documents, using only the knowledge base.

- Always call `search_docs` before answering; search again with other words if the first
  results do not answer the question.
- Answer only from the passages the searches returned. Never use outside knowledge.
- Cite every statement with the passage number in square brackets, like [1] or [2][3].
- If the passages do not contain the answer, say plainly that the knowledge base has no
  answer, and mention what you searched for.
- Be concise. Use Markdown lists or tables when they help."""


class KBAgentContext(AgentContext[RequestContext]):
    searcher: Annotated[DocumentSearch, SkipValidation]
    readable: frozenset[str] | None = None  # what the user may read (None: everything)
    tool_log: Annotated[ToolCallLog, SkipValidation]
    default_top_k: int = 5
    scratch: str | None = None  # the thread's attachments (server.scratch), searched first
    passages: list[Annotated[Hit, SkipValidation]] = Field(default_factory=list)


@function_tool
async def search_docs(
    ctx: RunContextWrapper[KBAgentContext],
    query: str,
    top_k: int | None = None,
    source: str | None = None,
) -> str:
    """Search the knowledge base and return numbered passages to cite.

    Args:
        query: What to look for: keywords, names, figures or a natural-language question.
        top_k: How many passages to return (1-20, default 5).
        source: Only search files whose path matches this glob, e.g. "*AAPL*" or "guides/*".
    """
    agent_context = ctx.context
    readable = agent_context.readable
    k = max(1, min(top_k or agent_context.default_top_k, MAX_TOP_K))
    task = SearchTask(
        title=f"Searching “{query}”",
        title_query=query,
        queries=[query],
        status_indicator="loading",
    )
    await agent_context.add_workflow_task(task)
    workflow = agent_context.workflow_item
    assert workflow is not None  # add_workflow_task starts one
    task_index = len(workflow.workflow.tasks) - 1
    started = time.perf_counter()
    hits: list[Hit] = []
    error = None
    try:
        hits = await asyncio.to_thread(_search, agent_context, query, k, source)
    except Exception as exc:  # reported to the model and the log; the turn goes on
        error = f"{type(exc).__name__}: {exc}"
    elapsed_ms = (time.perf_counter() - started) * 1000
    first_number = len(agent_context.passages) + 1
    agent_context.passages.extend(hits)
    await agent_context.update_workflow_task(
        _finished_task(task, hits, first_number, elapsed_ms, error), task_index
    )
    record = ToolCallRecord(
        time=ToolCallRecord.now(),
        user=agent_context.request_context.user_id,
        thread=agent_context.thread.id,
        workflow_item=workflow.id,
        task_index=task_index,
        call_id=getattr(ctx, "tool_call_id", None),
        arguments=SearchArguments(query=query, top_k=top_k, source=source),
        duration_ms=round(elapsed_ms, 1),
        results=[SearchResult.of(n, hit) for n, hit in enumerate(hits, start=first_number)],
        error=error,
        collections=None if readable is None else sorted(readable),
    )
    await agent_context.tool_log.write(record, agent_context.request_context)
    if error:
        return f"The search failed: {error}"
    return format_passages(hits, first_number)


def _search(context: KBAgentContext, query: str, k: int, source: str | None) -> list[Hit]:
    """The thread's attachments' best `k` passages first, then the knowledge base's."""
    search = context.searcher.search
    found = search(query, k, SearchMode.HYBRID, source, context.readable)
    if context.scratch is None:
        return found
    attached = search(query, k, SearchMode.HYBRID, source, frozenset({context.scratch}))
    return attached + found


def _finished_task(
    task: SearchTask, hits: list[Hit], first_number: int, elapsed_ms: float, error: str | None
) -> SearchTask:
    outcome = f"failed: {error}" if error else f"{len(hits)} hits in {elapsed_ms:.0f} ms"
    sources = [
        URLSource(
            title=f"{number}. {describe(hit)}",
            url=f"/api/chunks/{hit.chunk_id}",
            description=f"score {hit.score:.4f}",
            group=hit.source,
        )
        for number, hit in enumerate(hits, start=first_number)
    ]
    return task.model_copy(
        update={
            "title": f"Searched “{task.title_query}” — {outcome}",
            "sources": sources,
            "status_indicator": "complete",
        }
    )


def build_agent(model: Model | str) -> Agent[KBAgentContext]:
    return Agent[KBAgentContext](
        name="kb",
        instructions=INSTRUCTIONS,
        tools=[search_docs],
        model=model,
    )
