"""Everything a chat needs, opened together: the HTTP app and `kb eval --answers` share it;
and the server's role as the data dir's one writer (`open_server`)."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from agents import Model
from starlette.requests import Request

from ingest.pipeline import IngestOptions, ingest_folder, ingest_into
from ingest.progress import IngestProgress
from ingest.report import IngestReport
from kb.embedder import Embedder, create_embedder
from kb.index import KnowledgeIndex
from kb.index.generations import generations_of
from kb.settings import Settings
from kb.watch import parse_watch
from kb.writer import advertise, index_lock, writer_lock
from server.access import Access
from server.accounts import AccountStore
from server.agent import build_agent
from server.attachments import AttachmentFiles
from server.chat import KBChatServer
from server.identity import Identity
from server.jobs import IngestRequest, Work
from server.links import LinkSigner
from server.live import LiveIndex, LiveSearcher
from server.models import configure_tracing, create_model
from server.scratch import ThreadScratch, remove_if_emptied
from server.store import SQLStore, default_database_url, is_embedded, open_store
from server.syncs import Syncs
from server.toollog import ToolCallLog
from server.tracker import UploadTracker
from server.uploads import UploadFolder
from server.watcher import FolderWatcher


@dataclass(frozen=True)
class ChatServices:
    live: LiveIndex
    searcher: LiveSearcher
    store: SQLStore
    chat: KBChatServer
    model_name: str
    access: Access
    accounts: AccountStore
    identity: Identity
    links: LinkSigner


@dataclass(frozen=True)
class LibraryServices:
    """What changes the index: folder syncs (the job runner), uploads, watched folders."""

    syncs: Syncs
    uploads: UploadTracker
    upload_folder: UploadFolder
    watcher: FolderWatcher


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
    embedder = embedder or create_embedder(settings)
    if model is None:
        model, model_name = create_model(settings, embedder)
    else:
        model_name = getattr(model, "name", type(model).__name__)
    live = LiveIndex(generations_of(settings), KnowledgeIndex.open(settings))
    url = database_url or settings.database_url or default_database_url(settings.data_dir)
    store = await open_store(url)
    # JSONL logs only beside the embedded database: on a shared one a worker's local file
    # would hold a fraction of the team's calls, and the database already holds them all.
    local_logs = is_embedded(url)
    if local_logs:
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
    searcher = LiveSearcher(live, embedder, settings.passage_chars)
    accounts = AccountStore(store.engine)
    identity = Identity(settings, accounts)
    access = Access(accounts, identity.multi_user)
    links = LinkSigner(await accounts.secret("links"), settings.link_seconds)
    # Load the model and the vector index now, not during the first question.
    await asyncio.to_thread(searcher.search, "warm up", 1)
    files = AttachmentFiles(
        settings.data_dir / "attachments",
        store,
        int(min(settings.attachment_max_mb, settings.max_file_mb) * 2**20),
    )
    chat = KBChatServer(
        store,
        build_agent(model),
        searcher,
        ToolCallLog(settings.tool_log if local_logs else None, store),
        history_messages=settings.history_turns,
        default_top_k=settings.search_top_k,
        feedback_path=settings.logs_dir / "feedback.jsonl" if local_logs else None,
        scratch=ThreadScratch(files),
        access=access,
    )
    try:
        yield ChatServices(
            live, searcher, store, chat, str(model_name), access, accounts, identity, links
        )
    finally:
        await store.close()
        live.close()


@asynccontextmanager
async def open_server(
    settings: Settings,
    model: Model | None = None,
    *,
    embedder: Embedder | None = None,
    url: str | None = None,
) -> AsyncIterator[tuple[ChatServices, LibraryServices]]:
    """The chat services, as the index's writer: runs ingest jobs on the index it searches
    (uploads and KB_WATCH folders included). Embedded, it is the data dir's one writer for
    as long as it runs (holds its writer lock) and advertises `url` to CLI commands
    (kb.writer); on servers, where many processes serve one index, each job takes the
    index's lock in turn."""
    folders = parse_watch(settings.watch)  # a bad KB_WATCH fails before anything starts
    with nullcontext() if settings.index_url else writer_lock(settings.data_dir, "kb serve"):
        if not settings.index_url:
            generations_of(settings).remove_inactive()  # what a killed rebuild left
        async with open_chat(settings, model, embedder=embedder) as services:
            syncs = Syncs(_ingest_work(settings, services.live, services.searcher.embedder))
            library = LibraryServices(
                syncs,
                UploadTracker(syncs),
                UploadFolder(settings.data_dir, int(settings.max_file_mb * 2**20)),
                FolderWatcher(syncs, folders),
            )
            if services.chat.scratch:
                services.chat.scratch.syncs = syncs
                services.chat.scratch.resume()
            try:
                library.watcher.start()
                advertising = advertise(settings.data_dir, url) if url else nullcontext()
                with nullcontext() if settings.index_url else advertising:
                    yield services, library
            finally:
                await asyncio.to_thread(library.watcher.close)
                await asyncio.to_thread(syncs.close)


def _ingest_work(settings: Settings, live: LiveIndex, embedder: Embedder) -> Work:
    def work(request: IngestRequest, progress: IngestProgress) -> IngestReport:
        options = IngestOptions(
            request.delete,
            request.rebuild,
            request.dry_run,
            request.collection,
            frozenset(request.reindex),
            parse_apart=True,  # a parser's crash must not end the server
        )
        root = ingest_folder(Path(request.root))
        with _job_lock(settings):
            report = ingest_into(live, settings, root, options, progress, embedder)
        remove_if_emptied(request)
        return report

    return work


@contextmanager
def _job_lock(settings: Settings) -> Iterator[None]:
    """On servers, a job queues behind any other ingest of the index (another worker's, or
    a `kb ingest` elsewhere), then clears what a killed rebuild left; embedded, the server
    already holds the writer lock."""
    if not settings.index_url:
        yield
        return
    with index_lock(settings, "kb serve", wait=True):
        generations_of(settings).remove_inactive()
        yield


def services_of(request: Request) -> ChatServices:
    """The services of the app serving `request` (set up by its lifespan)."""
    services: ChatServices = request.app.state.services
    return services
