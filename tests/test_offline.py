"""The offline model's answer composition and follow-up folding, on passage text."""

from server.offline import NOTHING_FOUND, compose_answer, fold_follow_up

PASSAGES = """[1] faq.txt
How do I use Ollama? Start Ollama, then set KB_MODEL_BASE_URL to its /v1 address.

[2] models.md, page 2 — Models > Ollama
Ollama serves an OpenAI-compatible API on port
11434 and needs a model with tool calling.

| Setting | Default |
| KB_PORT | 8000 |"""


def test_answer_cites_the_passages_its_sentences_come_from():
    answer = compose_answer("How do I use Ollama?", PASSAGES)
    assert "Start Ollama, then set KB_MODEL_BASE_URL to its /v1 address. [1]" in answer
    # hard-wrapped prose is joined into one sentence
    assert "OpenAI-compatible API on port 11434 and needs a model with tool calling. [2]" in answer
    assert "How do I use Ollama?" not in answer  # the FAQ's question is not an answer


def test_table_rows_stay_whole():
    assert "| KB_PORT | 8000 | [2]" in compose_answer("default KB_PORT", PASSAGES)


def test_nothing_relevant():
    assert compose_answer("quantum chromodynamics", PASSAGES) == NOTHING_FOUND
    assert compose_answer("anything", "No passages found.") == NOTHING_FOUND


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
    assert "Total net sales were $81,797 million. [1]" in answer
    assert "$81,797" not in compose_answer("In which part is it discussed?", passages)
