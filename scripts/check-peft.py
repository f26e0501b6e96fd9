#!/usr/bin/env python3
"""PEFT LoRA / DoRA adapters written by webtune, applied by an independent implementation.

    npx tsx tests/fixtures/peft/make-adapters.ts     # webtune writes the adapters
    /usr/bin/python3 scripts/check-peft.py           # Debian's python3-torch

For every tests/fixtures/peft/<variant>/ (adapter_model.safetensors + adapter_config.json,
base model named by base_model_name_or_path, one of tests/fixtures/models/*) this reads the
adapter as Hugging Face PEFT defines it, not as webtune does:

  - the modules PEFT would wrap: every Linear / Conv1D whose name ends in one of
    target_modules; each must have base_model.model.<module>.lora_A.weight (r, in) and
    .lora_B.weight (out, r), and nothing else may be in the file;
  - scaling s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora);
  - W' = W + s * B @ A in nn.Linear's (out, in) order; GPT-2's Conv1D stores (in, out) and is
    marked fan_in_fan_out, so W' = W + (s * B @ A).T;
  - DoRA (use_dora): W' = m / ||W + s*B@A||_row * (W + s*B@A) with the norm over each output
    row of the (out, in) weight (peft/tuners/lora/dora.py get_weight_norm, dim=1), m from
    lora_magnitude_vector (out); biases are not rescaled (DoRA's bias handling);

then runs the fixture's own float64 PyTorch forward (scripts/make-fixtures.py) on its golden
ids and writes expected.safetensors (ids, logits, base_logits) beside the adapter.
tests/export/peft-torch.test.ts loads the same base + adapter through webtune's lora import
and compares logits. CI does not need PyTorch: the files are committed.
"""
import importlib.util
import json
import math
import os
import struct

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PEFT = os.path.join(ROOT, "tests", "fixtures", "peft")

spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "scripts", "make-fixtures.py"))
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = bytearray(data[8 + n + b:8 + n + e])
        t = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if e > b else torch.zeros(0, dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def linear_modules(cfg):
    """Names of the modules PEFT's LoRA can wrap, with their (out, in) shape and whether the
    weight is a Conv1D (in, out)."""
    mods = {}
    if cfg["architectures"][0] == "GPT2LMHeadModel":
        C = cfg["n_embd"]
        I = cfg["n_inner"] or 4 * C
        for l in range(cfg["n_layer"]):
            p = f"transformer.h.{l}"
            mods[f"{p}.attn.c_attn"] = (3 * C, C, True)
            mods[f"{p}.attn.c_proj"] = (C, C, True)
            mods[f"{p}.mlp.c_fc"] = (I, C, True)
            mods[f"{p}.mlp.c_proj"] = (C, I, True)
        return mods
    C, I = cfg["hidden_size"], cfg["intermediate_size"]
    Hq, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", C // Hq)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}"
        mods[f"{p}.self_attn.q_proj"] = (Hq * D, C, False)
        mods[f"{p}.self_attn.k_proj"] = (Hkv * D, C, False)
        mods[f"{p}.self_attn.v_proj"] = (Hkv * D, C, False)
        mods[f"{p}.self_attn.o_proj"] = (C, Hq * D, False)
        mods[f"{p}.mlp.gate_proj"] = (I, C, False)
        mods[f"{p}.mlp.up_proj"] = (I, C, False)
        mods[f"{p}.mlp.down_proj"] = (C, I, False)
    return mods


def apply_adapter(mcfg, W, acfg, tensors):
    assert acfg["peft_type"] == "LORA", acfg["peft_type"]
    r, alpha = acfg["r"], acfg["lora_alpha"]
    s = alpha / math.sqrt(r) if acfg.get("use_rslora") else alpha / r
    targets = acfg["target_modules"]
    if targets == "all-linear" or targets == ["all-linear"]:
        targets = sorted({m.rsplit(".", 1)[1] for m in linear_modules(mcfg)})
    wrapped = [m for m in linear_modules(mcfg) if m.rsplit(".", 1)[1] in targets]
    dora = acfg.get("use_dora", False)
    seen = set()
    for m in wrapped:
        out, inp, conv1d = linear_modules(mcfg)[m]
        assert acfg.get("fan_in_fan_out", False) == conv1d, f"{m}: fan_in_fan_out should be {conv1d}"
        key = f"base_model.model.{m}"
        A = tensors[f"{key}.lora_A.weight"].to(torch.float64)
        B = tensors[f"{key}.lora_B.weight"].to(torch.float64)
        assert tuple(A.shape) == (r, inp) and tuple(B.shape) == (out, r), (m, A.shape, B.shape)
        seen.update({f"{key}.lora_A.weight", f"{key}.lora_B.weight"})
        w = W[f"{m}.weight"]
        w_oi = w.T if conv1d else w  # (out, in)
        combined = w_oi + s * (B @ A)
        if dora:
            name = f"{key}.lora_magnitude_vector"
            if name not in tensors:
                name += ".weight"
            mag = tensors[name].to(torch.float64)
            seen.add(name)
            assert tuple(mag.shape) == (out,)
            combined = (mag / torch.linalg.norm(combined, dim=1))[:, None] * combined
        W[f"{m}.weight"] = combined.T if conv1d else combined
    extra = set(tensors) - seen
    assert not extra, f"tensors PEFT would not load: {sorted(extra)[:4]}"
    return W, len(wrapped), s


def main():
    for variant in sorted(os.listdir(PEFT)):
        d = os.path.join(PEFT, variant)
        if not os.path.isdir(d):
            continue
        with open(os.path.join(d, "adapter_config.json")) as f:
            acfg = json.load(f)
        mdir = os.path.join(ROOT, acfg["base_model_name_or_path"])
        with open(os.path.join(mdir, "config.json")) as f:
            mcfg = json.load(f)
        W = {k: v.to(torch.float64) for k, v in read_safetensors(os.path.join(mdir, "model.safetensors")).items()}
        ids = read_safetensors(os.path.join(mdir, "golden.safetensors"))["ids"].to(torch.int64)
        gpt2 = mcfg["architectures"][0] == "GPT2LMHeadModel"
        fwd = mf.gpt2_forward if gpt2 else mf.forward
        with torch.no_grad():
            base = fwd(mcfg, W, ids)
            W2, n, s = apply_adapter(mcfg, dict(W), acfg, read_safetensors(os.path.join(d, "adapter_model.safetensors")))
            logits = fwd(mcfg, W2, ids)
        mf.write_safetensors(os.path.join(d, "expected.safetensors"),
                             [("ids",) + mf.i32(ids), ("logits",) + mf.f32(logits), ("base_logits",) + mf.f32(base)],
                             {"source": "scripts/check-peft.py", "torch": torch.__version__})
        print(f"{variant}: {n} modules, s = {s:.6g}, dora = {acfg.get('use_dora', False)}, "
              f"max |logits - base| = {(logits - base).abs().max().item():.4f}")


if __name__ == "__main__":
    main()
