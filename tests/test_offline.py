"""The offline model's answers on passage text: the best sentence first, tables as tables
(under their header), lists as lists, every line cited; and follow-up folding."""

from kb.embedder import LocalEmbedder
from server.answer import NOTHING_FOUND, compose_answer
from server.offline import VectorCache, fold_follow_up

PASSAGES = """[1] faq.txt
How do I use Ollama? Start Ollama, then set KB_MODEL_BASE_URL to its /v1 address.

[2] models.md — Models > Ollama
Ollama serves an OpenAI-compatible API on port
11434 and needs a model with tool calling.

| Setting | Default |
| --- | --- |
| KB_PORT | 8000 |
| KB_HOST | 127.0.0.1 |"""

LIST = """[1] server.rst — Server > HTTP endpoints
Besides the web interface at /, the server offers:

- POST /chatkit: the ChatKit protocol endpoint.
- GET /healthz: a health check.
- GET /api/status: documents, chunks and models.

Request bodies larger than 512 KiB are refused."""


def test_the_answer_leads_with_the_best_sentence_and_cites_it():
    answer = compose_answer("How do I use Ollama?", PASSAGES)
    assert answer.startswith("Start Ollama, then set KB_MODEL_BASE_URL to its /v1 address. [1]")
    assert "How do I use Ollama?" not in answer  # the FAQ's question is not an answer


def test_hard_wrapped_prose_is_one_sentence():
    answer = compose_answer("Which port does Ollama serve its API on?", PASSAGES)
    assert "OpenAI-compatible API on port 11434 and needs a model with tool calling. [2]" in answer


def test_a_table_row_answers_as_a_table_under_its_header():
    answer = compose_answer("default KB_PORT", PASSAGES)
    assert "| Setting | Default |\n| --- | --- |\n| KB_PORT | 8000 [2] |" in answer
    assert "KB_HOST" not in answer  # only the rows that answer


def test_a_list_comes_with_its_lead_in_and_every_item_is_cited():
    answer = compose_answer("Which endpoints does the server offer?", LIST)
    lines = answer.splitlines()
    assert "Besides the web interface at /, the server offers: [1]" in lines
    for endpoint in ("POST /chatkit", "GET /healthz", "GET /api/status"):
        assert any(line.startswith(f"- {endpoint}") and line.endswith("[1]") for line in lines)
    assert "512 KiB" not in answer


def test_nothing_relevant():
    assert compose_answer("quantum chromodynamics", PASSAGES) == NOTHING_FOUND
    assert compose_answer("anything", "No passages found.") == NOTHING_FOUND


def test_sentences_are_chosen_by_meaning_with_an_embedder(embedder: LocalEmbedder):
    passages = """[1] guide.md — Maintenance
Every document has a title and a heading path.
To delete a file, take it out of the folder and ingest again."""
    question = "How can I get rid of a document?"
    by_words = compose_answer(question, passages)
    by_meaning = compose_answer(question, passages, VectorCache(embedder))
    assert by_words.startswith("Every document has a title")  # the only word in common
    assert by_meaning.startswith("To delete a file, take it out of the folder and ingest again.")


def test_vectors_of_quoted_sentences_are_remembered(embedder: LocalEmbedder):
    class Counting:
        name, max_tokens = embedder.name, embedder.max_tokens

        def __init__(self) -> None:
            self.embedded: list[str] = []

        def count_tokens(self, texts: list[str]) -> list[int]:
            return embedder.count_tokens(texts)

        def embed(self, texts: list[str]):
            return embedder.embed(texts)

        def embed_queries(self, texts: list[str]):
            self.embedded += texts
            return embedder.embed_queries(texts)

    counting = Counting()
    cache = VectorCache(counting, size=3)
    first = cache(["a", "b", "a"])
    assert counting.embedded == ["a", "b"] and (first[0] == first[2]).all()
    cache(["b", "c", "d"])  # "a" is the oldest of four: forgotten
    cache(["a", "d"])
    assert counting.embedded == ["a", "b", "c", "d", "a"]


def test_follow_up_folds_in_the_previous_question():
    earlier = ["How do I configure Ollama?"]
    assert fold_follow_up("and vLLM?", earlier) == "How do I configure Ollama? and vLLM?"
    assert fold_follow_up("Why is it slow?", earlier).startswith("How do I configure Ollama?")
    standalone = "Which file types does ingest support for PDF extraction?"
    assert fold_follow_up(standalone, earlier) == standalone
    assert fold_follow_up("and vLLM?", []) == "and vLLM?"


def test_questions_about_amounts_prefer_sentences_with_figures():
    prose = " ".join(f"Total net sales are discussed in part {n} of this report." for n in range(6))
    passages = f"[1] 2023 Q3 ACME.pdf, page 4\n{prose} Total net sales were $81,797 million."
    answer = compose_answer("What were ACME total net sales?", passages)
    assert answer.startswith("Total net sales were $81,797 million. [1]")
    assert "$81,797" not in compose_answer("In which part is it discussed?", passages)
