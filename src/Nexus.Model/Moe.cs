using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Nexus.Model;

// The Nexus MoE layer, as DESIGN.md states the method. Shapes: N tokens, h hidden, E experts,
// m domain-embedding width, p projection width, k experts per token.

/// <summary>Maps token states to router logits [N, E], always in fp32.</summary>
public interface IRouter
{
    int ExpertCount { get; }
    Tensor Logits(Tensor tokens);
}

/// <summary>
/// BTX-style baseline: a plain learned linear router, logits = x · Wᵀ with W [E, h], randomly
/// initialised.
/// </summary>
public sealed class LinearRouter : nn.Module, IRouter
{
    private readonly Parameter weight;

    public LinearRouter(long hidden, int experts, Generator? generator = null) : base(nameof(LinearRouter))
    {
        weight = Parameter(randn([experts, hidden], generator: generator) * 0.02);
        RegisterComponents();
    }

    public int ExpertCount => (int)weight.shape[0];

    public Tensor Logits(Tensor tokens) => tokens.to(float32).matmul(weight.to(float32).t());
}

/// <summary>
/// The Nexus router: each expert i has a fixed domain embedding dᵢ (a buffer, never trained); a learned
/// projection maps it into the hidden space, eᵢ = W2 · SwiGLU(W1 · dᵢ), and logits are x · eᵢ. Because E
/// does not depend on the input, <see cref="Precompute"/> caches it for inference, where the router
/// then costs exactly what a linear one does.
/// </summary>
public sealed class NexusRouter : nn.Module, IRouter
{
    private readonly Tensor domain_embeddings;  // D [E, m], a buffer
    private readonly Linear gate_proj, up_proj;  // W1 = [gate; up], m → p each
    private readonly Linear down_proj;           // W2, p → h
    private Tensor? cached;                      // E [E, h] while precomputed

    public NexusRouter(Tensor domainEmbeddings, long projection, long hidden) : base(nameof(NexusRouter))
    {
        if (domainEmbeddings.dim() != 2 || domainEmbeddings.shape[0] < 1)
            throw new ArgumentException($"Domain embeddings must be a matrix [experts, width]; got shape [{string.Join(", ", domainEmbeddings.shape)}].");
        var width = domainEmbeddings.shape[1];
        domain_embeddings = domainEmbeddings.to(float32).detach().clone();
        gate_proj = Linear(width, projection, hasBias: false);
        up_proj = Linear(width, projection, hasBias: false);
        down_proj = Linear(projection, hidden, hasBias: false);
        RegisterComponents();
    }

    public int ExpertCount => (int)domain_embeddings.shape[0];
    public long DomainWidth => domain_embeddings.shape[1];
    public Tensor DomainEmbeddings => domain_embeddings;
    public bool IsPrecomputed => cached is not null;

    /// <summary>E = W2 · SwiGLU(W1 · D): [E, h].</summary>
    public Tensor ExpertEmbeddings() =>
        down_proj.call(functional.silu(gate_proj.call(domain_embeddings)) * up_proj.call(domain_embeddings));

    public Tensor Logits(Tensor tokens)
    {
        var embeddings = cached ?? ExpertEmbeddings();
        return tokens.to(float32).matmul(embeddings.to(float32).t());
    }

    /// <summary>Computes E once (inference); <see cref="ClearPrecomputed"/> returns to training mode.</summary>
    public void Precompute()
    {
        using var noGrad = no_grad();
        ClearPrecomputed();
        cached = ExpertEmbeddings().to(float32).DetachFromDisposeScope();
    }

    public void ClearPrecomputed()
    {
        cached?.Dispose();
        cached = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) ClearPrecomputed();
        base.Dispose(disposing);
    }
}

/// <summary>Output of an MoE layer: the mixed states and what the router did.</summary>
public sealed record MoeOutput(Tensor Hidden, Tensor AuxLoss, Tensor ExpertIndices);

/// <summary>
/// Shared expert plus top-k routed experts: y = shared(x) + Σ gᵢ · expertᵢ(x) over the k chosen experts,
/// with gᵢ the router's softmax probability (not renormalised). Tokens are dispatched by sorting on
/// their expert and gathering (index_select / index_add), so each expert runs only on its own tokens.
/// </summary>
public sealed class SharedExpertMoe : nn.Module
{
    private readonly LlamaMlp shared_expert;
    private readonly ModuleList<LlamaMlp> experts;
    private readonly nn.Module router;

    public SharedExpertMoe(LlamaMlp sharedExpert, IReadOnlyList<LlamaMlp> routedExperts, IRouter router, int topK = 1,
        double auxLossCoefficient = 0.05) : base(nameof(SharedExpertMoe))
    {
        if (routedExperts.Count == 0) throw new ArgumentException("An MoE layer needs at least one routed expert.");
        if (router.ExpertCount != routedExperts.Count)
            throw new ArgumentException($"The router scores {router.ExpertCount} experts but the layer has {routedExperts.Count}.");
        if (topK < 1 || topK > routedExperts.Count)
            throw new ArgumentOutOfRangeException(nameof(topK), $"top-k must be between 1 and the number of experts ({routedExperts.Count}); got {topK}.");
        shared_expert = sharedExpert;
        experts = new ModuleList<LlamaMlp>(routedExperts.ToArray());
        this.router = (nn.Module)router;
        TopK = topK;
        AuxLossCoefficient = auxLossCoefficient;
        RegisterComponents();
    }

    public int TopK { get; }
    public double AuxLossCoefficient { get; }
    public int ExpertCount => experts.Count;
    public IRouter Router => (IRouter)router;

    /// <summary>x [B, T, h] → y [B, T, h], the Switch load-balancing loss, and the chosen experts [B·T, k].</summary>
    public MoeOutput Forward(Tensor x)
    {
        var shape = x.shape;
        var tokens = x.reshape(-1, shape[^1]);                                  // [N, h]
        var probabilities = functional.softmax(Router.Logits(tokens), -1);      // [N, E] fp32
        var (gates, chosen) = probabilities.topk(TopK, dim: -1);                // [N, k]

        var routed = Dispatch(tokens, gates.to(tokens.dtype), chosen);
        var y = shared_expert.call(tokens) + routed;
        return new MoeOutput(y.reshape(shape), AuxLoss(probabilities, chosen), chosen);
    }

    private Tensor Dispatch(Tensor tokens, Tensor gates, Tensor chosen)
    {
        var flatExperts = chosen.reshape(-1);                                   // [N·k]
        var order = flatExperts.argsort(); // a token picks distinct experts, so order within an expert is immaterial
        var sortedTokens = order.div(TopK, RoundingMode.floor);                  // token of each sorted assignment
        var sortedGates = gates.reshape(-1).index_select(0, order).unsqueeze(1);
        var counts = flatExperts.bincount(null, experts.Count).data<long>().ToArray();

        var output = zeros_like(tokens);
        long start = 0;
        for (var e = 0; e < experts.Count; e++)
        {
            if (counts[e] == 0) continue;
            var rows = sortedTokens.narrow(0, start, counts[e]);
            var expertOut = experts[e].call(tokens.index_select(0, rows)) * sortedGates.narrow(0, start, counts[e]);
            output.index_add_(0, rows, expertOut, 1);
            start += counts[e];
        }
        return output;
    }

    /// <summary>Switch Transformer's α · E · Σᵢ fᵢ · Pᵢ: fᵢ the share of assignments to expert i, Pᵢ its mean probability.</summary>
    private Tensor AuxLoss(Tensor probabilities, Tensor chosen)
    {
        var e = experts.Count;
        var assignments = functional.one_hot(chosen.reshape(-1), e).to(float32).mean([0]);   // f [E]
        var meanProbability = probabilities.mean([0]);                                       // P [E]
        return AuxLossCoefficient * e * (assignments * meanProbability).sum();
    }
}
