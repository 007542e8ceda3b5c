using System.Text.Json.Serialization;

namespace Nexus.Model;

public enum RouterKind
{
    Nexus,
    Linear,
}

/// <summary>
/// A Nexus MoE: the dense Llama architecture it was upcycled from, plus the expert mix. Every FFN is a
/// <see cref="SharedExpertMoe"/> with the seed's FFN as shared expert and one routed expert per domain.
/// </summary>
public sealed record NexusMoeConfig : LlamaConfig
{
    public NexusMoeConfig()
    {
        Architectures = ["NexusMoeForCausalLM"];
        ModelType = "nexus_moe";
    }

    /// <summary>Names of the routed experts, in router order.</summary>
    [JsonPropertyName("expert_names")] public string[] ExpertNames { get; init; } = [];
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerToken { get; init; } = 1;
    [JsonPropertyName("router_type")] public string RouterType { get; init; } = "nexus";
    [JsonPropertyName("router_aux_loss_coef")] public double RouterAuxLossCoefficient { get; init; } = 0.05;
    /// <summary>Width m of the domain embeddings (Nexus router).</summary>
    [JsonPropertyName("domain_embedding_size")] public int DomainEmbeddingSize { get; init; }
    /// <summary>Width p of the router's SwiGLU projection (Nexus router).</summary>
    [JsonPropertyName("router_projection_size")] public int RouterProjectionSize { get; init; }

    [JsonIgnore] public int NumExperts => ExpertNames.Length;

    [JsonIgnore]
    public RouterKind Router => RouterType switch
    {
        "nexus" => RouterKind.Nexus,
        "linear" => RouterKind.Linear,
        _ => throw new InvalidModelConfigException($"config.json: router_type is '{RouterType}'; use 'nexus' or 'linear'."),
    };

    /// <summary>The MoE that upcycling <paramref name="dense"/> with these experts produces.</summary>
    public static NexusMoeConfig FromDense(LlamaConfig dense, IReadOnlyList<string> experts, RouterKind router,
        int domainEmbeddingSize, int? routerProjectionSize = null, int topK = 1, double auxLossCoefficient = 0.05) =>
        new()
        {
            VocabSize = dense.VocabSize, HiddenSize = dense.HiddenSize, IntermediateSize = dense.IntermediateSize,
            NumHiddenLayers = dense.NumHiddenLayers, NumAttentionHeads = dense.NumAttentionHeads,
            NumKeyValueHeads = dense.NumKeyValueHeads, HeadDimOverride = dense.HeadDimOverride, RmsNormEps = dense.RmsNormEps,
            RopeTheta = dense.RopeTheta, MaxPositionEmbeddings = dense.MaxPositionEmbeddings,
            TieWordEmbeddings = dense.TieWordEmbeddings, BosTokenId = dense.BosTokenId, EosTokenId = dense.EosTokenId,
            ExpertNames = [.. experts], NumExpertsPerToken = topK, RouterType = router == RouterKind.Nexus ? "nexus" : "linear",
            RouterAuxLossCoefficient = auxLossCoefficient, DomainEmbeddingSize = domainEmbeddingSize,
            RouterProjectionSize = routerProjectionSize ?? dense.HiddenSize,
        };

    /// <summary>Every tensor of the model's state (parameters and the domain-embedding buffers), name → shape.</summary>
    public IEnumerable<(string Name, long[] Shape)> TensorShapes()
    {
        long h = HiddenSize, i = IntermediateSize;
        foreach (var (name, shape) in ParameterShapes())
        {
            var mlp = name.IndexOf(".mlp.", StringComparison.Ordinal);
            if (mlp < 0)
            {
                yield return (name, shape);
                continue;
            }
            if (!name.EndsWith(".mlp.gate_proj.weight", StringComparison.Ordinal)) continue; // one pass per layer
            var prefix = name[..(mlp + ".mlp.".Length)];
            foreach (var expert in new[] { "shared_expert." }.Concat(Enumerable.Range(0, NumExperts).Select(e => $"experts.{e}.")))
            {
                yield return (prefix + expert + "gate_proj.weight", [i, h]);
                yield return (prefix + expert + "up_proj.weight", [i, h]);
                yield return (prefix + expert + "down_proj.weight", [h, i]);
            }
            if (Router == RouterKind.Nexus)
            {
                yield return (prefix + "router.domain_embeddings", [NumExperts, DomainEmbeddingSize]);
                yield return (prefix + "router.gate_proj.weight", [RouterProjectionSize, DomainEmbeddingSize]);
                yield return (prefix + "router.up_proj.weight", [RouterProjectionSize, DomainEmbeddingSize]);
                yield return (prefix + "router.down_proj.weight", [h, RouterProjectionSize]);
            }
            else
            {
                yield return (prefix + "router.weight", [NumExperts, h]);
            }
        }
    }

    /// <summary>Trainable parameters: every tensor but the fixed domain embeddings.</summary>
    public override long ParameterCount() => TensorShapes()
        .Where(t => !t.Name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal))
        .Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));

    public override void Validate()
    {
        base.Validate();
        Require(NumExperts >= 1, "expert_names", "must name at least one expert");
        Require(ExpertNames.Distinct(StringComparer.Ordinal).Count() == NumExperts, "expert_names", "must not repeat a name");
        Require(NumExpertsPerToken >= 1 && NumExpertsPerToken <= NumExperts, "num_experts_per_tok",
            $"must be between 1 and the number of experts ({NumExperts})");
        Require(RouterAuxLossCoefficient >= 0, "router_aux_loss_coef", "must not be negative");
        _ = Router;
        if (Router == RouterKind.Nexus)
        {
            Require(DomainEmbeddingSize > 0, "domain_embedding_size", "must be positive for the nexus router");
            Require(RouterProjectionSize > 0, "router_projection_size", "must be positive for the nexus router");
        }
    }

    public static new NexusMoeConfig FromJson(string json, string source = "config.json") =>
        Parse<NexusMoeConfig>(json, source, "nexus_moe", "Nexus MoE");

    public static new NexusMoeConfig Load(string path) => Parse<NexusMoeConfig>(ReadConfig(path), path, "nexus_moe", "Nexus MoE");
}
