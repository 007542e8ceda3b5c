using System.ComponentModel;
using System.Text.Json.Serialization;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>An artifact the user points the operator at: a model folder or a dataset.</summary>
[Description("An artifact in the artifact store.")]
public sealed class ArtifactSource
{
    [Description("Location of the artifact: s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH.")]
    [Required, MaxLength(Patterns.UriMaxLength), CelRule(Patterns.ArtifactUriRule, Patterns.ArtifactUriMessage)]
    [JsonPropertyName("uri")]
    public string Uri { get; set; } = "";
}

/// <summary>An artifact the operator produced, with the checksum that later steps verify before use.</summary>
[Description("An artifact the operator produced, with its checksum.")]
public sealed class ArtifactReference
{
    [Description("Location of the artifact: s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH.")]
    [Required, MaxLength(Patterns.UriMaxLength)]
    [JsonPropertyName("uri")]
    public string Uri { get; set; } = "";

    [Description("Lowercase hex SHA-256 (64 characters) of the artifact's content file as its manifest records it: a " +
                 "model's weights, an embedding's JSON. A retrained expert has another; consumers refuse a mismatching copy.")]
    [Pattern(Patterns.Sha256)]
    [JsonPropertyName("sha256")]
    public string? Sha256 { get; set; }
}

/// <summary>Per-domain quality of a model, from <c>nexus evaluate</c> on each domain's validation split.</summary>
[Description("Per-domain evaluation of a model on each domain's validation split.")]
public sealed class EvaluationMetrics
{
    [Description("Validation perplexity per domain (dimensionless, lower is better), keyed by domain.")]
    [MaxProperties(64)]
    [JsonPropertyName("perplexity")]
    public IDictionary<string, double>? Perplexity { get; set; }

    [Description("Share of each domain's validation tokens the router sends to that domain's own expert (0 to 1), keyed by domain.")]
    [MaxProperties(64)]
    [JsonPropertyName("routingShare")]
    public IDictionary<string, double>? RoutingShare { get; set; }

    [Description("Validation tokens evaluated per domain (tokens).")]
    [Minimum(0)]
    [JsonPropertyName("evaluatedTokens")]
    public long? EvaluatedTokens { get; set; }
}
