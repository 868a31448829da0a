"""The toy world's tokenizer: a byte-level BPE with a small vocabulary, trained on the toy text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..io import atomic_dir
from .problems import SPLITS, read_split, strip_notes
from .text import pretraining_text

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
# The seed of the corpus's sample of the pretraining formats: one fixed text for every run's seed
# (the sample only has to show each format's words; the run's seed already varies the data).
FORMAT_SAMPLE_SEED = 0
# How often the corpus repeats the line of all numbers 0..max_value: enough for each to win a merge.
NUMBER_LINE_REPEATS = 1000


def _tokenizer_corpus(data_dir: str | Path, cfg: dict) -> Iterator[str]:
    """The training text; ``cfg`` is the validated ``toy`` block (``tokenizer`` and ``data``)."""
    tok = cfg["tokenizer"]
    rows = {s: read_split(data_dir, s, {"question": str, "answer": str}) for s in SPLITS}
    # Every number up to max_value (null: the largest in the data) gets a token of its own.
    max_value = int(tok["max_value"] or max(
        int(x) for s in SPLITS for r in rows[s] for x in re.findall(r"\d+", r["question"] + r["answer"])))
    # Questions of every split (the model must read them), gold solutions of train_1 only, without
    # calculator notes: no model ever reads the notes, so they get no merges.
    for s in SPLITS:
        for r in rows[s]:
            yield f"Question: {r['question']}"
            if s == "train_1":
                yield f"Answer: {strip_notes(r['answer'])}"
    # The pretraining formats, so their words are tokens too: problems of the data's shape.
    sample = tok["format_sample"]
    text_cfg = {**cfg["data"], **sample, "max_value": max_value}
    yield from pretraining_text(int(sample["rows"]), FORMAT_SAMPLE_SEED, text_cfg, set())
    # The numbers after a space, as in the text, many times over so that each wins a merge.
    nums = " ".join(str(i) for i in range(max_value + 1))
    for _ in range(NUMBER_LINE_REPEATS):
        yield "= " + nums


def train_tokenizer(out_dir: str, data_dir: str, cfg: dict, seed: int) -> None:
    """Train a byte-level BPE on the toy text and save it as a ``PreTrainedTokenizerFast``.

    ``cfg`` is the validated ``toy`` block: ``toy.tokenizer`` sets the tokenizer, ``toy.data``
    the shape of the problems in its sample of the pretraining formats. Special tokens
    ``<s> </s> <pad> <unk>`` (pad is not eos, so a model learns to stop); encoding adds ``<s>``
    in front like Llama's tokenizer. ``seed`` is accepted for a uniform interface: BPE training
    has no randomness.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    del seed
    tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [SPECIAL_TOKENS[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token")]
    trainer = trainers.BpeTrainer(
        vocab_size=int(cfg["tokenizer"]["vocab_size"]),
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_tokenizer_corpus(data_dir, cfg), trainer=trainer)
    bos = SPECIAL_TOKENS["bos_token"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
    )
    max_length = int(cfg["tokenizer"]["model_max_length"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length, **SPECIAL_TOKENS)
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
