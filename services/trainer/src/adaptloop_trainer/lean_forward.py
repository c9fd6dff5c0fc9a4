"""The training step's forward for Llama models with LoRA, in fewer and larger operations.

The same computation as transformers' Llama modules with peft's LoRA layers, on the same parameters
(loss and LoRA gradients equal up to float rounding; tests/unit/trainer checks it):

- the frozen q/k/v projections are one matrix product, as are gate/up: the base layers' weights are
  re-pointed at rows of one concatenated matrix per group, so no memory is duplicated;
- a group's LoRA is two products: `x @ [A_q; A_k; A_v]^T`, then by the block-diagonal of the B
  matrices, added with the scale by `addmm`; the output and down projections add the residual in the
  same `addmm` as their base product;
- RMSNorm and the rotary embedding as autograd functions with their backward written out (fewer
  passes over the activations than the chain of small operations autograd would record); the rotary
  tables are computed once per run (by the model's own rotary module) and indexed by position;
- attention within each packed example (as `training_loop.segment_attention`), in a head-major layout
  so that each head's examples are one batch of products without copies: two batched products and a
  softmax for short examples (on the CPU cheaper than SDPA's fused kernel, whose backward dominated),
  SDPA beyond `MATMUL_ATTENTION_WIDTH` positions;
- the cross-entropy's backward in place on its saved log-softmax;
- in the last layer, keys and values of every position, but its output projection, MLP and the final
  norm only at the positions that predict an answer token: nothing else reaches the loss.

`LeanForward.of(model)` is None for any model or adapter this does not cover (another architecture,
LoRA dropout or variants, biases, dynamic rotary scaling, LoRA outside these projections); the loop
then runs transformers' and peft's own modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("self_attn", ("q_proj", "k_proj", "v_proj")), ("self_attn", ("o_proj",)),
    ("mlp", ("gate_proj", "up_proj")), ("mlp", ("down_proj",)),
)
"""Projections that read the same input, each group computed as one product."""
MATMUL_ATTENTION_WIDTH = 256
"""Up to this many positions per example, attention is two batched products and a softmax (on the CPU
cheaper for short examples than SDPA's fused kernel, whose backward dominated); beyond it, SDPA."""


@dataclass(frozen=True)
class _Projection:
    """One group of projections: a frozen base matrix and the LoRA matrices of its members."""

    weight: Any
    lora_a: tuple[Any, ...]
    lora_b: tuple[Any, ...]
    """Per member, in order: its B matrix, or an empty `[out, 0]` block for a member without LoRA."""
    scale: float

    def __call__(self, x: Any, residual: Any = None) -> Any:
        import torch

        out = x @ self.weight.t() if residual is None else torch.addmm(residual, x, self.weight.t())
        if not self.lora_a:
            return out
        a_matrix = self.lora_a[0] if len(self.lora_a) == 1 else torch.cat(self.lora_a)
        b_matrix = self.lora_b[0] if len(self.lora_b) == 1 else torch.block_diag(*self.lora_b)
        return torch.addmm(out, x @ a_matrix.t(), b_matrix.t(), alpha=self.scale)


@dataclass(frozen=True)
class _Layer:
    input_norm: Any
    post_norm: Any
    qkv: _Projection
    o: _Projection
    gate_up: _Projection
    down: _Projection
    act: Any


def _lora_parts(module: Any) -> tuple[Any, Any, Any, float] | bool:
    """(base weight, A, B, scale) of a plain peft LoRA linear; (weight, None, None, 1.0) of a plain
    linear; False when the module is anything else (a LoRA variant, dropout, biases, merged...)."""
    import torch
    from peft.tuners.lora.layer import Linear as LoraLinear

    if isinstance(module, LoraLinear):
        if (list(module.lora_A) != ["default"] or module.active_adapters != ["default"] or module.merged
                or module.disable_adapters or module.lora_variant or module.lora_bias.get("default")
                or module.fan_in_fan_out or not isinstance(module.lora_dropout["default"], torch.nn.Identity)
                or type(module.base_layer) is not torch.nn.Linear or module.base_layer.bias is not None
                or module.lora_A["default"].bias is not None or module.lora_B["default"].bias is not None):
            return False
        return (module.base_layer.weight, module.lora_A["default"].weight, module.lora_B["default"].weight,
                float(module.scaling["default"]))
    if type(module) is torch.nn.Linear and module.bias is None:
        return module.weight, None, None, 1.0
    return False


def _projection(parent: Any, names: tuple[str, ...]) -> _Projection | None:
    import torch

    parts = [_lora_parts(getattr(parent, name, None)) for name in names]
    if any(p is False for p in parts):
        return None
    weights = [p[0] for p in parts]  # type: ignore[index]
    scales = {p[3] for p in parts if p[1] is not None}  # type: ignore[index]
    if len(scales) > 1 or any(w.requires_grad for w in weights):
        return None
    if len(weights) == 1:
        weight = weights[0].detach()
    else:  # one matrix; the modules' own weights become views of its rows (same values, no copy kept)
        weight = torch.cat([w.detach() for w in weights])
        row = 0
        for w in weights:
            w.data = weight[row:row + w.shape[0]]
            row += w.shape[0]
    lora_a = tuple(p[1] for p in parts if p[1] is not None)  # type: ignore[index]
    lora_b = tuple(p[2] if p[1] is not None else w.new_zeros(w.shape[0], 0)  # type: ignore[index]
                   for p, w in zip(parts, weights, strict=True))
    return _Projection(weight, lora_a, lora_b if lora_a else (), scales.pop() if scales else 1.0)


def _norm(module: Any) -> tuple[Any, float] | None:
    eps = getattr(module, "variance_epsilon", None)
    weight = getattr(module, "weight", None)
    if type(module).__name__ != "LlamaRMSNorm" or eps is None or weight is None or weight.requires_grad:
        return None
    return weight, float(eps)


@dataclass(frozen=True)
class LeanForward:
    """The answer-only loss of a flattened step of packed examples, computed as described above."""

    embed: Any
    layers: tuple[_Layer, ...]
    final_norm: Any
    head: Any
    cos: Any
    """Rotary tables `[positions, head_dim]` (sin with its first half negated, for the rotation by roll)."""
    sin: Any
    sin_back: Any
    """`sin` rolled by half a head: the rotation's backward."""
    heads: int
    kv_heads: int
    head_dim: int
    scaling: float

    @classmethod
    def of(cls, model: Any, max_positions: int) -> LeanForward | None:
        """The lean forward of a peft LoRA model of a Llama, or None when it does not cover the model."""
        import torch

        causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
        config, body = causal_lm.config, getattr(causal_lm, "model", None)
        head = causal_lm.get_output_embeddings()
        rotary = getattr(body, "rotary_emb", None)
        if (getattr(config, "model_type", None) != "llama" or body is None or rotary is None
                or type(head) is not torch.nn.Linear or head.bias is not None or head.weight.requires_grad
                or getattr(config, "attention_dropout", 0.0) or getattr(config, "pretraining_tp", 1) != 1
                or "dynamic" in str(rotary.rope_type) or rotary.rope_type == "longrope"
                or body.embed_tokens.weight.requires_grad or len(body.layers) != config.num_hidden_layers):
            return None
        layers = []
        covered = 0
        for layer in body.layers:
            attn, mlp = layer.self_attn, layer.mlp
            projections = [_projection(getattr(layer, parent), names) for parent, names in GROUPS]
            norms = (_norm(layer.input_layernorm), _norm(layer.post_attention_layernorm))
            if any(p is None for p in projections) or any(n is None for n in norms) or attn.scaling is None:
                return None
            covered += sum(len(p.lora_a) for p in projections if p is not None)
            layers.append(_Layer(norms[0], norms[1], *projections, act=mlp.act_fn))  # type: ignore[misc]
        from peft.tuners.lora.layer import LoraLayer

        if covered != sum(1 for m in model.modules() if isinstance(m, LoraLayer)):
            return None  # LoRA somewhere these groups do not compute
        final_norm = _norm(body.norm)
        if final_norm is None:
            return None
        attn = body.layers[0].self_attn
        heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
        with torch.no_grad():
            positions = torch.arange(max_positions, device=head.weight.device)[None]
            cos, sin = rotary(body.embed_tokens.weight, positions)
        half = attn.head_dim // 2
        sin = torch.cat((-sin[0, :, :half], sin[0, :, half:]), dim=-1)
        return cls(body.embed_tokens.weight, tuple(layers), final_norm, head.weight, cos[0].contiguous(),
                   sin.contiguous(), sin.roll(half, dims=-1).contiguous(), heads, kv_heads, attn.head_dim,
                   float(attn.scaling))

    def loss(self, ids: Any, positions: Any, labels: Any, segments: Any, ignore: int) -> Any:
        """Mean cross-entropy over answer tokens of one `[tokens]` sequence of examples back to back.

        `segments` (`training_loop.segments_of(positions)`) lays the examples side by side for attention.
        """
        import torch

        targets = labels[1:]
        answer = targets.ne(ignore).nonzero().squeeze(1)  # positions that predict an answer token
        gather, scatter, width = segments.gather, segments.scatter, segments.width
        laid_positions = positions.index_select(0, gather)
        rotary = (self.cos.index_select(0, laid_positions), self.sin.index_select(0, laid_positions),
                  self.sin_back.index_select(0, laid_positions))
        mask = (torch.full((width, width), float("-inf"), dtype=self.cos.dtype, device=self.cos.device).triu_(1)
                if width <= MATMUL_ATTENTION_WIDTH else None)
        hidden = torch.nn.functional.embedding(ids, self.embed)
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            # The last layer continues only at the positions that predict an answer token.
            rows = scatter if index < last else scatter.index_select(0, answer)
            attended = self._attention(layer, hidden, gather, rows, segments.count, width, rotary, mask)
            residual = hidden if index < last else hidden.index_select(0, answer)
            hidden = layer.o(attended, residual=residual)
            gate_up = layer.gate_up(rms_norm(hidden, *layer.post_norm))
            gate, up = gate_up.chunk(2, dim=-1)
            hidden = layer.down(layer.act(gate) * up, residual=hidden)
        hidden = rms_norm(hidden, *self.final_norm)
        return answer_cross_entropy(hidden @ self.head.t(), targets.index_select(0, answer))

    def _attention(self, layer: _Layer, hidden: Any, gather: Any, rows: Any, count: int, width: int,
                   rotary: tuple[Any, Any, Any], mask: Any) -> Any:
        """Causal attention within each example; the output at `rows` of the laid-out examples,
        `[rows, heads * head_dim]`.

        Head-major layout: `[heads, examples * width, head_dim]`, so each head's examples are a batch of
        the batched products without copies.
        """
        import torch
        import torch.nn.functional as F

        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        qkv = layer.qkv(rms_norm(hidden, *layer.input_norm))
        laid = qkv.view(qkv.shape[0], heads + 2 * kv_heads, dim).transpose(0, 1).index_select(1, gather)
        qk, v = laid.split([heads + kv_heads, kv_heads])
        q, k = rotate(qk, *rotary).split([heads, kv_heads])

        def by_example(x: Any) -> Any:  # [n, examples * width, dim] -> [heads * examples, width, dim]
            x = x.view(x.shape[0], count, width, dim)
            x = x if x.shape[0] == heads else x.repeat_interleave(heads // x.shape[0], dim=0)
            return x.view(heads * count, width, dim)

        q, k, v = by_example(q), by_example(k), by_example(v)
        if mask is not None:
            scores = torch.baddbmm(mask, q, k.transpose(1, 2), alpha=self.scaling)
            out = torch.bmm(scores.softmax(-1), v)
        else:
            def batch_first(x: Any) -> Any:
                return x.view(heads, count, width, dim).transpose(0, 1)

            out = F.scaled_dot_product_attention(batch_first(q), batch_first(k), batch_first(v), is_causal=True,
                                                 scale=self.scaling).transpose(0, 1)
        out = out.reshape(heads, count * width, dim).transpose(0, 1)
        return out.index_select(0, rows).view(rows.shape[0], heads * dim)

def answer_cross_entropy(logits: Any, targets: Any) -> Any:
    """`F.cross_entropy(logits, targets)` (mean over rows), its backward in place on the saved log-softmax:
    the gradient `(softmax - one_hot) / rows` in two passes instead of a zeroed one-hot, a scatter and
    the log-softmax backward."""
    return _cross_entropy_class().apply(logits, targets)


@cache
def _cross_entropy_class() -> Any:
    import torch

    class CrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, logits: Any, targets: Any) -> Any:
            log_probs = torch.log_softmax(logits, dim=-1)
            ctx.save_for_backward(log_probs, targets)
            return -log_probs.gather(1, targets[:, None]).mean()

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
            log_probs, targets = ctx.saved_tensors
            probs = log_probs.exp_()
            probs.scatter_add_(1, targets[:, None], probs.new_full((targets.shape[0], 1), -1.0))
            return probs.mul_(grad / targets.shape[0]), None

    return CrossEntropy



def rms_norm(x: Any, weight: Any, eps: float) -> Any:
    """Llama's RMSNorm with a frozen weight over the last dimension; its backward as one formula."""
    return _function_classes()[0].apply(x, weight, eps)


def rotate(x: Any, cos: Any, sin: Any, sin_back: Any) -> Any:
    """Rotary embedding of `x` (`[..., positions, head_dim]`): `x * cos + rotate_half(x) * sin` with `sin`'s
    first half negated (`rotate_half` is a roll by half the head then), its backward in two passes."""
    return _function_classes()[1].apply(x, cos, sin, sin_back)


@cache
def _function_classes() -> tuple[Any, Any]:
    import torch

    class RMSNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, eps: float) -> Any:
            rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
            ctx.save_for_backward(x, weight, rstd)
            return weight * (x * rstd)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx: Any, grad: Any) -> tuple[Any, None, None]:
            x, weight, rstd = ctx.saved_tensors
            grad_normed = grad * weight
            # d/dx of x * rstd: rstd * g - x * rstd^3 * mean(g * x)
            coef = (grad_normed * x).sum(-1, keepdim=True).mul_(rstd.pow(3)).div_(-x.shape[-1])
            return grad_normed.mul_(rstd).addcmul_(x, coef), None, None

    class Rotate(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, cos: Any, sin: Any, sin_back: Any) -> Any:
            ctx.save_for_backward(cos, sin_back)
            return (x * cos).addcmul_(x.roll(x.shape[-1] // 2, dims=-1), sin)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx: Any, grad: Any) -> tuple[Any, None, None, None]:
            cos, sin_back = ctx.saved_tensors
            return (grad * cos).addcmul_(grad.roll(grad.shape[-1] // 2, dims=-1), sin_back), None, None, None

    return RMSNorm, Rotate
