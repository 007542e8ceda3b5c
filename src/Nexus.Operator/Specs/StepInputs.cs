using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// An Expert as the input of a model's step, resolved by the reconciler: its name, its domain (the name the CLI, the
/// router and the reports use) and the locations the step reads. What a step does not read may be null: removing an
/// expert needs only its domain.
/// </summary>
public sealed record ExpertInput(string Name, string Domain)
{
    /// <summary>The dense expert checkpoint (status.artifacts.checkpoint.uri).</summary>
    public string? CheckpointUri { get; init; }

    /// <summary>The domain-embedding file (status.artifacts.embedding.uri).</summary>
    public string? EmbeddingUri { get; init; }

    /// <summary>The domain's data (spec.data.uri): it joins every finetune and evaluation of the model.</summary>
    public string? DataUri { get; init; }

    /// <summary>The inputs an Expert's spec and status give.</summary>
    public static ExpertInput From(Expert expert) => new(expert.Metadata.Name, expert.Spec.Domain)
    {
        CheckpointUri = expert.Status?.Artifacts?.Checkpoint?.Uri,
        EmbeddingUri = expert.Status?.Artifacts?.Embedding?.Uri,
        DataUri = expert.Spec.Data.Uri,
    };
}

/// <summary>
/// One step to run: the Job's name, the <c>nexus</c> arguments (the subcommand first) and the location of its result,
/// whose manifest the reconciler reads when the Job has succeeded.
/// </summary>
public sealed record StepInvocation(StepKind Kind, string JobName, IReadOnlyList<string> Arguments, string OutputUri)
{
    /// <summary>The NexusModel build the step belongs to (null for other owners' steps): its Job carries the build id,
    /// so a Job of the same name left by an attempt with other inputs is recognised as stale.</summary>
    public ModelBuild? Build { get; init; }
}

/// <summary>
/// The Jobs of an Extension, in order: one surgery per added expert (appended in spec.add order), then one per removed
/// expert; the last surgery also runs the finetune. <see cref="ModelUri"/> is the model of the new revision and
/// <see cref="Experts"/> its routed experts in router order.
/// </summary>
public sealed record ExtensionPlan(IReadOnlyList<StepInvocation> Surgeries, string ModelUri, IReadOnlyList<ExpertInput> Experts);
