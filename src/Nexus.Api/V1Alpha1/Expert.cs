using System.ComponentModel;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>
/// A dense domain expert: trained from the seed model on one domain's data, or imported from an existing dense
/// checkpoint, plus the domain embedding the Nexus router uses to route to it.
/// </summary>
[KubernetesEntity(Group = KubeGroup, ApiVersion = KubeApiVersion, Kind = KubeKind, PluralName = KubePluralName)]
[Description("Expert is a dense domain expert: trained from the seed model on one domain's data (or imported from a " +
             "dense checkpoint), with the domain embedding a Nexus router routes by.")]
[ShortNames("exp")]
[PrinterColumn("Domain", "string", ".spec.domain", Description = "Domain the expert specialises in")]
[PrinterColumn("Source", "string", ".status.source", Description = "Training data or imported checkpoint")]
[PrinterColumn("Phase", "string", ".status.phase", Description = "Lifecycle phase")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", Description = "Ready condition")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class Expert : IKubernetesObject<V1ObjectMeta>, ISpec<ExpertSpec>, IStatus<ExpertStatus?>, INexusResource
{
    public const string KubeGroup = GroupVersion.Group;
    public const string KubeApiVersion = GroupVersion.Version;
    public const string KubeKind = "Expert";
    public const string KubePluralName = "experts";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [Description("What the user asks for: the domain, the seed, and how to obtain the expert.")]
    [Required]
    [JsonPropertyName("spec")]
    public ExpertSpec Spec { get; set; } = new();

    [Description("What the operator observed; written by the operator only.")]
    [JsonPropertyName("status")]
    public ExpertStatus? Status { get; set; }

    public IConditionedStatus EnsureStatus() => Status ??= new ExpertStatus();
}

/// <summary>A page of Experts, as list calls return them.</summary>
[KubernetesEntity(Group = Expert.KubeGroup, ApiVersion = Expert.KubeApiVersion, Kind = KubeKind, PluralName = Expert.KubePluralName)]
public sealed class ExpertList : IKubernetesObject<V1ListMeta>, IItems<Expert>
{
    public const string KubeKind = "ExpertList";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<Expert> Items { get; set; } = [];
}

[Description("Desired state of an Expert.")]
[CelRule("has(self.training) != has(self.__import__)",
    "exactly one of training or import must be set: train the expert from the seed model, or import a dense checkpoint")]
public sealed class ExpertSpec
{
    [Description("Domain the expert specialises in: its name in routing reports, evaluation tables and explicit mixes. " +
                 "Immutable.")]
    [Required, MaxLength(Patterns.DnsLabelMaxLength), Pattern(Patterns.DnsLabel)]
    [CelRule("self == oldSelf", "domain is immutable: model revisions and routing reports refer to it; create another Expert instead")]
    [JsonPropertyName("domain")]
    public string Domain { get; set; } = "";

    [Description("The domain's data: a prepared dataset domain folder (nexus data prepare) or a folder of text files. " +
                 "It trains the expert, is sampled for the domain embedding, and joins every finetune and evaluation " +
                 "of the models that include the expert — so an imported expert names it too.")]
    [Required]
    [JsonPropertyName("data")]
    public ArtifactSource Data { get; set; } = new();

    [Description("The seed model every expert of a NexusModel starts from; its FFN becomes the shared expert, and " +
                 "by default it computes the domain embedding.")]
    [Required]
    [JsonPropertyName("seed")]
    public ArtifactSource Seed { get; set; } = new();

    [Description("Train the expert from the seed model on the domain's data. Exactly one of training and import.")]
    [JsonPropertyName("training")]
    public ExpertTraining? Training { get; set; }

    [Description("Import an existing dense checkpoint of the seed's architecture instead of training. Exactly one of " +
                 "training and import.")]
    [JsonPropertyName("import")]
    public ArtifactSource? Import { get; set; }

    [Description("How the domain embedding is obtained; by default the seed model's mean final hidden state over " +
                 "65536 tokens of the domain's data.")]
    [Default]
    [JsonPropertyName("embedding")]
    public EmbeddingSpec Embedding { get; set; } = new();

    [Description("Compute and placement of the training and embedding Jobs.")]
    [Default]
    [JsonPropertyName("resources")]
    public WorkloadResources Resources { get; set; } = new();
}

/// <summary>
/// The domain embedding: computed from the seed model over a sample of the domain's data (the default), or given.
/// </summary>
[Description("How the expert's domain embedding is obtained.")]
[CelRule("!(has(self.sampleTokens) && has(self.vectorUri))",
    "set sampleTokens (computed with the seed model) or vectorUri (a precomputed vector), not both")]
public sealed class EmbeddingSpec
{
    /// <summary>Tokens averaged when neither <see cref="SampleTokens"/> nor <see cref="VectorUri"/> is set.</summary>
    public const long DefaultSampleTokens = 65_536;

    [Description("Tokens of the domain's data the seed model's final hidden state is averaged over " +
                 "(tokens; 65536 when neither this nor vectorUri is set).")]
    [Minimum(1), Maximum(1_000_000_000)]
    [JsonPropertyName("sampleTokens")]
    public long? SampleTokens { get; set; }

    [Description("A precomputed domain embedding instead (JSON array or whitespace-separated numbers, in the seed " +
                 "model's hidden size): s3://BUCKET/KEY or file:///ABSOLUTE/PATH.")]
    [MaxLength(Patterns.UriMaxLength), CelRule(Patterns.ArtifactUriRule, Patterns.ArtifactUriMessage)]
    [JsonPropertyName("vectorUri")]
    public string? VectorUri { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<ExpertPhase>))]
public enum ExpertPhase
{
    /// <summary>Accepted, no Job started yet (or waiting for a queue).</summary>
    Pending,
    /// <summary>The training Job runs.</summary>
    Training,
    /// <summary>The imported checkpoint is being copied and verified.</summary>
    Importing,
    /// <summary>The embedding Job runs.</summary>
    Embedding,
    /// <summary>Checkpoint and embedding are in the artifact store; NexusModels may use the expert.</summary>
    Ready,
    /// <summary>A step failed in a way retrying will not fix; the conditions say why.</summary>
    Failed,
}

[Description("Observed state of an Expert.")]
public sealed class ExpertStatus : IConditionedStatus
{
    [Description("Summary of where the expert is in its lifecycle, derived from the conditions.")]
    [JsonPropertyName("phase")]
    public ExpertPhase? Phase { get; set; }

    [Description("The metadata.generation this status describes.")]
    [Minimum(0)]
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    [Description("Ready, Reconciling and Stalled (kstatus), plus CheckpointReady and EmbeddingReady.")]
    [MaxItems(32), ListMap("type")]
    [JsonPropertyName("conditions")]
    public IList<V1Condition>? Conditions { get; set; }

    [Description("The training data URI, or the imported checkpoint's URI.")]
    [MaxLength(Patterns.UriMaxLength)]
    [JsonPropertyName("source")]
    public string? Source { get; set; }

    [Description("What the expert's Jobs produced.")]
    [JsonPropertyName("artifacts")]
    public ExpertArtifacts? Artifacts { get; set; }

    [Description("Validation metrics of the trained (or imported) expert on its own domain.")]
    [JsonPropertyName("metrics")]
    public ExpertMetrics? Metrics { get; set; }

    [Description("Name of the Job running now, if any.")]
    [MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("activeJob")]
    public string? ActiveJob { get; set; }

    [Description("When the first Job of the current generation was created.")]
    [JsonPropertyName("startTime")]
    public DateTime? StartTime { get; set; }

    [Description("When the expert became Ready (or Failed) for the current generation.")]
    [JsonPropertyName("completionTime")]
    public DateTime? CompletionTime { get; set; }

    [Description("Human-readable detail on the current phase.")]
    [MaxLength(Patterns.MessageMaxLength)]
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

[Description("Artifacts of an expert.")]
public sealed class ExpertArtifacts
{
    [Description("The dense expert model folder (config, weights, tokenizer).")]
    [JsonPropertyName("checkpoint")]
    public ArtifactReference? Checkpoint { get; set; }

    [Description("The domain-embedding file (nexus embed output).")]
    [JsonPropertyName("embedding")]
    public ArtifactReference? Embedding { get; set; }
}

[Description("Validation metrics of an expert on its own domain.")]
public sealed class ExpertMetrics
{
    [Description("Mean cross-entropy on the domain's validation split (nats per token).")]
    [JsonPropertyName("validationLoss")]
    public double? ValidationLoss { get; set; }

    [Description("exp(validationLoss) (dimensionless, lower is better).")]
    [JsonPropertyName("validationPerplexity")]
    public double? ValidationPerplexity { get; set; }

    [Description("Tokens the expert was trained on (tokens; 0 for an import).")]
    [Minimum(0)]
    [JsonPropertyName("trainedTokens")]
    public long? TrainedTokens { get; set; }
}
