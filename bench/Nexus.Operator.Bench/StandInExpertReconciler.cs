using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Bench;

/// <summary>
/// A STAND-IN for the Expert lifecycle reconciler of the next issue, so this benchmark measures the controller runtime
/// (informers, work queue, status writer, finalizers, owner references) under the load that reconciler will put on it.
/// It does what the lifecycle's first reconcile of a new Expert does, through the same runtime pieces: add the artifacts
/// finalizer (a patch, before any child exists), create the Expert's controlled Job (built by the real pure builders,
/// <see cref="StepCommands"/> and <see cref="StepJob"/>), and write status (observedGeneration, phase, Reconciling/Ready). On later reconciles of an unchanged
/// world it writes nothing. It never follows the Job to completion, computes no embedding and deletes no artifacts;
/// the real reconciler replaces it and this benchmark should then run that one.
/// </summary>
internal sealed class StandInExpertReconciler(ControllerContext<Expert> context) : IReconciler<Expert>
{
    /// <summary>Holds a deleted Expert until its artifacts are removed from the store.</summary>
    public const string ArtifactsFinalizer = "nexus.moe/artifacts";

    private static readonly OperatorSettings Settings = new();
    private static readonly ArtifactPaths Paths = new(Settings.ArtifactRoot);

    private long _jobCreatesFoundExisting;

    /// <summary>Job creates answered 409 AlreadyExists: the Job cache had not yet seen a Job an earlier reconcile made.</summary>
    public long JobCreatesFoundExisting => Interlocked.Read(ref _jobCreatesFoundExisting);

    public async Task<ReconcileResult> ReconcileAsync(Expert expert, CancellationToken cancellationToken)
    {
        if (Finalizers.IsDeleting(expert))
        {
            // The lifecycle reconciler deletes the Expert's artifacts here; the stand-in made none.
            await Finalizers.RemoveAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);
            return ReconcileResult.Done;
        }

        // First, so that an Expert deleted from here on is held until its cleanup has run.
        expert = await Finalizers.AddAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);

        var step = expert.Spec.Training is null ? StepCommands.Import(expert, Paths) : StepCommands.Train(expert, Paths);
        var desired = StepJob.Build(expert, step, expert.Spec.Resources, Settings);
        if (context.Informers.Cache<V1Job>().Get(expert.Metadata.NamespaceProperty, desired.Metadata.Name) is null)
        {
            await CreateAsync(desired, cancellationToken);
        }

        var jobName = desired.Metadata.Name;
        var importing = expert.Spec.Training is null;
        await context.Status.UpdateAsync(
            expert,
            copy =>
            {
                var status = copy.Status ??= new ExpertStatus();
                var now = context.Time.GetUtcNow();
                status.Phase = importing ? ExpertPhase.Importing : ExpertPhase.Training;
                status.Source = copy.Spec.Training is null ? copy.Spec.Import?.Uri : copy.Spec.Data.Uri;
                status.ActiveJob = jobName;
                status.StartTime ??= now.UtcDateTime;
                Conditions.MarkReconciling(
                    status,
                    importing ? Reasons.Importing : Reasons.Training,
                    importing ? $"Job {jobName} imports the checkpoint" : $"Job {jobName} trains the expert",
                    copy.Metadata.Generation,
                    now);
            },
            cancellationToken);
        return ReconcileResult.Done;
    }

    private async Task CreateAsync(V1Job job, CancellationToken cancellationToken)
    {
        var client = context.Client ?? throw new InvalidOperationException("The stand-in reconciler needs a Kubernetes client to create Jobs.");
        try
        {
            await client.BatchV1.CreateNamespacedJobAsync(job, job.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException exists) when (exists.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // The name is derived from this Expert and its generation, so the Job is the one an earlier reconcile made
            // and the Job cache has not caught up yet; its event will reconcile the Expert again.
            Interlocked.Increment(ref _jobCreatesFoundExisting);
        }
    }
}
