using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>
/// One forward pass: logits [B, T, vocab]; for an MoE also the summed load-balancing loss (already scaled by
/// its coefficient) and the experts chosen in each layer ([B·T, k] per layer). Dense models have neither.
/// </summary>
public sealed record ModelOutput(Tensor Logits, Tensor? AuxLoss, IReadOnlyList<Tensor> ExpertsPerLayer);

/// <summary>
/// What training, evaluation, generation and serving need of a language model, dense or mixture-of-experts,
/// so one trainer, one evaluator and one generator serve both.
/// </summary>
public abstract class CausalLanguageModel(string name) : nn.Module(name)
{
    public abstract LlamaConfig Config { get; }

    /// <summary>Logits and, for an MoE, what its routers did.</summary>
    public abstract ModelOutput ForwardDetailed(Tensor inputIds, KvCache? cache = null);

    /// <summary>Logits [B, T, vocab] for token ids [B, T]; with a cache, the ids continue what it holds.</summary>
    public Tensor Forward(Tensor inputIds, KvCache? cache = null) => ForwardDetailed(inputIds, cache).Logits;

    /// <summary>Final-norm hidden states [B, T, hidden] (domain embeddings are their mean).</summary>
    public abstract Tensor HiddenStates(Tensor inputIds, KvCache? cache = null);

    /// <summary>Selects scaled_dot_product_attention (default) or the explicit attention in every layer.</summary>
    public abstract bool UseSdpa { get; set; }

    /// <summary>Work that only depends on the weights, done once before serving (the Nexus routers' expert embeddings).</summary>
    public virtual void PrepareForInference() { }

    /// <summary>Undoes <see cref="PrepareForInference"/> before the weights change again.</summary>
    public virtual void PrepareForTraining() { }

    protected abstract Tensor TokenEmbeddings { get; }

    public KvCache NewCache(long batch, long capacity) =>
        new(Config, batch, Math.Min(capacity, Config.MaxPositionEmbeddings), TokenEmbeddings.dtype, TokenEmbeddings.device);

    /// <summary>HF's initialisation: N(0, 0.02) for weights, ones for norms; buffers (domain embeddings) untouched.</summary>
    public void InitializeWeights(long seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) parameter.fill_(1.0);
            else parameter.normal_(0.0, 0.02, generator);
        }
    }
}
