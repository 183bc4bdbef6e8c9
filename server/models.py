"""Choose the chat model: offline (default), OpenAI (Responses API), or any
OpenAI-compatible Chat Completions server (Ollama, vLLM, llama.cpp)."""

from agents import Model, OpenAIChatCompletionsModel, OpenAIResponsesModel, set_trace_processors
from openai import AsyncOpenAI

from kb.embedder import Embedder
from kb.errors import KBError
from kb.settings import Settings
from server.offline import OfflineModel

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
OFFLINE = "offline"
TIMEOUT_S = 60.0


def create_model(settings: Settings, embedder: Embedder | None = None) -> tuple[Model, str]:
    """The model and the name to show for it; the offline model reads with `embedder`."""
    if settings.model_base_url:
        if not settings.model or settings.model == OFFLINE:
            raise KBError(
                "KB_MODEL_BASE_URL is set: also set KB_MODEL to the model it serves, "
                "e.g. KB_MODEL=llama3.1"
            )
        client = AsyncOpenAI(
            base_url=settings.model_base_url,
            api_key=settings.model_api_key or settings.openai_api_key or "not-needed",
            timeout=TIMEOUT_S,
            max_retries=1,
        )
        return OpenAIChatCompletionsModel(settings.model, client), settings.model
    if settings.openai_api_key and settings.model != OFFLINE:
        name = settings.model or DEFAULT_OPENAI_MODEL
        client = AsyncOpenAI(api_key=settings.openai_api_key, timeout=TIMEOUT_S, max_retries=1)
        return OpenAIResponsesModel(name, client), name
    return OfflineModel(embedder), OFFLINE


def configure_tracing(settings: Settings) -> None:
    """Agents SDK traces go to OpenAI by default; keep them here unless the user opts in."""
    if not settings.openai_tracing:
        set_trace_processors([])
