"""All settings in one place: `KB_` environment variables (or a `.env` file).

Each field's description is its documentation; a test checks the README lists every one.
"""

import os
from functools import cache
from pathlib import Path
from typing import Final, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
OcrMode = Literal["auto", "off", "force"]
AUTO: Final = "auto"
ONNX: Final = "onnx"
BF16: Final = "bf16"
TORCH: Final = "torch"
EmbeddingRuntime = Literal["auto", "onnx", "bf16", "torch"]
BF16_VARIANT = "@bf16"  # bf16 vectors are not the fp32 model's output: recorded apart
BF16_MODEL = DEFAULT_EMBEDDING_MODEL + BF16_VARIANT  # what the bf16 runtime records
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})  # bf16 products in hardware


MAX_PARSERS = 4  # each holds a file's text and its own interpreter (~150 MB)
PASSAGE_CHARS = 1600  # KB_PASSAGE_CHARS: chosen on the SEC tune split (README, Retrieval quality)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("data"), description="Where the index, chat database, logs and caches live."
    )
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Embedding model: `all-MiniLM-L6-v2` (local, offline) or "
        "`openai:<model>` for an OpenAI-compatible embeddings API.",
    )
    embedding_runtime: EmbeddingRuntime = Field(
        AUTO,
        description="How the local model embeds documents: `onnx` (ONNX Runtime, fp32, a "
        "fused graph that `make install` builds from the shipped weights), `bf16` (PyTorch "
        "with bf16 arithmetic: fast only on a CPU with AMX or AVX-512 BF16), `torch` "
        "(PyTorch fp32, the previous release) or `auto` (`bf16` where the CPU has those, "
        "else `onnx`). `onnx` and `torch` compute the same vectors (cosine > 0.9999) and "
        "share indexes and cached embeddings; `bf16` vectors are a variant of their own: "
        "any runtime searches either kind of index (queries are embedded in fp32), but "
        "ingesting into an index of the other kind asks for `kb ingest --rebuild`.",
    )
    embedding_base_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible embeddings API."
    )
    embedding_api_key: str | None = Field(
        None, description="API key for the embeddings API (default: `OPENAI_API_KEY`)."
    )
    cache_dir: Path | None = Field(
        None,
        description="Embedding and OCR cache folder (default: `<KB_DATA_DIR>/cache`); it "
        "survives `--rebuild` and is shared by `kb eval` runs.",
    )
    embedding_batch_size: int = Field(32, description="Texts embedded per batch.")
    chunk_tokens: int = Field(
        160,
        description="Target chunk size in embedding-model tokens (title and headings "
        "included); never above the model's limit.",
    )
    passage_chars: int = Field(
        PASSAGE_CHARS,
        ge=0,
        description="A search hit's passage: the matching chunk with the chunks before and "
        "after it on the same page and under the same heading, up to this many characters "
        "(a table with its caption and period headers); 0 returns the chunk alone.",
    )
    sentence_windows: bool = Field(
        True,
        description="Embed each prose chunk as overlapping pairs of sentences (sharper "
        "dense search, about 1.6x the embedding time) instead of whole; applies to files "
        "embedded after a change, `kb ingest --rebuild` to all.",
    )
    max_file_mb: float = Field(
        50.0,
        description="Files larger than this are skipped; also the most an Office, "
        "OpenDocument or EPUB file may decompress to.",
    )
    max_rows: int = Field(
        100_000, description="Spreadsheets (and CSV/TSV files) with more rows are not indexed."
    )
    ocr: OcrMode = Field(
        "auto",
        description="OCR with Tesseract: `auto` reads image files and the PDF pages that have "
        "no usable text layer, `force` every PDF page, `off` none.",
    )
    ocr_languages: str = Field(
        "eng",
        description="Tesseract languages, joined with `+` (e.g. `eng+deu`); each needs its "
        "`tesseract-ocr-<lang>` package.",
    )
    parse_workers: int = Field(
        0,
        ge=0,
        description="Processes that read and chunk files while an ingest embeds (0: one "
        "per core, at most 4).",
    )
    ingest_batch_chunks: int = Field(
        256,
        gt=0,
        description="Chunks embedded and written to the index per batch; a document with "
        "more is written in several batches (memory stays bounded) and switched at once.",
    )
    model: str | None = Field(
        None,
        description="Chat model. Default: `offline` without an API key or base URL, "
        "`gpt-4.1-mini` with `OPENAI_API_KEY`; any model name the endpoint serves.",
    )
    model_base_url: str | None = Field(
        None,
        description="OpenAI-compatible Chat Completions endpoint (Ollama, vLLM, llama.cpp).",
    )
    model_api_key: str | None = Field(
        None, description="API key for `KB_MODEL_BASE_URL` (default: `OPENAI_API_KEY`)."
    )
    openai_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "KB_OPENAI_API_KEY"),
        description="`OPENAI_API_KEY`: enables OpenAI models for chat and embeddings.",
    )
    openai_tracing: bool = Field(
        False, description="Send Agents SDK traces to OpenAI (off: traces stay local)."
    )
    host: str = Field("127.0.0.1", description="Address `kb serve` listens on.")
    port: int = Field(8000, description="Port `kb serve` listens on.")
    allowed_hosts: str | None = Field(
        None,
        description="Comma-separated host names the server answers to (the `Host` header; "
        "guards against DNS rebinding), or `*` for any. Default: localhost, 127.0.0.1, "
        "[::1] and `KB_HOST`; setting it replaces that default.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the chat database, e.g. "
        "`postgresql+asyncpg://user@host/db` (default: SQLite in the data dir).",
    )
    auth_token: str | None = Field(
        None,
        description="A shared token: every HTTP request needs `Authorization: Bearer "
        "<token>`. Alone, it guards the single-person mode; with accounts or single sign-on "
        "it is the operator's admin token (what the `kb` commands send to `kb serve`).",
    )
    oidc_issuer: str | None = Field(
        None,
        description="Single sign-on: the OpenID Connect issuer whose JWTs (`Authorization: "
        "Bearer <JWT>`) are accepted; its keys come from its discovery document.",
    )
    oidc_audience: str | None = Field(
        None, description="The audience (`aud`) a JWT must name; required with the issuer."
    )
    oidc_jwks: str | None = Field(
        None,
        description="Where the issuer's signing keys are, instead of discovery: a JWKS URL "
        "or file.",
    )
    oidc_user_claim: str = Field(
        "preferred_username", description="The JWT claim naming the user (falls back to `sub`)."
    )
    oidc_groups_claim: str = Field("groups", description="The JWT claim listing the groups.")
    trusted_user_header: str | None = Field(
        None,
        description="Behind an authenticating proxy: the header naming the user (e.g. "
        "`X-Forwarded-User`), honoured only from `KB_TRUSTED_PROXIES`.",
    )
    trusted_groups_header: str | None = Field(
        None, description="The proxy's header listing the user's groups (comma-separated)."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks (CIDR) of the proxies whose "
        "`KB_TRUSTED_USER_HEADER` is believed; from any other address it is ignored.",
    )
    admin_groups: str = Field(
        "",
        description="Comma-separated groups (from single sign-on or the proxy) whose members "
        "are admins: they see every collection and manage grants.",
    )
    link_seconds: int = Field(
        300, gt=0, description='How long a signed "Open original" link stays valid.'
    )
    max_request_kb: int = Field(512, description="Largest accepted request body, in KiB.")
    history_turns: int = Field(
        10,
        description="Recent thread messages (questions and answers) the chat model sees as "
        "history.",
    )
    search_top_k: int = Field(5, description="Passages `search_docs` returns by default.")
    attachment_max_mb: float = Field(
        20.0,
        gt=0,
        description="Largest file a chat message may attach, in MB (never above "
        "`KB_MAX_FILE_MB`); checked before the upload starts.",
    )
    index_url: str | None = Field(
        None,
        description="For a team: the PostgreSQL database holding the catalog and the lexical "
        "index (BM25), e.g. `postgresql://kb@db-host:5432/kb` (default: SQLite in the data "
        "dir). Every server process and `kb ingest` on any machine share it.",
    )
    index_name: str = Field(
        "kb",
        pattern=r"^[a-z][a-z0-9_]{1,40}$",
        description="The knowledge base's name on the servers: its PostgreSQL schemas and "
        "Chroma collections start with it, so several (a staging one, say) can share them.",
    )
    chroma_url: str | None = Field(
        None,
        description="For a team: the Chroma server holding the vectors, e.g. "
        "`http://chroma-host:8001` (default: an embedded Chroma in the data dir).",
    )
    chroma_tenant: str | None = Field(
        None, description="The Chroma server's tenant (default: Chroma's `default_tenant`)."
    )
    chroma_database: str | None = Field(
        None, description="The Chroma server's database (default: Chroma's `default_database`)."
    )
    chroma_headers: dict[str, str] = Field(
        default_factory=dict,
        description='Headers sent to the Chroma server, as JSON (e.g. `{"Authorization": '
        '"Bearer …"}`): a Chroma server has no authentication of its own, so a proxy in '
        "front of it checks them.",
    )
    watch: str | None = Field(
        None,
        description="Folders `kb serve` keeps in sync, comma-separated, each `DIR` or "
        "`DIR=COLLECTION`: synced at start and within seconds of each change (like `kb watch`).",
    )

    @property
    def allowed_host_names(self) -> frozenset[str]:
        """Host names as `host_name` normalises them; "*" allows any."""
        names = self.allowed_hosts.split(",") if self.allowed_hosts else [*LOOPBACK, self.host]
        return frozenset(host_name(name) for name in names if name.strip())

    @property
    def multi_user(self) -> bool:
        """Identities come from configuration (SSO or a proxy); accounts (`kb users`) live
        in the chat database and are checked there."""
        return bool(self.oidc_issuer or self.trusted_user_header)

    @property
    def shared_index(self) -> bool:
        """The index lives on servers (PostgreSQL and a Chroma server) that several
        processes, on several machines, may use at once."""
        return bool(self.index_url and self.chroma_url)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def parsers(self) -> int:
        """The parsing processes of an ingest."""
        return self.parse_workers or min(MAX_PARSERS, os.cpu_count() or 1)

    @property
    def local_runtime(self) -> EmbeddingRuntime:
        """The runtime `auto` stands for on this CPU."""
        if self.embedding_runtime != AUTO:
            return self.embedding_runtime
        return BF16 if BF16_CPU_FLAGS & cpu_flags() else ONNX

    @property
    def embedding_variant(self) -> str:
        """The model output the index and the embedding cache record."""
        if self.embedding_model == DEFAULT_EMBEDDING_MODEL and self.local_runtime == BF16:
            return BF16_MODEL
        return self.embedding_model

    @property
    def embedding_cache(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache") / "embeddings.sqlite"

    @property
    def ocr_cache(self) -> Path:
        return (self.cache_dir or self.data_dir / "cache") / "ocr.sqlite"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def tool_log(self) -> Path:
        """The tool calls as JSON lines (kept beside the embedded chat database only)."""
        return self.logs_dir / "tool_calls.jsonl"


def base_model(embedding_variant: str) -> str:
    """The model of a variant the index records (`all-MiniLM-L6-v2@bf16` -> its model)."""
    return embedding_variant.removesuffix(BF16_VARIANT)


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux; none known elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    lines = (line for line in info.splitlines() if line.startswith("flags"))
    return frozenset(next(lines, ":").partition(":")[2].split())


def host_name(value: str) -> str:
    """`value` (a host, host:port, [IPv6]:port or bare IPv6) lower-cased, without the port."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value if value.count(":") > 1 else value.split(":", 1)[0]
