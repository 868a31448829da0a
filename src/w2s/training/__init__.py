"""Training with TRL: supervised fine-tuning (stage I) and preference optimisation (stage II).

Public API
----------
``train_sft(model, records, output_dir, cfg, work_dir, seed=0, threads=1) -> dict``
    TRL ``SFTTrainer`` on prompt/completion records; the loss covers the completion (and the EOS
    that TRL appends) only. ``cfg["method"]`` is ``"full"`` (save_pretrained model + tokenizer) or
    ``"lora"`` (a PEFT adapter folder whose ``base_model_name_or_path`` is ``model`` exactly as
    given, plus the tokenizer).
``train_preference(trainer, model, pairs, output_dir, cfg, work_dir, seed=0, threads=1) -> dict``
    A TRL preference trainer named in ``w2s.registry.PREFERENCE_TRAINERS`` (``dpo``:
    ``trl.DPOTrainer``; ``orpo`` and ``cpo``: ``trl.experimental``) on prompt/chosen/rejected pairs,
    starting from M_plus; the trainer's options in ``cfg`` (``beta``, ``loss_type``, ...) go to its
    TRL config class unchanged. When M_plus is a PEFT adapter folder, that
    adapter keeps training, and the DPO reference is M_plus itself: TRL copies the loaded adapter
    into a frozen adapter named ``ref`` and computes the reference log-probabilities with it
    (``tests/test_training.py`` checks this against M_plus and against the bare base model). When
    M_plus is a full model, ``method: lora`` puts a fresh adapter on it (the reference is then
    M_plus with the adapter disabled) and ``method: full`` trains all weights (TRL loads a second
    copy of M_plus as the reference).
``load_for_inference`` and ``ensure_pad_token`` (re-exported): see ``w2s.loading``, the one
    way models and tokenizers are loaded for training and generation.

Modules: ``setup`` (config, rows, TRL arguments), ``checkpoints`` (work folder, resume, final
save), ``run`` (threads, CPU memory, running a trainer), ``sft``, ``preference``.

Config keys (``cfg``: checked against config/schema.yaml, ``$defs.training_keys``, whose defaults
fill missing keys; preference training adds the trainer's options, ``$defs.preference_options``)
    method, lora {r, alpha, dropout, target_modules}, learning_rate, epochs, max_steps (-1: use
    epochs), batch_size (per device), gradient_accumulation_steps, max_length, lr_scheduler,
    warmup_ratio, weight_decay, save_steps, logging_steps, dtype, gradient_checkpointing,
    accelerate_config. dtype: "float32"; "bfloat16" (weights loaded in bf16 and bf16
    autocast; under ZeRO-3 DeepSpeed keeps fp32 master weights); "float16" (GPU only: fp16 autocast
    with loss scaling; LoRA loads the frozen base in fp16, full fine-tuning keeps fp32 weights
    because the gradient scaler cannot unscale fp16 gradients).

Behaviour worth knowing
    * Outputs appear complete or not at all: every process saves into ``.<name>.partial`` beside
      ``output_dir`` and the main process renames it at the end. The last file written before the
      rename is ``w2s_training.json`` (``w2s.models.TRAINING_RECORD``: kind, method, start model,
      adapter base, the resolved config, seed, data sha256, steps, losses; no timings), which the
      workflow declares as the training job's output and the model card reads. An existing
      ``output_dir`` is removed when training starts: a rerun never leaves the previous model (or
      the card beside it) looking current.
    * Checkpoints go to ``<work_dir>/checkpoints`` (outside the declared output, which Snakemake
      deletes when a job fails). A rerun resumes from the newest *complete* checkpoint (one that
      has ``trainer_state.json``, which the Trainer writes last); a half-written one is removed.
      ``<work_dir>/fingerprint.json`` records the model, data, config and seed of the run that made
      the checkpoints; if any differs, the stale checkpoints are removed and training starts anew.
      After a successful run the checkpoints are removed (they would only resume a finished run).
    * Pad token: ``w2s.loading.ensure_pad_token``'s policy; full fine-tuning may add a ``<pad>``
      token (the embeddings grow by one row and are saved with the model), LoRA and preference
      training may not. The padded positions are excluded from the loss by TRL's collators through
      the attention mask, not by token id, so the EOS at the end of each completion is learned even
      with EOS as pad; a test checks that a trained model stops.
    * ``max_length`` is always set on the TRL config (TRL's own default of 1024 truncates
      silently); the number of records longer than it is logged and returned as ``truncated``.
    * No evaluation, no reporting integrations (``report_to="none"``), tqdm progress bars on,
      ``dataloader_num_workers=0``, gradient checkpointing off unless asked (TRL turns it on by
      default, which costs ~20% on CPU for nothing), bf16 only when ``dtype`` is ``bfloat16``
      (TRL defaults to bf16 mixed precision, which would silently run the CPU tests in bf16).
    * CPU speed: without a GPU, training keeps freed memory for reuse instead of unmapping it after
      every step, through glibc's ``mallopt`` (the run-time form of ``MALLOC_MMAP_MAX_=0
      MALLOC_TRIM_THRESHOLD_=... MALLOC_TOP_PAD_=...``; DESIGN.md measured 3x with a 49k
      vocabulary, ~6% CPU time on the toy strong model). Skipped when the job sets any ``MALLOC_``
      variable itself, or with ``W2S_MALLOPT=0``.

Multi-GPU (one process per GPU)
    The functions are unchanged under ``accelerate launch``; Trainer reads the distributed setup
    from the environment that the launcher sets. In the workflow, ``w2s.launch.run_training``
    writes the call to a JSON spec and starts it (training config key ``accelerate_config``)::

        accelerate launch --config_file slurm/accelerate/zero3.yaml --num_processes 8 \\
            -m w2s.launch results/.../launch.json     # DeepSpeed ZeRO-3 (pip install deepspeed)
        accelerate launch --config_file slurm/accelerate/fsdp.yaml --num_processes 8 \\
            -m w2s.launch results/.../launch.json     # PyTorch FSDP2, no extra package

    Any script that calls ``train_sft`` / ``train_preference`` can be launched the same way. Use
    ``dtype: bfloat16`` with these configs (their mixed_precision is bf16). ``--num_processes``
    overrides the file (the GPUs of the SLURM job, e.g. ``$SLURM_GPUS_ON_NODE``); for several nodes
    add ``--num_machines``, ``--machine_rank``, ``--main_process_ip`` (``srun`` one launcher per
    node). Every process must call the training function with the same arguments; only the main
    process writes files. The model is loaded after the TRL config is built, so ZeRO-3
    (``zero3_init_flag``) shards it while loading, and FSDP (``cpu_ram_efficient_loading``) reads
    it on rank 0 only (host memory for one copy) and broadcasts the shards. Tested here: two CPU processes under ``torch.distributed.run`` (DDP over gloo, the same code path
    as ``accelerate launch`` without DeepSpeed/FSDP), including a crash and resume. Not run here:
    ZeRO-3 and FSDP (no GPU on this machine, where accelerate falls back to plain multi-process
    CPU, and no deepspeed package). Under FSDP, resuming DPO on a LoRA adapter is refused with a
    clear error (see ``checkpoints.AdapterResumeMixin``); under ZeRO-3 DeepSpeed restores its own checkpoint.
    Loading an existing adapter (M_plus) onto a ZeRO-3-sharded base is the least-trodden path: try
    a few steps on the cluster before a long run.
"""

from __future__ import annotations

from w2s.loading import ensure_pad_token, load_for_inference

from .checkpoints import last_complete_checkpoint
from .preference import build_preference_trainer, train_preference
from .setup import resolve_cfg
from .sft import build_sft_trainer, train_sft

__all__ = [
    "build_preference_trainer",
    "build_sft_trainer",
    "ensure_pad_token",
    "last_complete_checkpoint",
    "load_for_inference",
    "resolve_cfg",
    "train_preference",
    "train_sft",
]
