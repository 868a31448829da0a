"""Loading models and tokenizers: one way for training and for generation, one pad-token policy.

``load_for_inference(model, dtype, device)``
    A full model folder, hub id or LoRA adapter folder (``w2s.models.resolve_model``), merged into
    one plain model in eval mode; the tokenizer pads on the left (batched generation). The
    transformers backend, vLLM's adapter merge and the tests all load this way.
``load_tokenizer(path, padding_side)`` / ``load_causal_lm(path, dtype, device)``
    The pieces training uses (it pads on the right, as TRL's collators expect).

Pad token (``ensure_pad_token``, the same for training and inference): kept if the tokenizer has
one distinct from EOS; else its ``unk`` token; else a reserved pad-like special token already in
the vocabulary (e.g. Llama 3.1's ``<|finetune_right_pad_id|>``); else, only where the caller may
grow the vocabulary (full fine-tuning: the embeddings grow by one row and are saved with the
model), a new ``<pad>`` token; else EOS, with a warning. Padded positions are masked by the
attention mask everywhere (TRL's collators, both generation backends), so which token pads never
changes a result; EOS as pad still lets training learn each completion's EOS.

dtype names: ``float32``, ``bfloat16``, ``float16``, or ``auto`` (inference only: the checkpoint's
own dtype on a GPU, float32 on a CPU, where half precision is slow and coarse).
"""

from __future__ import annotations

import logging
from pathlib import Path

from w2s.config import schema_default
from w2s.io import InputError
from w2s.models import check_local_model, is_hub_model, resolve_model, split_revision

log = logging.getLogger(__name__)

# Special tokens that tokenizers ship for padding without declaring them as ``pad_token``.
PAD_LIKE = ("<|finetune_right_pad_id|>", "<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|reserved_special_token_0|>")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
DTYPES = ("float32", "bfloat16", "float16")


def has_tokenizer(folder: str | Path) -> bool:
    return any((Path(folder) / f).is_file() for f in TOKENIZER_FILES)


def tokenizer_source(model: str) -> str:
    """An adapter folder's own tokenizer when training saved one there, else the base model's."""
    ref = resolve_model(model)
    return ref.adapter if ref.adapter and has_tokenizer(ref.adapter) else ref.base


def torch_dtype(name: str, device=None):
    """The torch dtype of a dtype name; ``auto``: the checkpoint's own on a GPU, float32 on a CPU."""
    import torch

    if name == "auto":
        on_gpu = device is not None and torch.device(device).type == "cuda"
        return "auto" if on_gpu else torch.float32
    if name not in DTYPES:
        raise InputError(f"dtype must be one of auto, {', '.join(DTYPES)}; got {name!r}.")
    return getattr(torch, name)


def ensure_pad_token(tokenizer, *, allow_new_token: bool) -> str:
    """Give ``tokenizer`` a pad token distinct from EOS where it can; return how it was chosen.

    Returns one of "kept", "unk", "special:<token>", "added", "eos" (see the module docstring).
    "added" means the vocabulary grew: the caller must resize the model's embeddings.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError(
            f"tokenizer {tokenizer.name_or_path!r} has no eos_token: the model could not learn to stop. "
            "Set eos_token in its tokenizer_config.json."
        )
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != eos:
        return "kept"
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id != eos:
        tokenizer.pad_token = tokenizer.unk_token
        return "unk"
    vocab = tokenizer.get_vocab()
    for tok in PAD_LIKE:
        if tok in vocab and vocab[tok] != eos:
            tokenizer.pad_token = tok
            return f"special:{tok}"
    if allow_new_token:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
        return "added"
    log.warning(
        "tokenizer %r has no pad, unk or spare pad-like token, and this model's vocabulary cannot grow here "
        "(inference, or a LoRA adapter that cannot carry a new embedding row): padding with EOS. Padding is "
        "masked by the attention mask, so the model still learns and emits each completion's EOS.",
        tokenizer.name_or_path,
    )
    tokenizer.pad_token = tokenizer.eos_token
    return "eos"


def load_tokenizer(path: str, padding_side: str):
    """``path``: a folder or a hub id, ``owner/name@revision`` for a pinned revision."""
    from transformers import AutoTokenizer

    name, revision = split_revision(path)
    tok = AutoTokenizer.from_pretrained(name, revision=revision)
    tok.padding_side = padding_side
    return tok


def load_causal_lm(path: str, dtype: str, device=None):
    """``path``: a folder or a hub id, ``owner/name@revision`` for a pinned revision (logged with the
    commit the cache resolved it to)."""
    from transformers import AutoModelForCausalLM

    name, revision = split_revision(path)
    net = AutoModelForCausalLM.from_pretrained(name, revision=revision, dtype=torch_dtype(dtype, device))
    if is_hub_model(path):
        from w2s.hub import cached_commit

        log.info("model %s: revision %s, commit %s", name, revision or "(default branch)", cached_commit(path) or "unknown")
    return net


def sync_special_tokens(model, tokenizer) -> None:
    """Make the model's config and generation config agree with the tokenizer on pad and EOS."""
    cfgs = [model.config]
    if getattr(model, "generation_config", None) is not None:
        cfgs.append(model.generation_config)
    for c in cfgs:
        c.pad_token_id = tokenizer.pad_token_id
    gen = getattr(model, "generation_config", None)
    if gen is not None:
        eos = gen.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        if tokenizer.eos_token_id not in eos:
            gen.eos_token_id = [tokenizer.eos_token_id, *eos] if eos else tokenizer.eos_token_id
    if getattr(model.config, "eos_token_id", None) is None:
        model.config.eos_token_id = tokenizer.eos_token_id


def load_for_inference(model: str, dtype: str = schema_default("models.*.generation.dtype"), device=None):
    """Load ``model`` (full folder, hub id, or LoRA adapter folder) merged, in eval mode, on ``device``
    (default: the GPU if there is one). Returns (model, tokenizer); the tokenizer pads on the left."""
    import torch

    check_local_model(model)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ref = resolve_model(model)
    tokenizer = load_tokenizer(tokenizer_source(model), padding_side="left")
    ensure_pad_token(tokenizer, allow_new_token=False)
    net = load_causal_lm(ref.base, dtype, device)
    if ref.adapter is not None:
        from peft import PeftModel

        # Training may have added tokens: grow the base embeddings to the adapter's tokenizer first.
        if len(tokenizer) > net.get_input_embeddings().weight.shape[0]:
            net.resize_token_embeddings(len(tokenizer))
        # Merged once at load: inference then costs what the base model costs.
        net = PeftModel.from_pretrained(net, ref.adapter).merge_and_unload()
    sync_special_tokens(net, tokenizer)
    net.to(device).eval()
    return net, tokenizer
