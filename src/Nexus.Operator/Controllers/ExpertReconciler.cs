using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Events;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Controllers;

/// <summary>
/// An Expert's lifecycle: observe (the output artifacts, the Jobs and their pods), decide (<see cref="ExpertProgress"/>),
/// apply (create the one Job the decision asks for; Jobs are never updated), report (status, only when it changed, and an
/// Event per phase change or failure). A deleted Expert's artifacts are removed before its finalizer.
/// </summary>
public sealed class ExpertReconciler(ControllerContext<Expert> context, OperatorSettings settings, ArtifactStoreFactory stores) : IReconciler<Expert>
{
    /// <summary>Holds a deleted Expert until its artifacts are removed from the store.</summary>
    public const string ArtifactsFinalizer = "nexus.moe/artifacts";

    private readonly ArtifactPaths _paths = new(settings);
    private readonly StepJobs _steps = new(context.Informers, stores, context.Client, context.Events, settings);

    public async Task<ReconcileResult> ReconcileAsync(Expert expert, CancellationToken cancellationToken)
    {
        if (Finalizers.IsDeleting(expert))
        {
            if (Finalizers.Has(expert, ArtifactsFinalizer))
            {
                await RemoveArtifactsAsync(expert, cancellationToken);
                await Finalizers.RemoveAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);
            }

            return ReconcileResult.Done;
        }

        // First, so that an Expert deleted from here on is held until its artifacts are removed.
        expert = await Finalizers.AddAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);

        StepInvocation checkpointStep, embedStep;
        try
        {
            checkpointStep = expert.Spec.Import is not null ? StepCommands.Import(expert, _paths) : StepCommands.Train(expert, _paths);
            embedStep = StepCommands.Embed(expert, _paths);
        }
        catch (ArgumentException invalid)
        {
            return ReconcileResult.Terminal(Reasons.InvalidSpec, invalid.Message);
        }

        var checkpoint = await _steps.ObserveAsync(expert.Metadata.NamespaceProperty, checkpointStep, expert.Status?.Artifacts?.Checkpoint, cancellationToken);
        var embedding = checkpoint.Result is null
            ? null
            : await _steps.ObserveAsync(expert.Metadata.NamespaceProperty, embedStep, expert.Status?.Artifacts?.Embedding, cancellationToken);
        if (StepJobs.ForeignJob(expert, [checkpoint, embedding]) is { } wait)
        {
            return wait;
        }

        var decision = ExpertProgress.Decide(checkpoint, embedding);
        if (decision.Create is { } step && await _steps.CreateAsync(expert, step, expert.Spec.Resources, cancellationToken) is { } stalled)
        {
            return stalled;
        }

        var previous = expert.Status;
        var written = await context.Status.UpdateAsync(
            expert, copy => ExpertProgress.Apply(copy, decision, context.Time.GetUtcNow()), cancellationToken);
        if (written.Written)
        {
            context.Events.RecordTransition(written.Resource, previous?.Phase, previous?.Message, decision.Phase, decision.Health, decision.Reason, decision.Message);
        }

        return ReconcileResult.Done;
    }

    /// <summary>Removes every generation's run, imported model and embedding (the locations under the Expert's uid
    /// prefix); locations never published are skipped.</summary>
    private async Task RemoveArtifactsAsync(Expert expert, CancellationToken cancellationToken)
    {
        for (var generation = 1L; generation <= (expert.Metadata.Generation ?? 1); generation++)
        {
            var past = new Expert
            {
                Metadata = new V1ObjectMeta
                {
                    Name = expert.Metadata.Name,
                    NamespaceProperty = expert.Metadata.NamespaceProperty,
                    Uid = expert.Metadata.Uid,
                    Generation = generation,
                },
                Spec = expert.Spec,
            };
            foreach (var uri in new[] { _paths.ExpertRun(past), _paths.ExpertImport(past), _paths.ExpertEmbedding(past) })
            {
                var store = stores(uri);
                try
                {
                    if (await store.RemoveAsync(cancellationToken))
                    {
                        context.Events.Record(expert, EventType.Normal, "ArtifactRemoved", $"Removed artifact {uri}.");
                    }
                }
                finally
                {
                    (store as IDisposable)?.Dispose();
                }
            }
        }
    }
}
