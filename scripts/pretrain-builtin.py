#!/usr/bin/env python3
"""Pretrain webtune's built-in model: a small Llama on the King James Bible.

    apt-get install bible-kjv python3-torch      # Debian packages; the KJV text is public domain
    /usr/bin/python3 scripts/pretrain-builtin.py  # ~15 min on 2 CPU cores

Writes public/models/tiny-kjv/ in Hugging Face layout (config.json, generation_config.json,
model.safetensors, tokenizer.json, tokenizer_config.json) and CARD.md with the data, the
sizes, the command and the losses. Deterministic for a given torch build (fixed seeds,
2 threads). The text comes from Debian's bible-kjv-text package through its `bible`
program; the tokenizer is a byte-fallback BPE trained here (the layout Llama/SentencePiece
tokenizers use in tokenizer.json).
"""
import collections
import json
import math
import os
import re
import struct
import subprocess
import time

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "public", "models", "tiny-kjv")
VOCAB = 512
CFG = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=96, intermediate_size=256,
           num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
           max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True,
           bos_token_id=1, eos_token_id=2, hidden_act="silu", torch_dtype="float32")
STEPS, BATCH, SEQ, LR, WARMUP = 800, 8, 128, 4e-3, 50
SP = "\u2581"  # SentencePiece's word-start marker


def kjv_text():
    raw = subprocess.run(["bible", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    chapters, cur = [], []
    for line in raw.split("\n"):
        if re.match(r"^\S.* \d+$", line) and not line.startswith(" "):  # "Genesis 1": a chapter heading
            if cur:
                chapters.append(" ".join(cur))
            cur = []
            continue
        line = re.sub(r"^\s+\d+\s+", "", line).strip()  # verse numbers
        if line:
            cur.append(line)
    if cur:
        chapters.append(" ".join(cur))
    return [re.sub(r"\s+", " ", c) for c in chapters]


def train_bpe(docs):
    units = collections.Counter()
    for d in docs:
        for w in d.split(" "):
            units[SP + w] += 1
    chars = collections.Counter()
    for u, n in units.items():
        for ch in u:
            chars[ch] += n
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for ch, _ in chars.most_common():
        if len(vocab) >= VOCAB - 200:
            break
        vocab[ch] = len(vocab)
    words = {u: [c if c in vocab else None for c in u] for u in units}
    words = {u: s for u, s in words.items() if None not in s}
    merges = []
    while len(vocab) < VOCAB:
        pairs = collections.Counter()
        for u, s in words.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += units[u]
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
        for u, s in words.items():
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            words[u] = out
    return vocab, merges


def encoder(vocab, merges):
    rank = {tuple(m.split(" ")): i for i, m in enumerate(merges)}
    cache = {}

    def unit(u):
        if u in cache:
            return cache[u]
        s = list(u)
        while len(s) > 1:
            best = min(((rank.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(s, s[1:]))))
            if best[0] == 1 << 30:
                break
            i = best[1]
            s[i:i + 2] = [s[i] + s[i + 1]]
        ids = []
        for t in s:
            if t in vocab:
                ids.append(vocab[t])
            else:
                ids.extend(vocab[f"<0x{b:02X}>"] for b in t.encode("utf-8"))
        cache[u] = ids
        return ids

    def encode(text):
        ids = [1]
        for w in text.split(" "):
            ids.extend(unit(SP + w))
        return ids

    return encode


def tokenizer_json(vocab, merges):
    special = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
               for c, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SP},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": SP}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": SP}, "content": " "}, {"type": "ByteFallback"},
                                                     {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False, "vocab": vocab, "merges": merges},
    }


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        C, I, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
        self.Hq, self.Hkv, self.D = c["num_attention_heads"], c["num_key_value_heads"], C // c["num_attention_heads"]
        self.embed = torch.nn.Parameter(torch.randn(c["vocab_size"], C) * 0.02)
        P = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.n1, m.n2 = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.ones(C))
            m.q, m.k, m.v = P(self.Hq * self.D, C), P(self.Hkv * self.D, C), P(self.Hkv * self.D, C)
            m.o = torch.nn.Parameter(torch.randn(C, self.Hq * self.D) * 0.02 / math.sqrt(2 * L))
            m.g, m.u = P(I, C), P(I, C)
            m.d = torch.nn.Parameter(torch.randn(C, I) * 0.02 / math.sqrt(2 * L))
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(C))
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.D, 2).float() / self.D))
        self.register_buffer("inv", inv, persistent=False)
        self.eps = c["rms_norm_eps"]

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def forward(self, ids):
        B, T = ids.shape
        x = self.embed[ids]
        ang = torch.arange(T, device=ids.device).float()[:, None] * self.inv[None]
        cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
        rot = lambda t: torch.cat([-t[..., self.D // 2:], t[..., : self.D // 2]], -1)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for m in self.layers:
            h = self.rms(x, m.n1)
            q = (h @ m.q.T).view(B, T, self.Hq, self.D).transpose(1, 2)
            k = (h @ m.k.T).view(B, T, self.Hkv, self.D).transpose(1, 2)
            v = (h @ m.v.T).view(B, T, self.Hkv, self.D).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k, v = k.repeat_interleave(self.Hq // self.Hkv, 1), v.repeat_interleave(self.Hq // self.Hkv, 1)
            a = ((q @ k.transpose(-1, -2)) / math.sqrt(self.D) + mask).softmax(-1) @ v
            x = x + a.transpose(1, 2).reshape(B, T, -1) @ m.o.T
            h = self.rms(x, m.n2)
            x = x + (F.silu(h @ m.g.T) * (h @ m.u.T)) @ m.d.T
        return self.rms(x, self.norm) @ self.embed.T

    def hf_state(self):
        s = {"model.embed_tokens.weight": self.embed, "model.norm.weight": self.norm}
        for i, m in enumerate(self.layers):
            p = f"model.layers.{i}"
            s.update({f"{p}.input_layernorm.weight": m.n1, f"{p}.post_attention_layernorm.weight": m.n2,
                      f"{p}.self_attn.q_proj.weight": m.q, f"{p}.self_attn.k_proj.weight": m.k, f"{p}.self_attn.v_proj.weight": m.v,
                      f"{p}.self_attn.o_proj.weight": m.o, f"{p}.mlp.gate_proj.weight": m.g, f"{p}.mlp.up_proj.weight": m.u,
                      f"{p}.mlp.down_proj.weight": m.d})
        return s


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    docs = kjv_text()
    vocab, merges = train_bpe(docs)
    encode = encoder(vocab, merges)
    ids = torch.tensor([i for d in docs for i in encode(d) + [2]], dtype=torch.long)
    split = int(len(ids) * 0.97)
    train, val = ids[:split], ids[split:]
    print(f"{len(docs)} chapters, {sum(len(d) for d in docs)} characters, {len(ids)} tokens, vocab {len(vocab)}, {len(merges)} merges")
    model = Llama(CFG)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(1)

    def batch(src, n):
        at = torch.randint(0, len(src) - SEQ - 1, (n,), generator=g)
        x = torch.stack([src[i:i + SEQ + 1] for i in at.tolist()])
        return x[:, :-1], x[:, 1:]

    @torch.no_grad()
    def val_loss():
        vg = torch.Generator().manual_seed(7)
        losses = []
        for _ in range(8):
            at = torch.randint(0, len(val) - SEQ - 1, (16,), generator=vg)
            x = torch.stack([val[i:i + SEQ + 1] for i in at.tolist()])
            losses.append(F.cross_entropy(model(x[:, :-1]).reshape(-1, VOCAB), x[:, 1:].reshape(-1)).item())
        return sum(losses) / len(losses)

    log = []
    for step in range(1, STEPS + 1):
        lr = LR * min(1.0, step / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / STEPS)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        x, y = batch(train, BATCH)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == 1:
            entry = {"step": step, "train_loss": round(loss.item(), 4)}
            if step % 500 == 0 or step == STEPS:
                entry["val_loss"] = round(val_loss(), 4)
            log.append(entry)
            print(entry, f"{time.time() - t0:.0f}s", flush=True)

    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "model.safetensors"), model.hf_state())
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    with open(os.path.join(OUT, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "clean_up_tokenization_spaces": False, "legacy": True, "model_max_length": CFG["max_position_embeddings"],
                   "tokenizer_class": "LlamaTokenizer"}, f, indent=2)
    prompt = "And God said"
    seq = encode(prompt)
    with torch.no_grad():
        for _ in range(40):
            seq.append(int(model(torch.tensor([seq[-CFG["max_position_embeddings"]:]]))[0, -1].argmax()))
    inv = {i: t for t, i in vocab.items()}
    sample = "".join(inv[i] for i in seq[1:]).replace(SP, " ").strip()
    final = log[-1]
    card = f"""# tiny-kjv — webtune's built-in model

A small Llama-architecture language model that webtune pretrains itself, so the studio has a
model to fine-tune without any download.

- **Data**: the King James Version of the Bible (1611; public domain), from Debian's
  `bible-kjv-text` package, read with its `bible` program (`bible "Gen1:1-Rev22:21"`);
  verse numbers and chapter headings removed, one document per chapter ({len(docs)} chapters,
  {sum(len(d) for d in docs)} characters). The last 3 % of the tokens are held out.
- **Tokenizer**: byte-fallback BPE trained on that text by the same script, {len(vocab)} tokens
  ({len(merges)} merges), in the tokenizer.json layout of Llama / SentencePiece tokenizers.
- **Model**: LlamaForCausalLM, hidden {CFG['hidden_size']}, {CFG['num_hidden_layers']} layers,
  {CFG['num_attention_heads']} heads / {CFG['num_key_value_heads']} key-value heads, MLP {CFG['intermediate_size']},
  context {CFG['max_position_embeddings']}, tied embeddings: {n_params:,} parameters, F32
  ({os.path.getsize(os.path.join(OUT, 'model.safetensors')) / 2**20:.1f} MiB).
- **Training**: {STEPS} AdamW steps (β 0.9/0.95, weight decay 0.1, clip 1.0) of {BATCH} × {SEQ}
  tokens, learning rate {LR} with {WARMUP} warm-up steps and cosine decay to 10 %, seed 0,
  PyTorch {torch.__version__} on 2 CPU threads, {time.time() - t0:.0f} s.
- **Losses**: final train {final['train_loss']}, held-out {final.get('val_loss')} (nats per token).
- **Command**: `apt-get install bible-kjv python3-torch && /usr/bin/python3 scripts/pretrain-builtin.py`
- **Greedy sample** from "{prompt}": {sample}

Log (step, train loss, held-out loss): {json.dumps(log)}
"""
    with open(os.path.join(OUT, "CARD.md"), "w") as f:
        f.write(card)
    print(card)


if __name__ == "__main__":
    main()
