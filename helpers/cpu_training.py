"""CPU training speed-ups, kept apart from the method (:mod:`helpers.train` uses them through
:func:`helpers.train.build_trainer`; each leaves what a step computes unchanged — ``tests/test_train.py``):

* :func:`use_compact_lm_head` — the LM head applied to the loss positions only (TRL's chunked "fused" head
  scores every position on devices without Triton);
* :func:`padding_free_supported` / :func:`register_per_sequence_attention` — padding-free batches (a step's
  sequences in one row) with attention kept within each sequence (:func:`_per_sequence_attention`);
* :func:`training_attn_implementation` / :func:`train_with_attention` — the attention kernel to train with
  (eager for bf16 on CPU), switched back when training ends.
"""
from __future__ import annotations

from typing import Any

_UNSUPPORTED_HEAD_SCALES = ("logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def use_compact_lm_head(model: Any) -> bool:
    """Make ``model(..., labels=…, fused_lm_head=True)`` — the call TRL's ``SFTTrainer`` trains with —
    project only the positions that carry loss through the LM head. Returns whether it was installed.

    TRL patches the forward with a chunked "fused" LM head; on devices without Triton (CPUs) that head
    scores *every* position (the prompt's too) in vocabulary tiles with a recomputing backward: on
    SmolLM2-135M it made a training step ~1.5x slower than the plain forward+backward. Here the
    backbone's hidden states at the completion positions go through the LM head once, as TRL's
    Triton path does on GPUs. Same outputs (per-token log-probs, entropy and top-1 hits for TRL's
    logs, the label mask), so TRL's loss, token counts and metrics are unchanged. Models whose logits
    are rescaled (``logit_scale`` & co.) or MoE models keep TRL's head; ``final_logit_softcapping``
    (Gemma 2) is applied."""
    import functools
    import types

    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    text_config = model.config.get_text_config()
    if any(getattr(text_config, a, None) is not None for a in _UNSUPPORTED_HEAD_SCALES) or \
            getattr(text_config, "output_router_logits", False):
        return False
    softcap = getattr(text_config, "final_logit_softcapping", None)
    fused_forward = model.forward                  # TRL's patched forward (bound); handles the other cases

    @functools.wraps(type(model).forward)
    def _compact_forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None,
                         num_items_in_batch=None, **kwargs):
        if not fused_lm_head or (labels is None and shift_labels is None):
            return fused_forward(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                                 num_items_in_batch=num_items_in_batch, **kwargs)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state
        if shift_labels is None:
            hidden, labels = hidden[:, :-1], labels[:, 1:]
        else:
            labels = shift_labels
        mask = labels != -100
        target = labels[mask]
        logits = self.get_output_embeddings()(hidden[mask]).float()     # (n loss tokens, vocab)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        logp = torch.log_softmax(logits, dim=-1)
        token_logp = logp.gather(1, target[:, None]).squeeze(1)
        with torch.no_grad():
            entropy = -(logp.exp() * logp).sum(-1)
            is_top1 = logits.argmax(-1) == target

        def _full(x):                               # back to (batch, seq), zeros where no loss
            return x.new_zeros(mask.shape).masked_scatter(mask, x)

        loss = -token_logp.sum() / (mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch)
        return FusedCausalLMOutput(loss=loss, log_probs=_full(token_logp), entropy=_full(entropy),
                                   is_top1=_full(is_top1), label_mask=mask)

    _compact_forward.compact_lm_head = True
    model.forward = types.MethodType(_compact_forward, model)
    return True


def training_attn_implementation(model: Any, bf16: bool) -> str:
    """The attention kernel to train with: ``eager`` for bf16 on CPU (torch's CPU flash-attention backward
    in bf16 was ~1.3x slower per step than eager attention on SmolLM2-135M; in fp32 the two are equal),
    the model's own otherwise."""
    import torch
    current = getattr(model.config, "_attn_implementation", None) or "eager"
    if bf16 and not torch.cuda.is_available() and current == "sdpa":
        return "eager"
    return current


VARLEN_ATTENTION = "cotlab_per_sequence"
_VARLEN_MODEL_TYPES = ("llama", "qwen2", "qwen3", "mistral", "gemma3_text")


def _per_sequence_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention for padding-free batches: the batch is one row of packed sequences and each attends,
    causally, to itself only — one small attention per sequence (boundaries ``cu_seq_lens_q`` from TRL's
    padding-free collator), not one (N×N) block-diagonal mask over the whole pack, which made packing
    *slower* than padding at these lengths. fp32: ``scaled_dot_product_attention(is_causal=True)``; bf16:
    eager math (softmax in fp32), as :func:`training_attn_implementation`. Without ``cu_seq_lens_q``
    (decoding during training) it is the eager attention with the eager mask."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import repeat_kv
    from transformers.models.llama.modeling_llama import eager_attention_forward

    cu = kwargs.get("cu_seq_lens_q")
    if cu is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return eager_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                       dropout=dropout, **kwargs)
    # under bf16 autocast the rotated queries are still fp32 (RoPE's fp32 cos/sin): ask autocast, not the dtype
    low = query.dtype != torch.float32 or torch.is_autocast_enabled(query.device.type)
    if low and query.dtype == torch.float32:
        dt = torch.get_autocast_dtype(query.device.type)
        query, key, value = query.to(dt), key.to(dt), value.to(dt)
    n_rep = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    bounds = cu.tolist()
    lengths = [e - s for s, e in zip(bounds[:-1], bounds[1:])]
    outs = []
    # split, not slices: the backward of a split is one concatenation
    for q, k, v in zip(query.split(lengths, 2), key.split(lengths, 2), value.split(lengths, 2)):
        if not low:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout if module.training else 0.0,
                                               is_causal=True, scale=scaling)
        else:
            n = q.shape[2]
            w = torch.matmul(q, k.transpose(2, 3)) * scaling
            w = w.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
            w = F.dropout(torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype), p=dropout,
                          training=module.training)
            o = torch.matmul(w, v)
        outs.append(o)
    return torch.cat(outs, dim=2).transpose(1, 2).contiguous(), None


def register_per_sequence_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask
    AttentionInterface.register(VARLEN_ATTENTION, _per_sequence_attention)
    AttentionMaskInterface.register(VARLEN_ATTENTION, eager_mask)


def padding_free_supported(model: Any, max_seq_len: int) -> bool:
    """Whether ``model`` trains padding-free on CPU: a decoder whose attention is plain causal softmax
    attention over RoPE positions (llama, qwen2/3, mistral, gemma3 text), no attention-logit
    soft-capping, any sliding window at least ``max_seq_len`` long."""
    import torch
    if torch.cuda.is_available():
        return False
    cfg = model.config.get_text_config()
    window = getattr(cfg, "sliding_window", None)
    return (cfg.model_type in _VARLEN_MODEL_TYPES and not getattr(cfg, "attn_logit_softcapping", None)
            and (window is None or window >= max_seq_len))


def train_with_attention(trainer: Any, impl: str) -> None:
    """Switch the model to attention kernel ``impl`` for training; switch back when training ends (so
    decoding and the saved checkpoint keep the model's own kernel)."""
    from transformers import TrainerCallback

    base = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    own = getattr(base.config, "_attn_implementation", None)
    if own is None or own == impl:
        return

    class _AttentionKernel(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            base.set_attn_implementation(impl)

        def on_train_end(self, args, state, control, **kw):
            base.set_attn_implementation(own)

    trainer.add_callback(_AttentionKernel())
