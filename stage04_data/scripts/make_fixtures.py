"""Write tests/fixtures/gpt2_tokenizer/: a small GPT-2-style vocabulary and Hugging Face's ids for it.

Run with `tokenizers` and `transformers` installed (`nox -s fixtures` does it), from anywhere:
    NUMPYGPT_DATA=path/to/tinyshakespeare.txt python stage04_data/scripts/make_fixtures.py

1. The `tokenizers` package trains a byte-level BPE (GPT-2's pre-tokenizer, 400 tokens with
   <|endoftext|>) on the first 100,000 characters of tiny Shakespeare, and saves vocab.json +
   merges.txt, the files GPT2Tokenizer.from_pretrained reads.
2. Hugging Face's GPT-2 tokenizer, built from that `tokenizers` object, encodes a Unicode-heavy
   text and a slice of the corpus; parity.json records the texts and the ids.
3. numpygpt's own BPETokenizer, trained on the slice and written by its save_pretrained, is
   loaded by transformers' GPT2TokenizerFast and AutoTokenizer: their ids must equal numpygpt's
   (checked here, where transformers is at hand, and recorded for the tests).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from numpygpt.tokenizer import BPETokenizer
from numpygpt.utils.data import fetch_corpus

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "gpt2_tokenizer"
VOCAB_SIZE = 400  # 256 bytes, <|endoftext|>, 143 merges: small enough to commit, big enough to merge words
TRAIN_CHARS = 100_000
SLICE = slice(200_000, 203_000)  # the corpus text whose ids are recorded
BPE_MERGES = 60  # numpygpt's BPETokenizer, trained on the slice for the export check
UNICODE = (
    "Héllo wörld! Œdipus Rex, naïve café; 東京 and Москва; ١٢٣ ²½ Ⅻ; 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧 ok.\n"
    "Tabs\tand  double  spaces, trailing   \n\n\nI'm sure they'll say it's 'quoted' we've we'd.\r\n"
    "Controls \x1c\x1d\x1e\x1f, a no-break\u00a0space, a line\u2028separator; digits 12345 678.\n"
    "A special token <|endoftext|>in the middle, and x<|endoftext|><|endoftext|> twice. "
)


def hf_tokenizer(tok: Tokenizer) -> transformers.PreTrainedTokenizerBase:
    """transformers' GPT-2 tokenizer around a `tokenizers` object.

    NOTE: in transformers 5, GPT2TokenizerFast(vocab_file=..., merges_file=...) comes back with
    a vocabulary of 1 (every text encodes to []); built from the object it is right. Checked.
    """
    hf = transformers.GPT2TokenizerFast(tokenizer_object=tok)
    assert len(hf) == tok.get_vocab_size(), f"transformers sees {len(hf)} tokens, tokenizers {tok.get_vocab_size()}"
    return hf


def main() -> None:
    text = fetch_corpus(Path(tempfile.mkdtemp()), verbose=False).read_text(encoding="utf-8")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text[:TRAIN_CHARS]], trainer)
    OUT.mkdir(parents=True, exist_ok=True)
    tok.model.save(str(OUT))  # vocab.json + merges.txt
    hf = hf_tokenizer(tok)

    texts = {"unicode": UNICODE, "shakespeare": text[SLICE]}
    ids = {name: hf(t)["input_ids"] for name, t in texts.items()}
    for name, t in texts.items():
        assert hf.decode(ids[name]) == t, f"Hugging Face does not round-trip the {name} text"

    # numpygpt's BPETokenizer, saved in GPT-2's files, read by transformers.
    bpe = BPETokenizer.train(texts["shakespeare"], 256 + BPE_MERGES)
    with tempfile.TemporaryDirectory() as folder:
        bpe.save_pretrained(folder)
        loaded = [
            transformers.GPT2TokenizerFast.from_pretrained(folder),
            transformers.AutoTokenizer.from_pretrained(folder),
        ]
        for other in loaded:
            assert len(other) == bpe.vocab_size, (
                f"{type(other).__name__} sees {len(other)} tokens, not {bpe.vocab_size}"
            )
            got = other(texts["shakespeare"])["input_ids"]
            assert got == bpe.encode(texts["shakespeare"]), f"{type(other).__name__} disagrees with BPETokenizer"
    parity = {
        "made_by": f"transformers {transformers.__version__}, tokenizers {sys.modules['tokenizers'].__version__}",
        "vocab_size": tok.get_vocab_size(),
        "texts": texts,
        "ids": ids,
        "bpe_export": {
            "merges": BPE_MERGES,
            "ids": bpe.encode(texts["shakespeare"]),
            "loaded_by": "GPT2TokenizerFast, AutoTokenizer",
        },
    }
    (OUT / "parity.json").write_text(json.dumps(parity, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({size / 1024:.0f} KB); corpus from {os.environ.get('NUMPYGPT_DATA', 'data/')}")


if __name__ == "__main__":
    main()
