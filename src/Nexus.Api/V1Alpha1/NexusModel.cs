using System.ComponentModel;
using System.Runtime.Serialization;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>
/// A Nexus Mixture-of-Experts model: the selected Experts upcycled into one MoE around the seed model, finetuned,
/// served, and extended in place as experts come and go. Every model it builds is a numbered revision.
/// </summary>
[KubernetesEntity(Group = KubeGroup, ApiVersion = KubeApiVersion, Kind = KubeKind, PluralName = KubePluralName)]
[Description("NexusModel upcycles selected Experts into a Nexus Mixture-of-Experts model, finetunes and serves it, " +
             "and extends it when experts are added or removed. Each model it builds is a numbered revision.")]
[ShortNames("nm")]
[PrinterColumn("Phase", "string", ".status.phase", Description = "Lifecycle phase")]
[PrinterColumn("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status", Description = "Ready condition")]
[PrinterColumn("Revision", "integer", ".status.currentRevision", Description = "Latest built (or pinned) revision")]
[PrinterColumn("Served", "integer", ".status.servedRevision", Description = "Revision the serving Deployment runs")]
[PrinterColumn("Experts", "integer", ".status.expertCount", Description = "Routed experts in the current revision")]
[PrinterColumn("Age", "date", ".metadata.creationTimestamp")]
public sealed class NexusModel : IKubernetesObject<V1ObjectMeta>, ISpec<NexusModelSpec>, IStatus<NexusModelStatus?>, INexusResource
{
    public const string KubeGroup = GroupVersion.Group;
    public const string KubeApiVersion = GroupVersion.Version;
    public const string KubeKind = "NexusModel";
    public const string KubePluralName = "nexusmodels";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [Description("What the user asks for: the seed, the experts, how to train, extend and serve the model.")]
    [Required]
    [JsonPropertyName("spec")]
    public NexusModelSpec Spec { get; set; } = new();

    [Description("What the operator observed; written by the operator only.")]
    [JsonPropertyName("status")]
    public NexusModelStatus? Status { get; set; }

    public IConditionedStatus EnsureStatus() => Status ??= new NexusModelStatus();
}

/// <summary>A page of NexusModels, as list calls return them.</summary>
[KubernetesEntity(Group = NexusModel.KubeGroup, ApiVersion = NexusModel.KubeApiVersion, Kind = KubeKind, PluralName = NexusModel.KubePluralName)]
public sealed class NexusModelList : IKubernetesObject<V1ListMeta>, IItems<NexusModel>
{
    public const string KubeKind = "NexusModelList";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = GroupVersion.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KubeKind;

    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<NexusModel> Items { get; set; } = [];
}

[Description("Desired state of a NexusModel.")]
public sealed class NexusModelSpec
{
    [Description("The seed model the experts were trained from: its FFN becomes the shared expert of every MoE layer. " +
                 "Every selected Expert must name the same seed.")]
    [Required]
    [JsonPropertyName("seed")]
    public ArtifactSource Seed { get; set; } = new();

    [Description("Which Experts (in this namespace) become routed experts.")]
    [Required]
    [JsonPropertyName("experts")]
    public ExpertSelection Experts { get; set; } = new();

    [Description("The router that picks an expert per token.")]
    [Default]
    [JsonPropertyName("router")]
    public RouterSpec Router { get; set; } = new();

    [Description("The finetune after upcycling.")]
    [Default]
    [JsonPropertyName("finetune")]
    public FinetuneSpec Finetune { get; set; } = new();

    [Description("What happens when the selection gains or loses experts after the first revision.")]
    [Default]
    [JsonPropertyName("extension")]
    public ExtensionPolicySpec Extension { get; set; } = new();

    [Description("Pin the served model to this earlier revision (a rollback); unset serves the latest revision. " +
                 "The revision must still be in status.revisions.")]
    [Minimum(1)]
    [JsonPropertyName("revision")]
    public int? Revision { get; set; }

    [Description("Revisions kept in status.revisions (and their artifacts); the oldest are pruned first, never the current or served one.")]
    [Default, Minimum(1), Maximum(50)]
    [JsonPropertyName("revisionHistoryLimit")]
    public int RevisionHistoryLimit { get; set; } = 10;

    [Description("The inference Deployment and Service.")]
    [Default]
    [JsonPropertyName("serving")]
    public ServingSpec Serving { get; set; } = new();

    [Description("Compute and placement of the upcycle, finetune, extension and evaluation Jobs.")]
    [Default]
    [JsonPropertyName("resources")]
    public WorkloadResources Resources { get; set; } = new();
}

/// <summary>The experts of a model: by label (new matches extend the model) or by name.</summary>
[Description("Experts to route between, by label selector or by name; exactly one.")]
[CelRule("has(self.selector) != has(self.names)", "exactly one of selector or names must be set")]
public sealed class ExpertSelection
{
    [Description("Experts whose labels match. An Expert that starts matching later extends the model; one that " +
                 "stops matching is removed from it.")]
    [JsonPropertyName("selector")]
    public V1LabelSelector? Selector { get; set; }

    [Description("Experts by metadata.name.")]
    [MinItems(1), MaxItems(64), ListSet, MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.DnsSubdomain)]
    [JsonPropertyName("names")]
    public IList<string>? Names { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<RouterType>))]
public enum RouterType
{
    /// <summary>Routes by projecting each domain's embedding into an expert embedding (the Nexus router).</summary>
    [JsonStringEnumMemberName("nexus"), EnumMember(Value = "nexus")]
    Nexus,

    /// <summary>A randomly initialised linear router (the BTX-style baseline); reset on every extension.</summary>
    [JsonStringEnumMemberName("linear"), EnumMember(Value = "linear")]
    Linear,
}

[Description("The router of every MoE layer.")]
public sealed class RouterSpec
{
    [Description("nexus: expert embeddings projected from domain embeddings (new experts are routable at once); " +
                 "linear: a learned linear router (the baseline), reset on every extension.")]
    [Default]
    [JsonPropertyName("type")]
    public RouterType Type { get; set; } = RouterType.Nexus;

    [Description("Routed experts per token (experts; the shared expert always runs in addition).")]
    [Default, Minimum(1), Maximum(8)]
    [JsonPropertyName("topK")]
    public int TopK { get; set; } = 1;

    [Description("Weight of the Switch load-balancing loss added to the finetune's cross-entropy (dimensionless).")]
    [Default, Minimum(0), Maximum(1)]
    [JsonPropertyName("auxLossCoefficient")]
    public double AuxLossCoefficient { get; set; } = 0.05;

    [Description("Width of the Nexus router's SwiGLU projection (units); unset: the model's hidden size. Ignored by " +
                 "the linear router.")]
    [Minimum(1), Maximum(65_536)]
    [JsonPropertyName("projectionSize")]
    public int? ProjectionSize { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<ExtensionPolicy>))]
public enum ExtensionPolicy
{
    /// <summary>The operator creates an Extension as soon as the selection changes.</summary>
    Automatic,
    /// <summary>Selection changes wait for a user-created Extension.</summary>
    Manual,
}

/// <summary>How the model follows changes in its expert selection after the first revision.</summary>
[Description("How the model takes in experts added to or removed from its selection.")]
public sealed class ExtensionPolicySpec
{
    [Description("Automatic: the operator creates an Extension when the selection changes; Manual: the model waits " +
                 "for a user-created Extension.")]
    [Default]
    [JsonPropertyName("policy")]
    public ExtensionPolicy Policy { get; set; } = ExtensionPolicy.Automatic;

    [Description("Budget of the short finetune after experts are added or removed.")]
    [Default]
    [JsonPropertyName("finetune")]
    public ExtensionFinetune Finetune { get; set; } = new();

    [Description("Share of the extension finetune's sequences drawn from the new domains (fraction, 0 to 1); the " +
                 "rest is spread uniformly over the existing domains.")]
    [Default, Minimum(0, Exclusive = true), Maximum(1, Exclusive = true)]
    [JsonPropertyName("newDomainShare")]
    public double NewDomainShare { get; set; } = 0.5;
}

[JsonConverter(typeof(JsonStringEnumConverter<ServingRuntime>))]
public enum ServingRuntime
{
    /// <summary>The project's own server (nexus serve): OpenAI-compatible completions.</summary>
    [JsonStringEnumMemberName("builtin"), EnumMember(Value = "builtin")]
    Builtin,

    /// <summary>vLLM, on the model's standard Qwen2-MoE export.</summary>
    [JsonStringEnumMemberName("vllm"), EnumMember(Value = "vllm")]
    Vllm,
}

[Description("The inference Deployment and its Service.")]
public sealed class ServingSpec
{
    [Description("Serving pods; 0 stops serving and keeps the model.")]
    [Default, Minimum(0), Maximum(64)]
    [JsonPropertyName("replicas")]
    public int Replicas { get; set; } = 1;

    [Description("builtin: nexus serve (OpenAI-compatible completions); vllm: vLLM on the standard Qwen2-MoE export.")]
    [Default]
    [JsonPropertyName("runtime")]
    public ServingRuntime Runtime { get; set; } = ServingRuntime.Builtin;

    [Description("Compute and placement of the serving pods.")]
    [Default]
    [JsonPropertyName("resources")]
    public WorkloadResources Resources { get; set; } = new();

    [Description("How the Deployment rolls to a new revision.")]
    [Default]
    [JsonPropertyName("strategy")]
    public RolloutStrategy Strategy { get; set; } = new();

    [Description("Container and Service port of the HTTP API.")]
    [Default, Minimum(1), Maximum(65_535)]
    [JsonPropertyName("port")]
    public int Port { get; set; } = 8080;
}

/// <summary>
/// The rolling update of the serving Deployment. The default surges one pod so a revision rolls out without
/// downtime; where a spare GPU is not to be had, surge 0 / unavailable 1 trades one replica's capacity for it.
/// </summary>
[Description("Rolling update of the serving Deployment.")]
[CelRule("!(has(self.maxSurge) && has(self.maxUnavailable) && string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
    "maxSurge and maxUnavailable cannot both be 0: the rollout could never make progress; on GPU-scarce clusters use " +
    "maxSurge: 0 and maxUnavailable: 1", FieldPath = ".maxUnavailable")]
public sealed class RolloutStrategy
{
    [Description("Pods created above replicas during a rollout: a number, or a percentage such as 25%. Each needs its " +
                 "own GPUs.")]
    [Default, Pattern(Patterns.Percent)]
    [JsonPropertyName("maxSurge")]
    public IntOrString? MaxSurge { get; set; } = 1;

    [Description("Pods that may be unavailable during a rollout: a number, or a percentage such as 25%. Set 1 with " +
                 "maxSurge 0 where no spare GPU exists.")]
    [Default, Pattern(Patterns.Percent)]
    [JsonPropertyName("maxUnavailable")]
    public IntOrString? MaxUnavailable { get; set; } = 0;
}

[JsonConverter(typeof(JsonStringEnumConverter<NexusModelPhase>))]
public enum NexusModelPhase
{
    /// <summary>Waiting for the selected experts to become Ready.</summary>
    Pending,
    /// <summary>The upcycle Job merges the experts into an MoE.</summary>
    Upcycling,
    /// <summary>The finetune Job trains the upcycled MoE.</summary>
    Finetuning,
    /// <summary>An Extension adds or removes experts.</summary>
    Extending,
    /// <summary>The serving Deployment moves to a new revision.</summary>
    RollingOut,
    /// <summary>The current revision is built and served.</summary>
    Ready,
    /// <summary>A step failed in a way retrying will not fix; the conditions say why.</summary>
    Failed,
}

[Description("Observed state of a NexusModel.")]
public sealed class NexusModelStatus : IConditionedStatus
{
    [Description("Summary of where the model is in its lifecycle, derived from the conditions.")]
    [JsonPropertyName("phase")]
    public NexusModelPhase? Phase { get; set; }

    [Description("The metadata.generation this status describes.")]
    [Minimum(0)]
    [JsonPropertyName("observedGeneration")]
    public long? ObservedGeneration { get; set; }

    [Description("Ready, Reconciling and Stalled (kstatus), plus ExpertsReady, RevisionReady, Available and (Manual extension policy) ExtensionPending.")]
    [MaxItems(32), ListMap("type")]
    [JsonPropertyName("conditions")]
    public IList<V1Condition>? Conditions { get; set; }

    [Description("The revision the model should serve: the latest one built, or spec.revision while that pins an " +
                 "earlier one (a rollback builds nothing new).")]
    [Minimum(1)]
    [JsonPropertyName("currentRevision")]
    public int? CurrentRevision { get; set; }

    [Description("The revision the serving Deployment has fully rolled out.")]
    [Minimum(1)]
    [JsonPropertyName("servedRevision")]
    public int? ServedRevision { get; set; }

    [Description("Expert names of the current revision, in router order.")]
    [MaxItems(64), MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("experts")]
    public IList<string>? Experts { get; set; }

    [Description("Number of routed experts in the current revision.")]
    [Minimum(0)]
    [JsonPropertyName("expertCount")]
    public int? ExpertCount { get; set; }

    [Description("Revision history, oldest first, at most spec.revisionHistoryLimit entries.")]
    [MaxItems(50), ListMap("revision")]
    [JsonPropertyName("revisions")]
    public IList<ModelRevision>? Revisions { get; set; }

    [Description("In-cluster URL of the OpenAI-compatible API, e.g. http://NAME.NAMESPACE.svc:8080.")]
    [MaxLength(Patterns.UriMaxLength)]
    [JsonPropertyName("endpoint")]
    public string? Endpoint { get; set; }

    [Description("Serving pods that are ready.")]
    [Minimum(0)]
    [JsonPropertyName("readyReplicas")]
    public int? ReadyReplicas { get; set; }

    [Description("Name of the Job running now, if any.")]
    [MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("activeJob")]
    public string? ActiveJob { get; set; }

    [Description("Human-readable detail on the current phase.")]
    [MaxLength(Patterns.MessageMaxLength)]
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

[JsonConverter(typeof(JsonStringEnumConverter<RevisionReason>))]
public enum RevisionReason
{
    /// <summary>The first model built from the selection.</summary>
    Initial,
    /// <summary>Experts were appended by an Extension.</summary>
    Extension,
    /// <summary>Experts were dropped by an Extension.</summary>
    Removal,
    /// <summary>A spec change (seed, router or finetune) needed a fresh upcycle and finetune.</summary>
    Rebuild,
}

/// <summary>One model the NexusModel built: what went in, where it is, and how good it is.</summary>
[Description("A model revision: its experts, artifact and evaluation.")]
public sealed class ModelRevision
{
    [Description("Revision number, from 1, increasing.")]
    [Required, Minimum(1)]
    [JsonPropertyName("revision")]
    public int Revision { get; set; }

    [Description("Routed experts in router order.")]
    [MaxItems(64)]
    [JsonPropertyName("experts")]
    public IList<RevisionExpert>? Experts { get; set; }

    [Description("The finetuned MoE model folder.")]
    [JsonPropertyName("model")]
    public ArtifactReference? Model { get; set; }

    [Description("Evaluation of this revision on every domain.")]
    [JsonPropertyName("metrics")]
    public EvaluationMetrics? Metrics { get; set; }

    [Description("When the revision's model was built.")]
    [JsonPropertyName("createdAt")]
    public DateTime? CreatedAt { get; set; }

    [Description("Why the revision exists: Initial, Extension, Removal or Rebuild.")]
    [JsonPropertyName("reason")]
    public RevisionReason? Reason { get; set; }

    [Description("The Extension that produced the revision, if one did.")]
    [MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("extension")]
    public string? Extension { get; set; }

    [Description("SHA-256 of the spec fields the model was built from (seed, router, finetune), so a change to them " +
                 "is told apart from one to serving or extension settings, which need no rebuild.")]
    [MaxLength(64)]
    [JsonPropertyName("buildSpecHash")]
    public string? BuildSpecHash { get; set; }
}

[Description("A routed expert of a revision.")]
public sealed class RevisionExpert
{
    [Description("The Expert's metadata.name.")]
    [Required, MaxLength(Patterns.DnsSubdomainMaxLength)]
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [Description("The Expert's domain.")]
    [MaxLength(Patterns.DnsLabelMaxLength)]
    [JsonPropertyName("domain")]
    public string? Domain { get; set; }

    [Description("SHA-256 of the expert checkpoint the revision was built from; a retrained expert has another.")]
    [Pattern(Patterns.Sha256)]
    [JsonPropertyName("checkpointSha256")]
    public string? CheckpointSha256 { get; set; }
}
