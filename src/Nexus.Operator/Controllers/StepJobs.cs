using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Events;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>A step's Job for any owner (Expert, NexusModel, Extension): observed — the Job and its pods from the caches,
/// the result from the store — created, and deleted when it is stale.</summary>
public sealed class StepJobs(
    InformerFactory informers, ArtifactStoreFactory stores, IKubernetes? client, IEventRecorder events, OperatorSettings settings)
{
    /// <summary>
    /// The step's result is the one already recorded in the owner's status for this step's location, or else what its
    /// output's manifest lists — read only while no Job exists (the TTL deleted it, or the operator restarted: the step
    /// must not run again) or once the Job has finished. A running step publishes its result before its Job completes,
    /// so reading the store meanwhile would only cost a request per reconcile.
    /// </summary>
    public async Task<StepObservation> ObserveAsync(
        string? @namespace, StepInvocation step, ArtifactReference? recorded, CancellationToken cancellationToken)
    {
        var job = informers.Cache<V1Job>().Get(@namespace, step.JobName);
        var pods = job?.Metadata.Uid is { } uid ? informers.Cache<V1Pod>().ByOwner(uid) : [];
        var result = recorded is { Sha256.Length: > 0 } && recorded.Uri == JobReadings.ResultUri(step)
            ? recorded
            : job is null || IsFinished(job)
                ? JobReadings.Result(step, await ReadManifestAsync(step.OutputUri, cancellationToken))
                : null;
        return new StepObservation(step, result, job, pods);
    }

    /// <summary>
    /// Creates the step's Job (<see cref="StepJob.Build"/> with <paramref name="resources"/>), never updates one: its name
    /// is the owner's and the generation's or revision's, so 409 AlreadyExists means an earlier reconcile created it and
    /// the Job cache has not seen it yet (its event reconciles the owner again). A Job the spec cannot be built into
    /// (<see cref="ArgumentException"/> naming the field) is the reconcile's Terminal outcome; null otherwise.
    /// </summary>
    public async Task<ReconcileResult?> CreateAsync(
        IKubernetesObject<V1ObjectMeta> owner, StepInvocation step, WorkloadResources resources, CancellationToken cancellationToken)
    {
        V1Job job;
        try
        {
            job = StepJob.Build(owner, step, resources, settings);
        }
        catch (ArgumentException invalid)
        {
            return ReconcileResult.Terminal(Reasons.InvalidSpec, invalid.Message);
        }

        var kubernetes = client ?? throw new InvalidOperationException($"The {owner.Kind} reconciler needs a Kubernetes client to create Jobs.");
        try
        {
            await kubernetes.BatchV1.CreateNamespacedJobAsync(job, job.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
            events.Record(owner, EventType.Normal, "JobCreated", $"Created Job {job.Metadata.Name}.");
        }
        catch (HttpOperationException exists) when (exists.Response.StatusCode == HttpStatusCode.Conflict)
        {
        }

        return null;
    }

    /// <summary>A Retry while one of the observed steps' Jobs exists but is not <paramref name="owner"/>'s (a deleted
    /// namesake's, still being collected); null when every existing Job is its own.</summary>
    public static ReconcileResult? ForeignJob(IKubernetesObject<V1ObjectMeta> owner, IEnumerable<StepObservation?> steps) =>
        steps.FirstOrDefault(step => step?.Job is { } job && !OwnerReferences.IsControlledBy(job, owner)) is { } foreign
            ? ReconcileResult.Retry($"Job {foreign.Step.JobName} exists but is not this {owner.Kind}'s (a deleted namesake's, still being collected)")
            : null;

    /// <summary>The step's result as its output's manifest lists it now (null when nothing is published).</summary>
    public async Task<ArtifactReference?> ReadResultAsync(StepInvocation step, CancellationToken cancellationToken) =>
        JobReadings.Result(step, await ReadManifestAsync(step.OutputUri, cancellationToken));

    /// <summary>The text of a one-file output (an evaluation report), fetched once, when its owner records it.</summary>
    public async Task<string?> ReadSingleFileAsync(StepInvocation step, string uri, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"nexus-report-{Guid.NewGuid():N}");
        var store = stores(uri);
        try
        {
            var manifest = await store.FetchAsync(folder, cancellationToken);
            return JobReadings.SingleFile(step, manifest) is { } file
                ? await File.ReadAllTextAsync(Path.Combine(folder, file.Path), cancellationToken)
                : null;
        }
        finally
        {
            (store as IDisposable)?.Dispose();
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>Deletes <paramref name="job"/> with Background propagation (the Job goes at once, its pods after it) and a
    /// uid precondition, so a newer Job of the same name is never hit. False when it was already gone or replaced.</summary>
    public async Task<bool> DeleteAsync(V1Job job, CancellationToken cancellationToken)
    {
        var kubernetes = client ?? throw new InvalidOperationException("Deleting a stale Job needs a Kubernetes client.");
        try
        {
            await kubernetes.BatchV1.DeleteNamespacedJobAsync(job.Metadata.Name, job.Metadata.NamespaceProperty,
                new V1DeleteOptions { PropagationPolicy = "Background", Preconditions = new V1Preconditions { Uid = job.Metadata.Uid } },
                cancellationToken: cancellationToken);
            return true;
        }
        catch (HttpOperationException gone) when (gone.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Deleted by an earlier reconcile (the cache has not seen it yet), or a Job of the same name with another uid.
            return false;
        }
    }

    private static bool IsFinished(V1Job job) =>
        job.Status?.Conditions?.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True") == true;

    private async Task<ArtifactManifest?> ReadManifestAsync(string uri, CancellationToken cancellationToken)
    {
        var store = stores(uri);
        try
        {
            return await store.GetManifestAsync(cancellationToken);
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }
    }
}
