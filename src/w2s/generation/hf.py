"""The Hugging Face transformers backend: our own decoding loop around the model's forward.

Why not ``model.generate``: it stops a batch only when every row has stopped (DESIGN.md), it runs the
prompt once per sample unless asked otherwise, and it cannot reuse one shared prefix across batches.
The loop here keeps the model and cache of transformers and adds:

- length-grouped batches (little padding), planned from the whole request list;
- one prefill per prompt; the cache rows are then repeated for the ``n`` samples;
- the prefix shared by every prompt (the in-context demonstrations) computed once per job and copied
  into each batch's cache, the padding of each prompt placed between that prefix and its own text;
- per-sequence stopping: a row that emits end-of-sequence or completes a stop string is removed from
  the batch and the cache at once, so it stops costing compute;
- sampling with one random generator per sequence, seeded from the request, so a sample does not
  depend on which other prompts share its batch.

Greedy outputs equal unbatched ``model.generate`` (tested); only float rounding of batched matmuls
separates them, which flips a token only between logits equal to ~1e-6.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from w2s.loading import load_for_inference

from .common import Backend, Completion, Counters, Prepared, SamplingConfig, check_batches, cut_at_stop, derive_seed, engine_settings

# Shorter common prefixes are not worth a separate forward pass and a cache copy per batch.
MIN_SHARED_PREFIX = 8

def eos_token_ids(model, tokenizer) -> set[int]:
    """Every id that ends a sequence: the generation config's (may be a list) and the tokenizer's."""
    ids: set[int] = set()
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    ids.update([eos] if isinstance(eos, int) else (eos or []))
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
        if n == 0:
            break
    return n


def length_grouped_batches(lengths: Sequence[int], per_batch: int) -> list[list[int]]:
    """Longest prompts first (memory peaks in the first batch, not after an hour); ties by position."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[k : k + per_batch] for k in range(0, len(order), per_batch)]


class TransformersBackend(Backend):
    name = "transformers"

    def __init__(self, model: str, engine: dict | None = None, threads: int = 1):
        import torch

        self.torch = torch
        self.engine = engine_settings(engine)
        torch.set_num_threads(max(1, int(threads)))
        self.device = torch.device(self.engine.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
        # The pad id only fills masked positions here (w2s.loading's pad-token policy).
        self.model, self.tokenizer = load_for_inference(model, self.engine["dtype"], self.device)
        self.pad_id = self.tokenizer.pad_token_id
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        vocab = self.model.get_output_embeddings().weight.shape[0]
        self.is_eos = torch.zeros(max(vocab, len(self.tokenizer)), dtype=torch.bool)
        self.is_eos[sorted(self.eos_ids)] = True
        self.max_model_len = self.engine["max_model_len"] or getattr(self.model.config, "max_position_embeddings", None)
        self.counters = Counters()
        self._prefix: tuple[tuple[int, ...], object] | None = None
        self._stop_filters: dict[tuple[str, ...], object] = {}

    # ---- planning -------------------------------------------------------------------------
    def prepare(self, prompts, sampling: SamplingConfig, names=None) -> Prepared:
        prompts = list(prompts)
        names = list(names) if names is not None else [f"#{i}" for i in range(len(prompts))]
        token_ids = self.tokenizer(prompts, add_special_tokens=True)["input_ids"] if prompts else []
        for name, ids in zip(names, token_ids, strict=True):
            if not ids:
                raise ValueError(f"request {name}: the prompt is empty after tokenisation; nothing to continue from.")
            if self.max_model_len and len(ids) >= self.max_model_len:
                raise ValueError(
                    f"request {name}: prompt has {len(ids)} tokens, the model's limit is {self.max_model_len} "
                    "(engine.max_model_len or max_position_embeddings); shorten the prompt or use fewer demonstrations."
                )
        prefix = 0
        if self.engine["enable_prefix_caching"] and len(token_ids) >= 2:
            # Leave at least one token per prompt outside the prefix: its logits start decoding.
            prefix = min(common_prefix_len(token_ids), min(len(t) for t in token_ids) - 1)
            if prefix < MIN_SHARED_PREFIX:
                prefix = 0
        per_batch = max(1, self.engine["batch_size"] // sampling.n)
        if self.engine["group_by_length"]:
            batches = length_grouped_batches([len(t) - prefix for t in token_ids], per_batch)
        else:  # request order, for benchmarks of what grouping buys
            batches = [list(range(k, min(k + per_batch, len(token_ids)))) for k in range(0, len(token_ids), per_batch)]
        check_batches(batches, len(prompts))
        return Prepared(prompts=prompts, token_ids=token_ids, batches=batches, prefix_len=prefix)

    # ---- caches ---------------------------------------------------------------------------
    def _new_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _batch_cache(self, prep: Prepared, rows: int):
        """A fresh cache, or a copy of the shared prefix's cache repeated for ``rows`` rows."""
        if not prep.prefix_len:
            return self._new_cache()
        key = tuple(prep.token_ids[0][: prep.prefix_len])
        if self._prefix is None or self._prefix[0] != key:
            torch = self.torch
            cache = self._new_cache()
            with torch.inference_mode():
                self.model(
                    input_ids=torch.tensor([key], device=self.device),
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
            self.counters.prompt_tokens_computed += len(key)
            self._prefix = (key, cache)
        cache = copy.deepcopy(self._prefix[1])
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache

    # ---- stopping -------------------------------------------------------------------------
    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _stop_filter(self, stops: tuple[str, ...]):
        """Tokens after which a stop string can have been completed: the token's text holds the last
        character of a stop string (or is a partial byte). Other rows skip the text check."""
        if stops not in self._stop_filters:
            torch = self.torch
            size = self.is_eos.shape[0]
            if any(s[-1].isspace() for s in stops):
                # Tokenisers may drop a token's leading space when it is decoded alone.
                flt = torch.ones(size, dtype=torch.bool)
            else:
                last_chars = {s[-1] for s in stops}
                known = min(size, len(self.tokenizer))
                texts = self.tokenizer.batch_decode([[i] for i in range(known)], skip_special_tokens=False,
                                                    clean_up_tokenization_spaces=False)
                flt = torch.ones(size, dtype=torch.bool)  # ids the tokenizer does not know: always check
                flt[:known] = torch.tensor([("\ufffd" in t) or any(c in t for c in last_chars) for t in texts])
            self._stop_filters[stops] = flt
        return self._stop_filters[stops]

    def _hit_stop(self, ids: list[int], stops: tuple[str, ...], window: int) -> bool:
        tail = self._decode(ids[-window:])
        if not any(s in tail for s in stops):
            return False
        # Confirm on the whole text: a window can start inside a character.
        text = self._decode(ids)
        return any(s in text for s in stops)

    # ---- decoding -------------------------------------------------------------------------
    def _choose(self, logits, sampling: SamplingConfig, generators: list):
        torch = self.torch
        if sampling.greedy:
            return logits.argmax(-1)
        probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
        order = None
        if sampling.top_p < 1.0:
            probs, order = probs.sort(dim=-1, descending=True, stable=True)
            # Keep the smallest set of most likely tokens whose mass reaches top_p.
            probs = probs.masked_fill(probs.cumsum(-1) - probs >= sampling.top_p, 0.0)
        cdf = probs.double().cumsum(-1)
        # One uniform draw per sequence from its own generator: a sequence's sample never depends on
        # the other rows of its batch, nor on how many rows are still running.
        u = torch.tensor([torch.rand((), dtype=torch.float64, generator=g).item() for g in generators],
                         dtype=torch.float64, device=cdf.device)
        pick = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(-1)
        pick = pick.clamp(max=cdf.shape[-1] - 1)
        return pick if order is None else order.gather(-1, pick[:, None]).squeeze(-1)

    def run_batch(self, prep: Prepared, batch: list[int], sampling: SamplingConfig, seeds: list[int]) -> list[list[Completion]]:
        """Decode one planned batch (the module docstring lists what the loop adds to transformers).

        Long on purpose: every decoding step updates the cache, the live rows, their generators and
        stop state together; split into functions, each step would hand all of them back and forth.
        """
        torch = self.torch
        dev = self.device
        P = prep.prefix_len
        # Greedy samples are all the same sequence: decode one and repeat it.
        n = 1 if sampling.greedy else sampling.n
        ids = [prep.token_ids[i] for i in batch]
        suffixes = [t[P:] for t in ids]
        B, L = len(batch), max(len(s) for s in suffixes)

        # Left padding, placed after the shared prefix: [prefix][pad..][own tokens].
        input_ids = torch.full((B, L), self.pad_id, dtype=torch.long)
        mask = torch.zeros((B, P + L), dtype=torch.long)
        mask[:, :P] = 1
        for b, s in enumerate(suffixes):
            input_ids[b, L - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[b, P + L - len(s) :] = 1
        # Positions count real tokens only, so padding never shifts the rotary positions.
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, P:]
        cache = self._batch_cache(prep, B)
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids.to(dev),
                attention_mask=mask.to(dev),
                position_ids=position_ids.to(dev),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        logits = out.logits[:, -1, :]
        self.counters.prompt_tokens_computed += B * L
        self.counters.prompt_tokens_submitted += sampling.n * sum(len(t) for t in ids)

        next_pos = mask.sum(-1)
        mask = mask.to(dev)
        if n > 1:
            # One prefill per prompt; the n samples share it through repeated cache rows.
            cache.batch_repeat_interleave(n)
            logits = logits.repeat_interleave(n, dim=0)
            mask = mask.repeat_interleave(n, dim=0)
            next_pos = next_pos.repeat_interleave(n, dim=0)
        next_pos = next_pos.to(dev)
        rows = B * n
        limits = []
        for t in ids:
            room = self.max_model_len - len(t) if self.max_model_len else sampling.max_new_tokens
            limits += [min(sampling.max_new_tokens, room)] * n
        gens = None
        if not sampling.greedy:
            gens = [torch.Generator().manual_seed(derive_seed(seeds[b], j)) for b in range(B) for j in range(n)]
        stops = tuple(sampling.stop)
        stop_filter = self._stop_filter(stops) if stops else None
        window = max((len(s) for s in stops), default=0) + 8

        generated: list[list[int]] = [[] for _ in range(rows)]
        reasons: list[str | None] = [None] * rows
        active = list(range(rows))
        with torch.inference_mode():
            while True:
                tokens = self._choose(logits, sampling, [gens[r] for r in active] if gens else [])
                tok_cpu = tokens.cpu()
                tok_list = tok_cpu.tolist()
                eos_hit = self.is_eos[tok_cpu].tolist()
                cand = stop_filter[tok_cpu].tolist() if stop_filter is not None else None
                keep = []
                for k, r in enumerate(active):
                    generated[r].append(tok_list[k])
                    if eos_hit[k]:
                        reasons[r] = "stop"
                    elif cand is not None and cand[k] and self._hit_stop(generated[r], stops, window):
                        reasons[r] = "stop"
                    elif len(generated[r]) >= limits[r]:
                        reasons[r] = "length"
                    else:
                        keep.append(k)
                if not keep:
                    break
                if len(keep) < len(active):
                    # Finished rows leave the batch and the cache: they cost nothing from here on.
                    idx = torch.tensor(keep, device=dev)
                    cache.batch_select_indices(idx)
                    mask, tokens, next_pos = mask[idx], tokens[idx], next_pos[idx]
                    active = [active[k] for k in keep]
                mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
                out = self.model(
                    input_ids=tokens[:, None],
                    attention_mask=mask,
                    position_ids=next_pos[:, None],
                    past_key_values=cache,
                    use_cache=True,
                )
                logits = out.logits[:, -1, :]
                next_pos = next_pos + 1

        results: list[list[Completion]] = []
        for b in range(B):
            comps = []
            for r in range(b * n, (b + 1) * n):
                toks = generated[r]
                self.counters.generated_tokens += len(toks)
                body = toks[:-1] if toks and self.is_eos[toks[-1]] else toks
                text, cut = cut_at_stop(self._decode(body), stops)
                reason = "stop" if cut else reasons[r]
                comps.append(Completion(text=text, finish_reason=reason or "length", num_tokens=len(toks)))
            if len(comps) < sampling.n:
                comps = [Completion(**vars(comps[0])) for _ in range(sampling.n)]
            results.append(comps)
        return results
