using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Nexus.Model;

/// <summary>A Llama block whose FFN is a <see cref="SharedExpertMoe"/> (parameter names under "mlp.").</summary>
public sealed class NexusMoeDecoderLayer : nn.Module
{
    private readonly RmsNorm input_layernorm, post_attention_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly SharedExpertMoe mlp;

    public NexusMoeDecoderLayer(NexusMoeConfig config) : base(nameof(NexusMoeDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        IRouter router = config.Router == RouterKind.Nexus
            ? new NexusRouter(zeros(config.NumExperts, config.DomainEmbeddingSize), config.RouterProjectionSize, config.HiddenSize)
            : new LinearRouter(config.HiddenSize, config.NumExperts);
        mlp = new SharedExpertMoe(
            new LlamaMlp(config.HiddenSize, config.IntermediateSize),
            Enumerable.Range(0, config.NumExperts).Select(_ => new LlamaMlp(config.HiddenSize, config.IntermediateSize)).ToList(),
            router, config.NumExpertsPerToken, config.RouterAuxLossCoefficient);
        RegisterComponents();
    }

    public LlamaAttention Attention => self_attn;
    public SharedExpertMoe Moe => mlp;

    public (Tensor Hidden, Tensor AuxLoss, Tensor Experts) Forward(Tensor x, RotaryTable rope, LayerCache? cache, long past)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.call(x), rope, cache, past);
        var moe = mlp.Forward(post_attention_layernorm.call(h));
        return ((h + moe.Hidden).MoveToOuterDisposeScope(), moe.AuxLoss.MoveToOuterDisposeScope(), moe.ExpertIndices.MoveToOuterDisposeScope());
    }

    internal (Tensor Hidden, Tensor Experts) Decode(Tensor x, RotaryTable rope, BatchLayerCache cache, DecodeRows rows)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Decode(input_layernorm.call(x), rope, cache, rows);
        var moe = mlp.Forward(post_attention_layernorm.call(h));
        return ((h + moe.Hidden).MoveToOuterDisposeScope(), moe.ExpertIndices.MoveToOuterDisposeScope());
    }
}

public sealed class NexusMoeModel : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<NexusMoeDecoderLayer> layers;
    private readonly RmsNorm norm;

    public NexusMoeModel(NexusMoeConfig config) : base(nameof(NexusMoeModel))
    {
        embed_tokens = Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<NexusMoeDecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new NexusMoeDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public IReadOnlyList<NexusMoeDecoderLayer> Layers => [.. layers];

    public (Tensor Hidden, Tensor AuxLoss, IReadOnlyList<Tensor> Experts) Forward(Tensor inputIds, RotaryTable rope, KvCache? cache)
    {
        var past = cache?.Length ?? 0;
        var x = embed_tokens.call(inputIds);
        var aux = zeros(1, dtype: float32).squeeze();
        var experts = new List<Tensor>(layers.Count);
        for (var i = 0; i < layers.Count; i++)
        {
            var (hidden, layerAux, chosen) = layers[i].Forward(x, rope, cache?.Layer(i), past);
            x = hidden;
            aux = aux + layerAux;
            experts.Add(chosen);
        }
        cache?.Advance(inputIds.shape[1]);
        return (norm.call(x), aux, experts);
    }

    /// <summary>Final-norm hidden states [n, 1, hidden] for one new token per row, and each layer's experts [n, k].</summary>
    internal (Tensor Hidden, IReadOnlyList<Tensor> Experts) Decode(Tensor inputIds, RotaryTable rope, BatchKvCache cache, DecodeRows rows)
    {
        var x = embed_tokens.call(inputIds);
        var experts = new List<Tensor>(layers.Count);
        for (var i = 0; i < layers.Count; i++)
        {
            (x, var chosen) = layers[i].Decode(x, rope, cache.Layer(i), rows);
            experts.Add(chosen);
        }
        return (norm.call(x), experts);
    }
}

/// <summary>The Nexus MoE language model: Llama attention and norms, <see cref="SharedExpertMoe"/> FFNs.</summary>
public sealed class NexusMoeForCausalLM : CausalLanguageModel
{
    private readonly NexusMoeModel model;
    private readonly Linear? lm_head;
    private readonly RotaryTable rope;
    private readonly NexusMoeConfig config;

    public NexusMoeForCausalLM(NexusMoeConfig config) : base(nameof(NexusMoeForCausalLM))
    {
        config.Validate();
        this.config = config;
        model = new NexusMoeModel(config);
        if (!config.TieWordEmbeddings) lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        rope = new RotaryTable(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta);
        RegisterComponents();
    }

    public override LlamaConfig Config => config;
    public NexusMoeConfig MoeConfig => config;
    public NexusMoeModel Decoder => model;
    protected override Tensor TokenEmbeddings => model.EmbedTokens.weight!;

    public override bool UseSdpa
    {
        get => model.Layers.All(l => l.Attention.UseSdpa);
        set { foreach (var layer in model.Layers) layer.Attention.UseSdpa = value; }
    }

    public override ModelOutput ForwardDetailed(Tensor inputIds, KvCache? cache = null)
    {
        var (hidden, aux, experts) = model.Forward(inputIds, rope, cache);
        return new ModelOutput(Head(hidden), aux, experts);
    }

    public override Tensor HiddenStates(Tensor inputIds, KvCache? cache = null) => model.Forward(inputIds, rope, cache).Hidden;

    private protected override (Tensor Logits, IReadOnlyList<Tensor> Experts) DecodeStep(Tensor inputIds, BatchKvCache cache, DecodeRows rows)
    {
        var (hidden, experts) = model.Decode(inputIds, rope, cache, rows);
        return (Head(hidden), experts);
    }

    private Tensor Head(Tensor hidden) =>
        lm_head is null ? functional.linear(hidden, model.EmbedTokens.weight!) : lm_head.call(hidden);

    /// <summary>Caches every Nexus router's expert embeddings E = P(D); linear routers need nothing.</summary>
    public override void PrepareForInference()
    {
        foreach (var layer in model.Layers)
            if (layer.Moe.Router is NexusRouter nexus) nexus.Precompute();
    }

    public override void PrepareForTraining()
    {
        foreach (var layer in model.Layers)
            if (layer.Moe.Router is NexusRouter nexus) nexus.ClearPrecomputed();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) rope.Dispose();
        base.Dispose(disposing);
    }
}
