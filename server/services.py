"""Everything a chat needs, opened together: the HTTP app and `kb eval --answers` share it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agents import Model

from kb.embedder import Embedder, create_embedder
from kb.index import KnowledgeIndex
from kb.search import Searcher
from kb.settings import Settings
from server.agent import build_agent
from server.chat import KBChatServer
from server.models import configure_tracing, create_model
from server.store import SQLStore, default_database_url, open_store
from server.toollog import ToolCallLog


@dataclass(frozen=True)
class ChatServices:
    index: KnowledgeIndex
    store: SQLStore
    chat: KBChatServer
    model_name: str


@asynccontextmanager
async def open_chat(
    settings: Settings,
    model: Model | None = None,
    *,
    embedder: Embedder | None = None,
    database_url: str | None = None,
) -> AsyncIterator[ChatServices]:
    """`model` and `embedder` default to what the settings name (tests pass their own)."""
    configure_tracing(settings)
    if model is None:
        model, model_name = create_model(settings)
    else:
        model_name = getattr(model, "name", type(model).__name__)
    index = KnowledgeIndex.open(settings)
    embedder = embedder or create_embedder(settings)
    url = database_url or settings.database_url or default_database_url(settings.data_dir)
    store = await open_store(url)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    searcher = Searcher(index, embedder)
    # Load the model and the vector index now, not during the first question.
    await asyncio.to_thread(searcher.search, "warm up", 1)
    chat = KBChatServer(
        store,
        build_agent(model),
        searcher,
        ToolCallLog(settings.logs_dir / "tool_calls.jsonl", store),
        history_messages=settings.history_turns,
        default_top_k=settings.search_top_k,
        feedback_path=settings.logs_dir / "feedback.jsonl",
    )
    try:
        yield ChatServices(index, store, chat, str(model_name))
    finally:
        await store.close()
        index.close()
