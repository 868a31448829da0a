"""w2s: the logic of the weak-to-strong reasoning workflow (Yang, Ma, Liu 2024).

Modules: ``io`` (validated JSONL, atomic writes), ``prompts``, ``grading``, ``data``,
``demos``, ``consistency`` (stage I filter), ``pairs`` (stage II vote and pair mining),
``generation`` (transformers / vLLM backends), ``training`` (TRL SFT / DPO / ORPO),
``metrics``, ``report`` (tables, figures, provenance), ``toy`` (the tiny CPU world), ``cli`` (the ``w2s`` command).
"""

__version__ = "0.1.0"
