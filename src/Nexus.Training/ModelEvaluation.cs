using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Model;

namespace Nexus.Training;

/// <summary>Where one domain's tokens went: shares of its tokens' expert choices, per layer and averaged over layers.</summary>
public sealed record RoutingShares(
    [property: JsonPropertyName("per_layer")] double[][] PerLayer,
    [property: JsonPropertyName("average")] double[] Average,
    [property: JsonPropertyName("own_expert")] double? OwnExpert);

public sealed record DomainEvaluation(
    [property: JsonPropertyName("domain")] string Domain,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("perplexity")] double Perplexity,
    [property: JsonPropertyName("tokens")] long Tokens,
    [property: JsonPropertyName("routing")] RoutingShares? Routing);

/// <summary>What <c>nexus evaluate</c> reports: per-domain validation perplexity and, for an MoE, routing statistics.</summary>
public sealed record EvaluationReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("model_type")] string ModelType,
    [property: JsonPropertyName("experts")] IReadOnlyList<string> Experts,
    [property: JsonPropertyName("domains")] IReadOnlyList<DomainEvaluation> Domains,
    [property: JsonPropertyName("average_perplexity")] double AveragePerplexity)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static EvaluationReport Load(string path) =>
        JsonSerializer.Deserialize<EvaluationReport>(File.ReadAllText(path), Json)
        ?? throw new InvalidDataException($"{path} is empty.");

    /// <summary>Rows = domains, columns = experts: the layer-averaged shares (for tables and heat maps).</summary>
    public double[,] AverageRouting()
    {
        var matrix = new double[Domains.Count, Experts.Count];
        for (var d = 0; d < Domains.Count; d++)
            for (var e = 0; e < Experts.Count; e++)
                matrix[d, e] = Domains[d].Routing?.Average[e] ?? 0;
        return matrix;
    }

    public double[,] LayerRouting(int layer)
    {
        var matrix = new double[Domains.Count, Experts.Count];
        for (var d = 0; d < Domains.Count; d++)
            for (var e = 0; e < Experts.Count; e++)
                matrix[d, e] = Domains[d].Routing?.PerLayer[layer][e] ?? 0;
        return matrix;
    }
}

public static class ModelEvaluation
{
    /// <summary>Evaluates each domain's held-out validation tokens (at most <paramref name="maxTokens"/> per domain).</summary>
    public static EvaluationReport Run(CausalLanguageModel model, string modelName, IReadOnlyList<Domain> domains,
        int sequenceLength, int batchSize, long maxTokens)
    {
        if (domains.Count == 0) throw new ArgumentException("Evaluation needs at least one domain (--domain NAME=PATH).");
        var experts = model.Config is NexusMoeConfig moe ? moe.ExpertNames : [];
        var results = domains.Select(domain =>
        {
            var result = Evaluator.Evaluate(model, domain.Corpus.Validation, sequenceLength, batchSize, maxTokens);
            return new DomainEvaluation(domain.Name, result.Loss, result.Perplexity, result.Tokens, Shares(result.Routing, experts, domain.Name));
        }).ToList();
        return new EvaluationReport(modelName, model.Config.ModelType, experts, results, results.Average(r => r.Perplexity));
    }

    private static RoutingShares? Shares(long[][]? counts, IReadOnlyList<string> experts, string domain)
    {
        if (counts is null) return null;
        var perLayer = counts.Select(layer =>
        {
            double total = layer.Sum();
            return layer.Select(c => total == 0 ? 0 : c / total).ToArray();
        }).ToArray();
        var average = Enumerable.Range(0, experts.Count).Select(e => perLayer.Average(layer => layer[e])).ToArray();
        var own = experts.ToList().IndexOf(domain);
        return new RoutingShares(perLayer, average, own >= 0 ? average[own] : null);
    }
}
