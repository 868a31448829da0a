"""One way to load a model for training and generation, with one pad-token policy."""

import pytest

torch = pytest.importorskip("torch")

from w2s.generation import make_backend  # noqa: E402
from w2s.generation.testing import build_tiny_model  # noqa: E402
from w2s.loading import ensure_pad_token, load_for_inference, load_tokenizer, tokenizer_source  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def no_pad(tmp_path_factory):
    """A tokenizer with EOS but no pad and no unk token: the policy's last resort."""
    return build_tiny_model(tmp_path_factory.mktemp("nopad") / "m", with_pad=False)


def test_training_and_generation_pick_the_same_pad(no_pad):
    train_tok = load_tokenizer(no_pad, padding_side="right")
    assert ensure_pad_token(train_tok, allow_new_token=False) == "eos"
    _, infer_tok = load_for_inference(no_pad, "float32", "cpu")
    backend = make_backend(no_pad, {"backend": "transformers", "dtype": "float32", "progress": False})
    assert infer_tok.pad_token_id == backend.pad_id == train_tok.pad_token_id == train_tok.eos_token_id
    assert infer_tok.padding_side == "left" and train_tok.padding_side == "right"


def test_a_spare_pad_like_token_is_preferred_over_eos(no_pad):
    tok = load_tokenizer(no_pad, padding_side="right")
    tok.add_special_tokens({"additional_special_tokens": ["<|pad|>"]})
    assert ensure_pad_token(tok, allow_new_token=False) == "special:<|pad|>"
    assert tok.pad_token == "<|pad|>"


def test_auto_dtype_is_float32_on_cpu_and_the_folder_is_its_own_tokenizer(no_pad):
    model, _ = load_for_inference(no_pad, "auto", "cpu")
    assert next(model.parameters()).dtype == torch.float32 and not model.training
    assert tokenizer_source(no_pad) == no_pad
