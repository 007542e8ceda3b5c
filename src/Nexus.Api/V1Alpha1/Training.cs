using System.ComponentModel;
using System.Runtime.Serialization;
using System.Text.Json.Serialization;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>
/// How long and how hard a training step runs: the options every <c>nexus</c> training command shares. One token
/// budget is <c>steps × batchSize × sequenceLength</c> tokens.
/// </summary>
[Description("Optimizer budget of a training step; tokens seen = steps x batchSize x sequenceLength.")]
[CelRule("!has(self.warmupSteps) || !has(self.steps) || self.warmupSteps <= self.steps",
    "warmupSteps must not exceed steps", FieldPath = ".warmupSteps")]
public abstract class TrainingBudget
{
    [Description("Optimizer steps.")]
    [Default, Minimum(1), Maximum(100_000_000)]
    [JsonPropertyName("steps")]
    public long Steps { get; set; } = 400;

    [Description("Sequences per optimizer step.")]
    [Default, Minimum(1), Maximum(4096)]
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; set; } = 16;

    [Description("Tokens per sequence.")]
    [Default, Minimum(8), Maximum(131_072)]
    [JsonPropertyName("sequenceLength")]
    public int SequenceLength { get; set; } = 128;

    [Description("Peak learning rate (per step, after warm-up; cosine decay follows).")]
    [Default, Minimum(0, Exclusive = true), Maximum(1)]
    [JsonPropertyName("learningRate")]
    public double LearningRate { get; set; } = 3e-3;

    [Description("Linear learning-rate warm-up, in optimizer steps; at most steps.")]
    [Default, Minimum(0), Maximum(100_000_000)]
    [JsonPropertyName("warmupSteps")]
    public long WarmupSteps { get; set; } = 30;

    [Description("Optimizer steps between checkpoints written to the artifact store, so a preempted Job resumes " +
                 "instead of starting over; 0 checkpoints only at the end.")]
    [Default, Minimum(0), Maximum(100_000_000)]
    [JsonPropertyName("checkpointEverySteps")]
    public long CheckpointEverySteps { get; set; } = 100;

    [Description("Seed for weight initialisation and batch order; the same seed, data and budget give the same model.")]
    [Default, Minimum(0)]
    [JsonPropertyName("randomSeed")]
    public long RandomSeed { get; set; } = 1234;
}

/// <summary>The dense training of an Expert from the seed model on its domain's data (spec.data).</summary>
[Description("Trains the expert from the seed model on its domain's data (spec.data).")]
public sealed class ExpertTraining : TrainingBudget;

/// <summary>The finetune that follows upcycling: router, experts and shared weights train on a mix of the domains.</summary>
[Description("Finetune of the upcycled MoE on a mix of its experts' domains.")]
public sealed class FinetuneSpec : TrainingBudget
{
    [Description("How the domains are weighted in each batch.")]
    [Default]
    [JsonPropertyName("mix")]
    public DataMix Mix { get; set; } = new();
}

/// <summary>
/// The short finetune after an extension (the paper uses 2 to 10% of the upcycling finetune's budget); its mix is
/// the new domain's share against the old domains, not a <see cref="DataMix"/>.
/// </summary>
[Description("Short finetune after experts are added or removed; a fraction of the upcycling finetune's budget.")]
public sealed class ExtensionFinetune : TrainingBudget
{
    public ExtensionFinetune()
    {
        Steps = 40;
        WarmupSteps = 0;
    }
}

[JsonConverter(typeof(JsonStringEnumConverter<MixType>))]
public enum MixType
{
    /// <summary>Each domain in proportion to its training tokens.</summary>
    [JsonStringEnumMemberName("proportional"), EnumMember(Value = "proportional")]
    Proportional,

    /// <summary>Every domain equally.</summary>
    [JsonStringEnumMemberName("uniform"), EnumMember(Value = "uniform")]
    Uniform,

    /// <summary>The weights listed in <see cref="DataMix.Weights"/>.</summary>
    [JsonStringEnumMemberName("explicit"), EnumMember(Value = "explicit")]
    Explicit,
}

/// <summary>Domain weights of a finetune's batches.</summary>
[Description("Domain weights of a finetune's batches.")]
[CelRule("(has(self.type) && self.type == 'explicit') == (has(self.weights) && size(self.weights) > 0)",
    "weights are required when type is explicit and not allowed otherwise", FieldPath = ".weights")]
public sealed class DataMix
{
    [Description("proportional: each domain by its training tokens; uniform: equal weights; explicit: the weights list.")]
    [Default]
    [JsonPropertyName("type")]
    public MixType Type { get; set; } = MixType.Proportional;

    [Description("Relative weight per domain, normalised to sum to 1; only with type explicit. Domains not listed get none.")]
    [MaxItems(64), ListMap("domain")]
    [JsonPropertyName("weights")]
    public IList<DomainWeight>? Weights { get; set; }
}

/// <summary>One domain's relative weight in an explicit mix.</summary>
[Description("A domain's relative weight in an explicit mix.")]
public sealed class DomainWeight
{
    [Description("The domain, as an Expert's spec.domain.")]
    [Required, MaxLength(Patterns.DnsLabelMaxLength), Pattern(Patterns.DnsLabel)]
    [JsonPropertyName("domain")]
    public string Domain { get; set; } = "";

    [Description("Relative weight (dimensionless); weights are normalised to sum to 1.")]
    [Required, Minimum(0, Exclusive = true), Maximum(1_000_000)]
    [JsonPropertyName("weight")]
    public double Weight { get; set; }
}
