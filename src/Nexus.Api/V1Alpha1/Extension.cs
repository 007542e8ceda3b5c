using System.ComponentModel;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>
/// One change to a NexusModel's experts: append new experts (their FFNs and domain embeddings), drop others, then a
/// short finetune; the result is the model's next revision. A one-shot request, so its spec never changes.
/// </summary>
[KubernetesEntity(Group = KubeGroup, ApiVersion = KubeApiVersion, Kind = KubeKind, PluralName = KubePluralName)]
[Description("Extension adds experts to or removes them from a NexusModel, finetunes briefly, and produces the " +
             "model's next revision. The operator creates one per selection change under the Automatic policy; users " +
             "create them under Manual. Immutable once created.")]
[ShortNames("ext")]
[PrinterColumn("Model", "string", ".spec.model", Description = "NexusModel being extended")]
[PrinterColumn("Phase", "string", ".status.phase", Description = "Lifecycle phase")]
[PrinterColumn("From", "integer", ".status.fromRevision", Description = "Revision extended")]
[PrinterColumn("To", "integer", ".status.toRevision", Description = "Revision produced")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", Description = "Ready condition")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class Extension : IKubernetesObject<V1ObjectMeta>, ISpec<ExtensionSpec>, IStatus<ExtensionStatus?>, INexusResource
{
    public const string KubeGroup = GroupVersion.Group;
    public const string KubeApiVersion = GroupVersion.Version;
    public const string KubeKind = "Extension";
    public const string KubePluralName = "extensions";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [Description("The change to make. Immutable: to change it, create another Extension.")]
    [Required]
    [JsonPropertyName("spec")]
    public ExtensionSpec Spec { get; set; } = new();

    [Description("What the operator observed; written by the operator only.")]
    [JsonPropertyName("status")]
    public ExtensionStatus? Status { get; set; }

    public IConditionedStatus EnsureStatus() => Status ??= new ExtensionStatus();
}

/// <summary>A page of Extensions, as list calls return them.</summary>
[KubernetesEntity(Group = Extension.KubeGroup, ApiVersion = Extension.KubeApiVersion, Kind = KubeKind, PluralName = Extension.KubePluralName)]
public sealed class ExtensionList : IKubernetesObject<V1ListMeta>, IItems<Extension>
{
    public const string KubeKind = "ExtensionList";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<Extension> Items { get; set; } = [];
}

[Description("Desired change of a NexusModel's experts.")]
[CelRule("self == oldSelf", "Extension spec is immutable: create another Extension for another change")]
[CelRule("(has(self.add) && size(self.add) > 0) || (has(self.remove) && size(self.remove) > 0)",
    "at least one of add or remove must name an expert")]
[CelRule("!has(self.add) || !has(self.remove) || !self.add.exists(name, name in self.remove)",
    "an expert cannot be both added and removed", FieldPath = ".remove")]
public sealed class ExtensionSpec
{
    [Description("The NexusModel (in this namespace) to extend.")]
    [Required, MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.DnsSubdomain)]
    [JsonPropertyName("model")]
    public string Model { get; set; } = "";

    [Description("Experts (metadata.name) to append as routed experts, in the order listed; each must be Ready and share " +
                 "the model's seed.")]
    [MaxItems(16), MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.DnsSubdomain)]
    [CelRule("self.all(name, self.exists_one(other, other == name))", "each expert may be added once")]
    [JsonPropertyName("add")]
    public IList<string>? Add { get; set; }

    [Description("Experts (metadata.name) to drop from the model.")]
    [MaxItems(16), ListSet, MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.DnsSubdomain)]
    [JsonPropertyName("remove")]
    public IList<string>? Remove { get; set; }

    [Description("Budget of the finetune after the change; unset: the model's spec.extension.finetune.")]
    [JsonPropertyName("finetune")]
    public ExtensionFinetune? Finetune { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<ExtensionPhase>))]
public enum ExtensionPhase
{
    /// <summary>Waiting for the model, the added experts or a queue.</summary>
    Pending,
    /// <summary>The extend and finetune Jobs run.</summary>
    Running,
    /// <summary>toRevision is built; the model rolls out to it.</summary>
    Succeeded,
    /// <summary>The change could not be made; the conditions say why.</summary>
    Failed,
}

[Description("Observed state of an Extension.")]
public sealed class ExtensionStatus : IConditionedStatus
{
    [Description("Summary of where the extension is in its lifecycle, derived from the conditions.")]
    [JsonPropertyName("phase")]
    public ExtensionPhase? Phase { get; set; }

    [Description("The metadata.generation this status describes.")]
    [Minimum(0)]
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    [Description("Ready, Reconciling and Stalled (kstatus).")]
    [MaxItems(32), ListMap("type")]
    [JsonPropertyName("conditions")]
    public IList<V1Condition>? Conditions { get; set; }

    [Description("The model revision the change was applied to.")]
    [Minimum(1)]
    [JsonPropertyName("fromRevision")]
    public int? FromRevision { get; set; }

    [Description("The model revision the change produced.")]
    [Minimum(1)]
    [JsonPropertyName("toRevision")]
    public int? ToRevision { get; set; }

    [Description("The experts spec.add appends, as they were when the extension started (name, domain, checkpoint " +
                 "SHA-256): what the new revision holds. An added Expert whose checkpoint changes while the extension runs " +
                 "fails it.")]
    [MaxItems(16)]
    [JsonPropertyName("added")]
    public IList<RevisionExpert>? Added { get; set; }

    [Description("Evaluation of the extended, finetuned model on every domain.")]
    [JsonPropertyName("metrics")]
    public EvaluationMetrics? Metrics { get; set; }

    [Description("What the extension's Jobs produced.")]
    [JsonPropertyName("artifacts")]
    public ExtensionArtifacts? Artifacts { get; set; }

    [Description("Name of the Job running now, if any.")]
    [MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("activeJob")]
    public string? ActiveJob { get; set; }

    [Description("When the first Job started.")]
    [JsonPropertyName("startTime")]
    public DateTime? StartTime { get; set; }

    [Description("When the extension Succeeded or Failed.")]
    [JsonPropertyName("completionTime")]
    public DateTime? CompletionTime { get; set; }

    [Description("Human-readable detail on the current phase.")]
    [MaxLength(Patterns.MessageMaxLength)]
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

[Description("Artifacts of an extension.")]
public sealed class ExtensionArtifacts
{
    [Description("The extended MoE before its finetune (nexus extend output).")]
    [JsonPropertyName("extended")]
    public ArtifactReference? Extended { get; set; }

    [Description("The finetuned model: toRevision's model.")]
    [JsonPropertyName("model")]
    public ArtifactReference? Model { get; set; }
}
