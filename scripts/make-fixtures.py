#!/usr/bin/env python3
"""Tiny random models in Hugging Face layout, with golden outputs from an independent
PyTorch implementation written here from the architectures' definitions (not from
webtune's kernels, not from transformers).

    /usr/bin/python3 scripts/make-fixtures.py     # Debian's python3-torch

Writes tests/fixtures/models/<variant>/: config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, golden.safetensors (ids, targets, mask, logits, loss, every
weight's gradient as grad.<name>, greedy continuation). Computed in float64, stored as
float32. Deterministic (fixed seeds). CI does not need PyTorch: the files are committed.
"""
import json
import math
import os
import struct

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models")

VARIANTS = {
    # Llama with grouped-query attention and tied embeddings (SmolLM2-like)
    "llama-gqa-tied": dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=32, intermediate_size=48,
                           num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=40,
                           max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
                           bos_token_id=1, eos_token_id=2),
    # Qwen2: q/k/v biases, untied head, explicit head_dim
    "qwen2-bias": dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=24, intermediate_size=40,
                       num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=1, vocab_size=40,
                       max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False,
                       bos_token_id=1, eos_token_id=2),
    # Llama 3.x rope scaling (factor 8, low 1, high 4, original context 16 so every band is hit)
    "llama3-rope": dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=32, intermediate_size=40,
                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, head_dim=16, vocab_size=40,
                        max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=16),
                        bos_token_id=1, eos_token_id=2),
    # GPT-2: LayerNorm, tanh-GELU, learned positions, fused Conv1D c_attn stored (in, out),
    # biases everywhere, tied head; names as save_pretrained writes them ("transformer.").
    "gpt2": dict(architectures=["GPT2LMHeadModel"], model_type="gpt2", n_embd=24, n_head=3, n_layer=2, n_positions=32,
                 n_inner=None, vocab_size=40, layer_norm_epsilon=1e-5, activation_function="gelu_new",
                 bos_token_id=1, eos_token_id=2),
}


def gpt2_shapes(cfg):
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * C
    out = [("transformer.wte.weight", [V, C]), ("transformer.wpe.weight", [P, C])]
    for l in range(cfg["n_layer"]):
        p = f"transformer.h.{l}"
        out += [(f"{p}.ln_1.weight", [C]), (f"{p}.ln_1.bias", [C]),
                (f"{p}.attn.c_attn.weight", [C, 3 * C]), (f"{p}.attn.c_attn.bias", [3 * C]),
                (f"{p}.attn.c_proj.weight", [C, C]), (f"{p}.attn.c_proj.bias", [C]),
                (f"{p}.ln_2.weight", [C]), (f"{p}.ln_2.bias", [C]),
                (f"{p}.mlp.c_fc.weight", [C, I]), (f"{p}.mlp.c_fc.bias", [I]),
                (f"{p}.mlp.c_proj.weight", [I, C]), (f"{p}.mlp.c_proj.bias", [C])]
    out += [("transformer.ln_f.weight", [C]), ("transformer.ln_f.bias", [C])]
    return out


def gpt2_forward(cfg, W, ids):
    B, T = ids.shape
    C, H = cfg["n_embd"], cfg["n_head"]
    D, eps = C // H, cfg["layer_norm_epsilon"]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (C,), W[f"{name}.weight"], W[f"{name}.bias"], eps)

    def gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = W["transformer.wte.weight"][ids] + W["transformer.wpe.weight"][torch.arange(T)][None]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        p = f"transformer.h.{l}"
        qkv = ln(x, f"{p}.ln_1") @ W[f"{p}.attn.c_attn.weight"] + W[f"{p}.attn.c_attn.bias"]
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in qkv.split(C, dim=-1))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        o = (s.masked_fill(~causal, float("-inf")).softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + o @ W[f"{p}.attn.c_proj.weight"] + W[f"{p}.attn.c_proj.bias"]
        h = gelu_new(ln(x, f"{p}.ln_2") @ W[f"{p}.mlp.c_fc.weight"] + W[f"{p}.mlp.c_fc.bias"])
        x = x + h @ W[f"{p}.mlp.c_proj.weight"] + W[f"{p}.mlp.c_proj.bias"]
    return ln(x, "transformer.ln_f") @ W["transformer.wte.weight"].T


def inv_freq(cfg, dim):
    f = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        factor, lo, hi, ctx = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / f
        out = []
        for fr, wl in zip(f.tolist(), wavelen.tolist()):
            if wl < ctx / hi:
                out.append(fr)
            elif wl > ctx / lo:
                out.append(fr / factor)
            else:
                s = (ctx / wl - lo) / (hi - lo)
                out.append((1 - s) * fr / factor + s * fr)
        f = torch.tensor(out, dtype=torch.float64)
    return f


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(cfg, W, ids):
    B, T = ids.shape
    C = cfg["hidden_size"]
    Hq, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", C // Hq)
    eps = cfg["rms_norm_eps"]
    qwen = cfg["architectures"][0] == "Qwen2ForCausalLM"
    x = W["model.embed_tokens.weight"][ids]
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq(cfg, D)[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)

        def proj(name, inp):
            y = inp @ W[f"{p}.{name}.weight"].T
            if qwen and name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                y = y + W[f"{p}.{name}.bias"]
            return y

        q = proj("self_attn.q_proj", h).view(B, T, Hq, D).transpose(1, 2)
        k = proj("self_attn.k_proj", h).view(B, T, Hkv, D).transpose(1, 2)
        v = proj("self_attn.v_proj", h).view(B, T, Hkv, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(Hq // Hkv, dim=1)
        v = v.repeat_interleave(Hq // Hkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, Hq * D)
        x = x + o @ W[f"{p}.self_attn.o_proj.weight"].T
        h = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        g = h @ W[f"{p}.mlp.gate_proj.weight"].T
        u = h @ W[f"{p}.mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[f"{p}.mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def shapes(cfg):
    C, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    Hq, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", C // Hq)
    qwen = cfg["architectures"][0] == "Qwen2ForCausalLM"
    out = [("model.embed_tokens.weight", [V, C])]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}"
        out += [(f"{p}.input_layernorm.weight", [C]), (f"{p}.self_attn.q_proj.weight", [Hq * D, C]),
                (f"{p}.self_attn.k_proj.weight", [Hkv * D, C]), (f"{p}.self_attn.v_proj.weight", [Hkv * D, C])]
        if qwen:
            out += [(f"{p}.self_attn.q_proj.bias", [Hq * D]), (f"{p}.self_attn.k_proj.bias", [Hkv * D]),
                    (f"{p}.self_attn.v_proj.bias", [Hkv * D])]
        out += [(f"{p}.self_attn.o_proj.weight", [C, Hq * D]), (f"{p}.post_attention_layernorm.weight", [C]),
                (f"{p}.mlp.gate_proj.weight", [I, C]), (f"{p}.mlp.up_proj.weight", [I, C]), (f"{p}.mlp.down_proj.weight", [C, I])]
    out.append(("model.norm.weight", [C]))
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", [V, C]))
    return out


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype string, shape, bytes). Header padded with spaces to 8."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32(t):
    return ("F32", list(t.shape), t.detach().to(torch.float32).contiguous().numpy().tobytes())


def i32(t):
    return ("I32", list(t.shape), t.to(torch.int32).contiguous().numpy().tobytes())


def tokenizer_files(V):
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(3, V):
        vocab[f"w{i}"] = i
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for c, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]],
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None,
        "decoder": None, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "model_max_length": 64}
    return tok, cfg


def make(name, cfg, seed):
    torch.manual_seed(seed)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    gpt2 = cfg["architectures"][0] == "GPT2LMHeadModel"
    shapes_of = gpt2_shapes if gpt2 else shapes
    fwd = gpt2_forward if gpt2 else forward
    W = {}
    for n, shape in shapes_of(cfg):
        if n.endswith("norm.weight") or (gpt2 and ".ln_" in n and n.endswith(".weight")):
            W[n] = (1.0 + 0.1 * torch.randn(shape, dtype=torch.float64))
        else:
            W[n] = 0.3 * torch.randn(shape, dtype=torch.float64)
        W[n] = W[n].to(torch.float32).to(torch.float64)  # the stored f32 values are the model
        W[n].requires_grad_(True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), [(n,) + f32(W[n]) for n, _ in shapes_of(cfg)], {"format": "pt"})
    tok, tcfg = tokenizer_files(cfg["vocab_size"])
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tcfg, f, indent=2)

    B, T, V = 2, 7, cfg["vocab_size"]
    # (T = 7 + 8 greedy tokens stays within every variant's positions)
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(3, V, (B, T), generator=g)
    targets = torch.randint(3, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.int64)
    mask[:, :2] = 0  # the first two positions are "prompt": no loss
    logits = fwd(cfg, W, ids)
    lp = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
    loss = -(lp * mask).sum() / mask.sum()
    loss.backward()
    # Greedy continuation of [BOS, 5, 9] for 8 tokens (no EOS stop: compare all 8).
    seq = [1, 5, 9]
    with torch.no_grad():
        for _ in range(8):
            seq.append(int(fwd(cfg, W, torch.tensor([seq]))[0, -1].argmax()))
    golden = [("ids",) + i32(ids), ("targets",) + i32(targets), ("mask",) + i32(mask), ("logits",) + f32(logits),
              ("loss",) + f32(loss.reshape(1)), ("greedy",) + i32(torch.tensor(seq))]
    golden += [(f"grad.{n}",) + f32(W[n].grad) for n, _ in shapes_of(cfg)]
    write_safetensors(os.path.join(d, "golden.safetensors"), golden, {"source": "scripts/make-fixtures.py", "torch": torch.__version__})
    print(f"{name}: loss {loss.item():.6f}, greedy {seq[3:]}")


if __name__ == "__main__":
    for i, (name, cfg) in enumerate(VARIANTS.items()):
        make(name, cfg, 1000 + i)
