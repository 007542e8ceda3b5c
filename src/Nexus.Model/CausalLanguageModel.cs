using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>
/// One forward pass: logits [B, T, vocab]; for an MoE also the summed load-balancing loss (already scaled by
/// its coefficient) and the experts chosen in each layer ([B·T, k] per layer). Dense models have neither.
/// </summary>
public sealed record ModelOutput(Tensor Logits, Tensor? AuxLoss, IReadOnlyList<Tensor> ExpertsPerLayer);

/// <summary>
/// One batched decode step: logits [n, vocab], row i for the i-th slot given; for an MoE also the experts
/// each row was routed to in each layer ([n, k] per layer), empty for a dense model.
/// </summary>
public sealed record DecodeOutput(Tensor Logits, IReadOnlyList<Tensor> ExpertsPerLayer);

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

    /// <summary>A slot cache for continuous batching: <paramref name="slots"/> sequences of up to <paramref name="capacity"/> tokens each.</summary>
    public BatchKvCache NewBatchCache(int slots, long capacity) =>
        new(Config, slots, Math.Min(capacity, Config.MaxPositionEmbeddings), TokenEmbeddings.dtype, TokenEmbeddings.device);

    /// <summary>
    /// Feeds token ids [1, T] to the sequence in a taken <paramref name="slot"/> through the ordinary
    /// single-sequence path (a prompt's prefill, or any continuation); returns its logits [1, T, vocab].
    /// </summary>
    public ModelOutput Prefill(BatchKvCache cache, int slot, Tensor inputIds)
    {
        if (inputIds.dim() != 2 || inputIds.shape[0] != 1)
            throw new ArgumentException($"A slot holds one sequence: give token ids of shape [1, T] (got [{string.Join(", ", inputIds.shape)}]).", nameof(inputIds));
        var sequence = cache.Slot(slot);
        cache.EnsureRoom(slot, inputIds.shape[1]);
        return ForwardDetailed(inputIds, sequence);
    }

    /// <summary>
    /// One decode step over several sequences at once: <paramref name="tokens"/>[i] is the next token of the
    /// sequence in <paramref name="slots"/>[i]. Each row takes its own slot's next position and attends only
    /// to that slot's past, so sequences of any lengths decode together; every slot given advances by one.
    /// </summary>
    public DecodeOutput Decode(BatchKvCache cache, IReadOnlyList<int> slots, IReadOnlyList<long> tokens)
    {
        if (slots.Count != tokens.Count)
            throw new ArgumentException($"A decode step needs one token per slot: got {slots.Count} slots and {tokens.Count} tokens.", nameof(tokens));
        using var scope = NewDisposeScope();
        var rows = cache.Rows(slots, TokenEmbeddings.device);
        var (logits, experts) = DecodeStep(tensor(tokens.ToArray(), [tokens.Count, 1], device: TokenEmbeddings.device), cache, rows);
        cache.Advance(slots);
        return new DecodeOutput(
            logits.squeeze(1).MoveToOuterDisposeScope(),
            experts.Select(e => e.MoveToOuterDisposeScope()).ToList());
    }

    /// <summary>Logits [n, 1, vocab] and the experts per layer for ids [n, 1], one row per slot of <paramref name="rows"/>.</summary>
    private protected abstract (Tensor Logits, IReadOnlyList<Tensor> Experts) DecodeStep(Tensor inputIds, BatchKvCache cache, DecodeRows rows);

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
