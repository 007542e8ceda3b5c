using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Nexus.Model;

// A Llama-style decoder, module by module, with Hugging Face's parameter names
// (model.layers.{i}.self_attn.q_proj.weight, ...), so checkpoints map one to one.
// Shapes: B batch, T new tokens, P tokens already cached, H query heads, K key/value heads, D head width.

/// <summary>Root-mean-square layer norm, computed in fp32 like HF's LlamaRMSNorm.</summary>
public sealed class RmsNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    public RmsNorm(long size, double eps) : base(nameof(RmsNorm))
    {
        weight = Parameter(ones(size));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var x32 = x.to(float32);
        var normed = x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + eps);
        return weight * normed.to(x.dtype);
    }
}

/// <summary>
/// Rotary position embeddings in HF's "rotate half" layout: the first and second halves of each head
/// form the rotated pairs. cos/sin are precomputed for every position up to max_position_embeddings.
/// Not a module: the tables are derived from the config, never trained or saved.
/// </summary>
public sealed class RotaryTable : IDisposable
{
    private readonly Tensor cos; // [maxPositions, D]
    private readonly Tensor sin;

    public RotaryTable(int headDim, int maxPositions, double theta)
    {
        MaxPositions = maxPositions;
        using var scope = NewDisposeScope();
        var invFreq = 1.0 / pow(theta, arange(0, headDim, 2, float64) / headDim);  // [D/2]
        var angles = outer(arange(maxPositions, dtype: float64), invFreq);         // [maxPositions, D/2]
        var doubled = cat([angles, angles], dim: -1);
        cos = doubled.cos().to(float32).DetachFromDisposeScope();
        sin = doubled.sin().to(float32).DetachFromDisposeScope();
    }

    public int MaxPositions { get; }

    /// <summary>Rotates x [B, heads, T, D] whose first token sits at position <paramref name="start"/>.</summary>
    public Tensor Apply(Tensor x, long start)
    {
        var length = x.shape[2];
        if (start + length > MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"Position {start + length} exceeds max_position_embeddings ({MaxPositions}).");
        var c = cos.narrow(0, start, length).to(x.dtype);
        var s = sin.narrow(0, start, length).to(x.dtype);
        return x * c + RotateHalf(x) * s;
    }

    /// <summary>Rotates x [n, heads, 1, D] whose row i sits at position positions[i] ([n]).</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        var n = x.shape[0];
        var c = cos.index_select(0, positions).to(x.dtype).view(n, 1, 1, -1);
        var s = sin.index_select(0, positions).to(x.dtype).view(n, 1, 1, -1);
        return x * c + RotateHalf(x) * s;
    }

    internal static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], dim: -1);
    }

    public void Dispose()
    {
        cos.Dispose();
        sin.Dispose();
    }
}

/// <summary>Grouped-query self-attention: H query heads share K key/value heads (H % K == 0).</summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int heads, kvHeads, headDim;

    public LlamaAttention(LlamaConfig config) : base(nameof(LlamaAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        q_proj = Linear(config.HiddenSize, heads * headDim, hasBias: false);
        k_proj = Linear(config.HiddenSize, kvHeads * headDim, hasBias: false);
        v_proj = Linear(config.HiddenSize, kvHeads * headDim, hasBias: false);
        o_proj = Linear(heads * headDim, config.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Uses scaled_dot_product_attention when true; the explicit softmax(QKᵀ/√D)V otherwise.</summary>
    public bool UseSdpa { get; set; } = true;

    public Tensor Forward(Tensor x, RotaryTable rope, LayerCache? cache, long past)
    {
        long b = x.shape[0], t = x.shape[1];
        var q = rope.Apply(q_proj.call(x).view(b, t, heads, headDim).transpose(1, 2), past);   // [B, H, T, D]
        var k = rope.Apply(k_proj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2), past); // [B, K, T, D]
        var v = v_proj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Append(k, v, past);                                // [B, K, P+T, D]
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, dim: 1);
            v = v.repeat_interleave(heads / kvHeads, dim: 1);
        }
        var attended = UseSdpa ? Sdpa(q, k, v, past) : Explicit(q, k, v, CausalMask(t, past, q.device)); // [B, H, T, D]
        return o_proj.call(attended.transpose(1, 2).reshape(b, t, heads * headDim));
    }

    /// <summary>
    /// One decode step of a batch: x [n, 1, hidden], row i the next token of the sequence in slot
    /// rows.Slots[i], at its own position, attending only to that slot's past.
    /// </summary>
    internal Tensor Decode(Tensor x, RotaryTable rope, BatchLayerCache cache, DecodeRows rows)
    {
        var n = x.shape[0];
        var q = rope.Apply(q_proj.call(x).view(n, 1, heads, headDim).transpose(1, 2), rows.Positions);   // [n, H, 1, D]
        var k = rope.Apply(k_proj.call(x).view(n, 1, kvHeads, headDim).transpose(1, 2), rows.Positions); // [n, K, 1, D]
        var v = v_proj.call(x).view(n, 1, kvHeads, headDim).transpose(1, 2);
        (k, v) = cache.Write(k, v, rows);                                                              // [n, K, L, D]
        // Grouped-query attention without copying the keys and values per query head: the G = H/K query heads that
        // share a KV head (consecutive, as repeat_interleave would pair them) take the place of the one query
        // position, so each step reads the cache once instead of writing an H-head copy of it, O(L) per layer.
        var grouped = q.reshape(n, kvHeads, heads / kvHeads, headDim);                                   // [n, K, G, D]
        var attended = UseSdpa
            ? functional.scaled_dot_product_attention(grouped, k, v, attn_mask: rows.Mask)
            : Explicit(grouped, k, v, rows.Mask);                                                      // [n, K, G, D]
        return o_proj.call(attended.reshape(n, 1, heads * headDim));
    }

    private static Tensor Sdpa(Tensor q, Tensor k, Tensor v, long past)
    {
        var t = q.shape[2];
        if (t == 1) return functional.scaled_dot_product_attention(q, k, v);
        // PyTorch's causal flag aligns the mask top-left, which is only right with nothing cached.
        if (past == 0) return functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        return functional.scaled_dot_product_attention(q, k, v, attn_mask: CausalMask(t, past, q.device));
    }

    /// <summary>softmax(QKᵀ/√D)V where <paramref name="allowed"/> (broadcast to [B, H, T, P+T]) is true.</summary>
    private Tensor Explicit(Tensor q, Tensor k, Tensor v, Tensor allowed)
    {
        var scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(headDim);                      // [B, H, T, P+T]
        scores = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity);
        return functional.softmax(scores, -1).matmul(v);
    }

    /// <summary>[T, P+T], true where query t (at position P+t) may attend key s: s ≤ P+t.</summary>
    internal static Tensor CausalMask(long t, long past, Device device)
    {
        var queries = arange(past, past + t, device: device).unsqueeze(1);
        var keys = arange(past + t, device: device).unsqueeze(0);
        return keys.le(queries);
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class LlamaMlp : Module<Tensor, Tensor>
{
    private readonly Linear gate_proj, up_proj, down_proj;

    public LlamaMlp(long hidden, long intermediate) : base(nameof(LlamaMlp))
    {
        gate_proj = Linear(hidden, intermediate, hasBias: false);
        up_proj = Linear(hidden, intermediate, hasBias: false);
        down_proj = Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        down_proj.call(functional.silu(gate_proj.call(x)) * up_proj.call(x));
}

public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly RmsNorm input_layernorm, post_attention_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig config) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new LlamaMlp(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    public LlamaAttention Attention => self_attn;

    public Tensor Forward(Tensor x, RotaryTable rope, LayerCache? cache, long past)
    {
        // Intermediates are released when the layer returns; autograd keeps only what backward needs,
        // and frees that as backward passes. Without this scope every temporary of every layer would
        // live until the end of the training step.
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.call(x), rope, cache, past);
        return (h + mlp.call(post_attention_layernorm.call(h))).MoveToOuterDisposeScope();
    }

    internal Tensor Decode(Tensor x, RotaryTable rope, BatchLayerCache cache, DecodeRows rows)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Decode(input_layernorm.call(x), rope, cache, rows);
        return (h + mlp.call(post_attention_layernorm.call(h))).MoveToOuterDisposeScope();
    }
}

/// <summary>The decoder stack under HF's "model." prefix: embeddings, layers, final norm.</summary>
public sealed class LlamaModel : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;

    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        embed_tokens = Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public IReadOnlyList<LlamaDecoderLayer> Layers => [.. layers];

    /// <summary>Final-norm hidden states [B, T, hidden] for token ids [B, T].</summary>
    public Tensor Forward(Tensor inputIds, RotaryTable rope, KvCache? cache)
    {
        var past = cache?.Length ?? 0;
        var x = embed_tokens.call(inputIds);
        for (var i = 0; i < layers.Count; i++) x = layers[i].Forward(x, rope, cache?.Layer(i), past);
        cache?.Advance(inputIds.shape[1]);
        return norm.call(x);
    }

    /// <summary>Final-norm hidden states [n, 1, hidden] for one new token per row, ids [n, 1].</summary>
    internal Tensor Decode(Tensor inputIds, RotaryTable rope, BatchKvCache cache, DecodeRows rows)
    {
        var x = embed_tokens.call(inputIds);
        for (var i = 0; i < layers.Count; i++) x = layers[i].Decode(x, rope, cache.Layer(i), rows);
        return norm.call(x);
    }
}

/// <summary>Llama for causal language modelling: <see cref="LlamaModel"/> plus the LM head (tied or not).</summary>
public sealed class LlamaForCausalLM : CausalLanguageModel
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;
    private readonly RotaryTable rope;
    private readonly LlamaConfig config;

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        this.config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        rope = new RotaryTable(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta);
        RegisterComponents();
    }

    public override LlamaConfig Config => config;
    public LlamaModel Decoder => model;
    protected override Tensor TokenEmbeddings => model.EmbedTokens.weight!;

    public override bool UseSdpa
    {
        get => model.Layers.All(l => l.Attention.UseSdpa);
        set { foreach (var layer in model.Layers) layer.Attention.UseSdpa = value; }
    }

    public override ModelOutput ForwardDetailed(Tensor inputIds, KvCache? cache = null) =>
        new(Head(HiddenStates(inputIds, cache)), null, []);

    public override Tensor HiddenStates(Tensor inputIds, KvCache? cache = null) => model.Forward(inputIds, rope, cache);

    private protected override (Tensor Logits, IReadOnlyList<Tensor> Experts) DecodeStep(Tensor inputIds, BatchKvCache cache, DecodeRows rows) =>
        (Head(model.Decode(inputIds, rope, cache, rows)), []);

    private Tensor Head(Tensor hidden) =>
        lm_head is null ? functional.linear(hidden, model.EmbedTokens.weight!) : lm_head.call(hidden);

    protected override void Dispose(bool disposing)
    {
        if (disposing) rope.Dispose();
        base.Dispose(disposing);
    }
}
