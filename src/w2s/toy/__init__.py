"""The toy world: a GSM8K-like task, a tokenizer and two tiny Llama models, made on a CPU in minutes.

It lets the whole weak-to-strong workflow run end to end with no downloads and no GPU, loading
every model exactly as it would load a real one (``from_pretrained`` on a folder).

- ``make_problems`` (``problems``): seeded short arithmetic word problems (1..max_steps steps,
  + - *), each with a GSM8K-style gold solution (one step per line, ``<<a+b=c>>`` calculator
  notes, ``#### N``).
- ``build_toy_data`` (``problems``): train_1 / train_2 / test in the raw GSM8K format, no question
  in two splits.
- ``pretraining_text`` (``text``): the synthetic pretraining rows in several formats.
- ``train_tokenizer`` (``tokenizer``): a byte-level BPE with a small vocabulary, every number up to
  ``max_value`` one token (CPU time of these models goes to the vocabulary width: keep it small).
- ``build_model`` (``model``): a tiny ``LlamaForCausalLM``, optionally "pretrained" with a plain
  PyTorch loop on synthetic text (``pretraining_questions``: every question in it). That text
  leaves out every train_2 and test question and mostly leaves out the task's exact
  ``Question: ...\\nAnswer: ... #### N`` format, so the strong model has
  the latent ability (it can solve the problems) but not the task format: it has to pick the format
  up from the weak model's demonstrations, like the paper's base 70B models.
- ``write_graded_test`` (``fresh``): the test set a toy dataset grades: the test split plus
  ``toy.fresh_test`` problems drawn after the world, in no split and no toy model's pretraining
  text, so that their number changes no model.

Every function takes a slice of the validated config (``w2s.config.validate_config``), never a
default of its own: ``toy.data`` (problems, data), the ``toy`` block (tokenizer) and
``models.<name>.toy`` (models, pretraining text); config/schema.yaml holds the defaults, the
calibrated values that ``bench/toy_world.py`` measures.
"""

from .fresh import write_graded_test
from .model import build_model, model_config, pretrain, pretraining_questions
from .problems import SPLITS, build_toy_data, final_answer, make_problems, strip_notes
from .text import TARGET_ENDING, pretraining_text
from .tokenizer import SPECIAL_TOKENS, load_tokenizer, train_tokenizer

__all__ = [
    "SPECIAL_TOKENS", "SPLITS", "TARGET_ENDING", "build_model", "build_toy_data", "final_answer",
    "load_tokenizer", "make_problems", "model_config", "pretrain", "pretraining_questions", "pretraining_text",
    "strip_notes", "train_tokenizer", "write_graded_test",
]
