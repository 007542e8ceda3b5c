#!/usr/bin/python3
"""Reference forward of a Qwen2-MoE or DeepSeek-MoE v1 checkpoint, written from the Hugging Face semantics.

An independent check on `nexus export`: it reads only what the exported folder holds (config.json and
model.safetensors) and computes the logits the way transformers' Qwen2MoeForCausalLM and DeepSeek's
DeepseekForCausalLM (modeling_deepseek.py) do, in float32 on CPU. It shares no code with the C# model.
It runs on Debian's python3 with python3-torch (torch 1.13), which has no safetensors package, so the file
format is read here directly.

usage: hf_moe_reference.py MODEL_DIR --ids IDS.json --out OUT.json
  IDS.json: a list of token-id sequences of equal length, e.g. [[1, 2, 3], [4, 5, 6]]
  OUT.json: {"logits": [batch][tokens][vocab], "experts": [layer][batch * tokens][k]}
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """8-byte little-endian header length, a JSON header, then the raw little-endian tensor bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin : base + end])
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).to(torch.float32)
    return tensors


class Weights:
    """The checkpoint's tensors; remembers which were used so that a stray tensor is an error, as a missing one is."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()

    def __getitem__(self, name):
        if name not in self.tensors:
            raise KeyError(f"the checkpoint has no tensor {name}")
        self.used.add(name)
        return self.tensors[name]

    def unused(self):
        return sorted(set(self.tensors) - self.used)


def rms_norm(x, weight, eps):
    x32 = x.to(torch.float32)
    variance = x32.pow(2).mean(-1, keepdim=True)
    return weight * (x32 * torch.rsqrt(variance + eps)).to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_tables(head_dim, theta, length):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()


def attention(x, w, prefix, config, has_bias):
    batch, length, hidden = x.shape
    heads = config["num_attention_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = hidden // heads  # both architectures derive it; neither reads a head_dim key

    def projection(name):
        bias = w[f"{prefix}{name}.bias"] if has_bias else None
        return F.linear(x, w[f"{prefix}{name}.weight"], bias)

    q = projection("q_proj").view(batch, length, heads, head_dim).transpose(1, 2)
    k = projection("k_proj").view(batch, length, kv_heads, head_dim).transpose(1, 2)
    v = projection("v_proj").view(batch, length, kv_heads, head_dim).transpose(1, 2)
    cos, sin = rotary_tables(head_dim, config.get("rope_theta", 10000.0), length)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    # repeat_kv: query head i reads key/value head i // (heads / kv_heads)
    group = heads // kv_heads
    k = k[:, :, None].expand(batch, kv_heads, group, length, head_dim).reshape(batch, heads, length, head_dim)
    v = v[:, :, None].expand(batch, kv_heads, group, length, head_dim).reshape(batch, heads, length, head_dim)

    scores = q @ k.transpose(2, 3) / math.sqrt(head_dim)
    causal = torch.full((length, length), float("-inf")).triu(1)
    probabilities = F.softmax(scores + causal, dim=-1, dtype=torch.float32).to(q.dtype)
    out = (probabilities @ v).transpose(1, 2).reshape(batch, length, heads * head_dim)
    return F.linear(out, w[f"{prefix}o_proj.weight"])


def mlp(x, w, prefix, width=None):
    gate = w[f"{prefix}gate_proj.weight"]
    if width is not None and gate.shape[0] != width:
        raise ValueError(f"{prefix}gate_proj has {gate.shape[0]} rows; the config implies {width}")
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, w[f"{prefix}up_proj.weight"]), w[f"{prefix}down_proj.weight"])


def qwen2_sparse_block(x, w, prefix, config):
    """Qwen2MoeSparseMoeBlock: softmax top-k (renormalised only with norm_topk_prob) + sigmoid-gated shared expert."""
    shape = x.shape
    tokens = x.reshape(-1, shape[-1])
    experts = config["num_experts"]
    top_k = config["num_experts_per_tok"]
    router_logits = F.linear(tokens, w[f"{prefix}gate.weight"])
    if router_logits.shape[-1] != experts:
        raise ValueError(f"{prefix}gate has {router_logits.shape[-1]} rows; num_experts is {experts}")
    routing = F.softmax(router_logits, dim=1, dtype=torch.float)
    routing, selected = torch.topk(routing, top_k, dim=-1)
    if config["norm_topk_prob"]:
        routing = routing / routing.sum(dim=-1, keepdim=True)
    routing = routing.to(tokens.dtype)

    out = torch.zeros_like(tokens)
    expert_mask = F.one_hot(selected, num_classes=experts).permute(2, 1, 0)  # [experts, k, tokens]
    for e in range(experts):
        slot, rows = torch.where(expert_mask[e])
        if rows.numel() == 0:
            continue
        y = mlp(tokens[rows], w, f"{prefix}experts.{e}.", config["moe_intermediate_size"]) * routing[rows, slot, None]
        out.index_add_(0, rows, y.to(tokens.dtype))

    shared = mlp(tokens, w, f"{prefix}shared_expert.", config["shared_expert_intermediate_size"])
    shared = torch.sigmoid(F.linear(tokens, w[f"{prefix}shared_expert_gate.weight"])) * shared
    return (out + shared).reshape(shape), selected


def deepseek_moe_block(x, w, prefix, config):
    """DeepseekMoE (v1): MoEGate softmax scores, top-k, optional renormalisation, plus ungated shared experts."""
    shape = x.shape
    tokens = x.reshape(-1, shape[-1])
    experts = config["n_routed_experts"]
    top_k = config["num_experts_per_tok"]
    if config.get("scoring_func", "softmax") != "softmax":
        raise ValueError(f"scoring_func {config['scoring_func']} is not DeepSeek-MoE v1's softmax")
    logits = F.linear(tokens, w[f"{prefix}gate.weight"])
    if logits.shape[-1] != experts:
        raise ValueError(f"{prefix}gate has {logits.shape[-1]} rows; n_routed_experts is {experts}")
    scores = logits.softmax(dim=-1)
    weights, selected = torch.topk(scores, k=top_k, dim=-1, sorted=False)
    if top_k > 1 and config["norm_topk_prob"]:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)

    # The training-mode path of modeling_deepseek.py: each token repeated k times, one expert per copy.
    repeated = tokens.repeat_interleave(top_k, dim=0)
    flat = selected.reshape(-1)
    y = torch.empty_like(repeated)
    for e in range(experts):
        rows = flat == e
        if rows.any():
            y[rows] = mlp(repeated[rows], w, f"{prefix}experts.{e}.", config["moe_intermediate_size"])
    y = (y.view(*weights.shape, -1) * weights.unsqueeze(-1)).sum(dim=1)
    if config.get("n_shared_experts") is not None:
        width = config["moe_intermediate_size"] * config["n_shared_experts"]
        y = y + mlp(tokens, w, f"{prefix}shared_experts.", width)
    return y.reshape(shape), selected


def is_sparse_layer(config, layer):
    if config["model_type"] == "qwen2_moe":
        return (
            layer not in config.get("mlp_only_layers", [])
            and config["num_experts"] > 0
            and (layer + 1) % config["decoder_sparse_step"] == 0
        )
    return (
        config.get("n_routed_experts") is not None
        and layer >= config["first_k_dense_replace"]
        and layer % config["moe_layer_freq"] == 0
    )


def forward(config, w, ids):
    model_type = config["model_type"]
    if model_type not in ("qwen2_moe", "deepseek"):
        raise ValueError(f"model_type {model_type} is neither qwen2_moe nor deepseek")
    qkv_bias = model_type == "qwen2_moe" or config.get("attention_bias", False)
    eps = config["rms_norm_eps"]
    block = qwen2_sparse_block if model_type == "qwen2_moe" else deepseek_moe_block

    x = F.embedding(ids, w["model.embed_tokens.weight"])
    routes = []
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        x = x + attention(rms_norm(x, w[p + "input_layernorm.weight"], eps), w, p + "self_attn.", config, qkv_bias)
        normed = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        if is_sparse_layer(config, layer):
            y, selected = block(normed, w, p + "mlp.", config)
            routes.append(selected.tolist())
        else:
            y = mlp(normed, w, p + "mlp.", config["intermediate_size"])
            routes.append([])
        x = x + y
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if config.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return F.linear(x, head), routes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--ids", required=True, help="JSON file: list of equal-length token-id lists")
    parser.add_argument("--out", required=True, help="JSON file to write logits and routes to")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, "config.json")) as f:
        config = json.load(f)
    with open(args.ids) as f:
        ids = torch.tensor(json.load(f), dtype=torch.int64)
    w = Weights(read_safetensors(os.path.join(args.model_dir, "model.safetensors")))
    with torch.no_grad():
        logits, routes = forward(config, w, ids)
    unused = w.unused()
    if unused:
        sys.exit(f"tensors the architecture does not use: {', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}")
    with open(args.out, "w") as f:
        json.dump({"logits": logits.tolist(), "experts": routes}, f)


if __name__ == "__main__":
    main()
