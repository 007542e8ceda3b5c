using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Events;
using Nexus.Operator.Policies;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>
/// A NexusModel's build and serving: observe (the namespace's Experts, the revision policy's verdict, the build's
/// artifacts and Jobs, the serving Deployment), decide (<see cref="RevisionPolicy"/>, <see cref="ModelProgress"/>),
/// apply (create the one build Job the decision asks for, never updating one; create the Deployment and the Service,
/// and move the Deployment to another revision by a merge patch of only the fields the operator owns), report (status,
/// only when it changed, and an Event per phase change or failure). A revision pruned from the history has its artifacts
/// removed, and a deleted NexusModel is held by a finalizer until every artifact it built is removed.
/// </summary>
public sealed class NexusModelReconciler(ControllerContext<NexusModel> context, OperatorSettings settings, ArtifactStoreFactory stores)
    : IReconciler<NexusModel>
{
    /// <summary>Holds a deleted NexusModel until its artifacts are removed from the store.</summary>
    public const string ArtifactsFinalizer = "nexus.moe/artifacts";

    /// <summary>Reason of the Warning Event (and of the retry) when artifacts could not be removed.</summary>
    public const string ArtifactRemovalFailed = "ArtifactRemovalFailed";

    private readonly ArtifactPaths _paths = new(settings);
    private readonly StepJobs _steps = new(context.Informers, stores, context.Client, context.Events, settings);

    /// <summary>Per model uid, pruned revisions whose folders could not be removed yet: retried with the queue's backoff.
    /// An operator restart forgets them (the folders then go with the model).</summary>
    private readonly ConcurrentDictionary<string, ImmutableSortedSet<int>> _unremoved = new();

    public async Task<ReconcileResult> ReconcileAsync(NexusModel model, CancellationToken cancellationToken)
    {
        if (Finalizers.IsDeleting(model))
        {
            if (Finalizers.Has(model, ArtifactsFinalizer))
            {
                if (!await RemoveFolderAsync(model, _paths.ModelFolder(model), "every artifact of the model", cancellationToken))
                {
                    return ReconcileResult.Retry(ArtifactRemovalFailed);
                }

                await Finalizers.RemoveAsync(context.Patcher, model, ArtifactsFinalizer, cancellationToken);
            }

            _unremoved.TryRemove(model.Metadata.Uid ?? "", out _);
            return ReconcileResult.Done;
        }

        // First, so that a model deleted from here on is held until its artifacts are removed.
        model = await Finalizers.AddAsync(context.Patcher, model, ArtifactsFinalizer, cancellationToken);

        var ns = model.Metadata.NamespaceProperty;
        ExpertSelectionResult selection;
        try
        {
            selection = ExpertSelector.Resolve(model.Spec.Experts, context.Informers.Cache<Expert>().List(ns));
        }
        catch (ArgumentException invalid)
        {
            return ReconcileResult.Terminal(Reasons.InvalidSpec, invalid.Message);
        }

        var now = context.Time.GetUtcNow();
        var extensions = NexusModelExtensions.Of(model, context.Informers.Cache<Extension>().List(ns));
        var adopted = NexusModelExtensions.Adopt(model, extensions, context.Informers.Cache<Expert>().List(ns), now);
        var active = extensions.FirstOrDefault(extension => !NexusModelExtensions.IsSettled(extension, model) && extension.Metadata.Name != adopted?.Extension);
        // Decided as of after the adoption: the status this reconcile writes tells of the revision it records.
        var decided = adopted is null ? model : NexusModelExtensions.WithRevision(model, adopted);
        var policy = RevisionPolicy.Decide(decided, selection,
            active is null ? null : $"{active.Metadata.Name} ({active.Status?.Phase ?? ExtensionPhase.Pending}{(active.Status?.Message is { Length: > 0 } said ? $": {said}" : "")})");
        BuildDecision? build = null;
        if (policy.Action == RevisionAction.Build)
        {
            BuildObservation observed;
            try
            {
                observed = await ObserveBuildAsync(decided, policy, cancellationToken);
            }
            catch (ArgumentException invalid)
            {
                return ReconcileResult.Terminal(Reasons.InvalidSpec, invalid.Message);
            }

            if (StepJobs.ForeignJob(model, [observed.Upcycle, observed.Finetune, observed.Evaluate]) is { } wait)
            {
                return wait;
            }

            build = ModelProgress.DecideBuild(observed, now, RevisionPolicy.BuildSpecHash(model.Spec));
            await DeleteStaleJobsAsync(model, build, cancellationToken);
            if (build.Create is { } step && await _steps.CreateAsync(model, step, model.Spec.Resources, cancellationToken) is { } stalled)
            {
                return stalled;
            }
        }
        else if (policy.Action == RevisionAction.Extend)
        {
            policy = await ExtendAsync(decided, policy, cancellationToken);
        }

        var recorded = build?.Built ?? adopted;
        var latest = recorded?.Revision ?? (model.Status?.Revisions ?? []).Select(revision => (int?)revision.Revision).Max();
        // Never pruned: the latest, the pinned and the served revision, and the one an Extension in flight starts from.
        var keep = new[] { latest, model.Spec.Revision, model.Status?.ServedRevision }
            .Concat(extensions.Where(extension => !NexusModelExtensions.IsSettled(extension, model)).Select(extension => extension.Status?.FromRevision))
            .OfType<int>().ToHashSet();
        var revisions = ModelProgress.History(model.Status?.Revisions, recorded, model.Spec.RevisionHistoryLimit, keep);
        var serve = ModelProgress.RevisionToServe(model.Spec, revisions);

        V1Deployment? deployment = null;
        string? endpoint = model.Status?.Endpoint;
        if (revisions.FirstOrDefault(revision => revision.Revision == serve) is { Model.Uri: { } modelUri } served)
        {
            try
            {
                deployment = await ApplyServingAsync(model, served.Revision, modelUri, cancellationToken);
            }
            catch (NotSupportedException unsupported)
            {
                return ReconcileResult.Terminal(Reasons.InvalidSpec, unsupported.Message);
            }

            endpoint = ServingService.Endpoint(model);
        }

        var report = new ModelReport(policy, selection, build, revisions, serve, serve, ModelProgress.Serving(deployment), endpoint);
        var previous = model.Status;
        var written = await context.Status.UpdateAsync(model, copy => ModelProgress.Apply(copy, report, now), cancellationToken);
        if (written.Written)
        {
            if (recorded is not null)
            {
                context.Events.Record(written.Resource, EventType.Normal, "RevisionRecorded",
                    $"Recorded revision {recorded.Revision} ({recorded.Reason}{(recorded.Extension is { } by ? $" by Extension {by}" : "")}) " +
                    $"with experts {string.Join(", ", (recorded.Experts ?? []).Select(e => e.Name))}.");
            }

            var status = written.Resource.Status;
            if (status is not null && (previous?.Phase != status.Phase || previous?.Message != status.Message && status.Phase is NexusModelPhase.Failed))
            {
                var stalled = Nexus.Api.Conditions.IsTrue(status.Conditions, ConditionTypes.Stalled);
                var ready = Nexus.Api.Conditions.Get(status.Conditions, ConditionTypes.Ready);
                context.Events.Record(written.Resource, stalled ? EventType.Warning : EventType.Normal, ready?.Reason ?? policy.Reason, status.Message ?? "");
            }
        }

        var pruned = written.Written
            ? (previous?.Revisions ?? []).Select(revision => revision.Revision).Except(revisions.Select(revision => revision.Revision))
            : [];
        return await RemovePrunedAsync(written.Resource, pruned, cancellationToken);
    }

    /// <summary>Removes the folders of the revisions just pruned from the history (the status without them is written)
    /// and of earlier ones whose removal failed. A failure is reported and retried with backoff; it never holds the
    /// model up, as everything else of this reconcile is done.</summary>
    private async Task<ReconcileResult> RemovePrunedAsync(NexusModel model, IEnumerable<int> pruned, CancellationToken cancellationToken)
    {
        var uid = model.Metadata.Uid ?? "";
        var pending = _unremoved.GetValueOrDefault(uid, []).Union(pruned);
        foreach (var revision in pending)
        {
            if (await RemoveFolderAsync(model, _paths.RevisionFolder(model, revision), $"the artifacts of revision {revision}, pruned from the history", cancellationToken))
            {
                pending = pending.Remove(revision);
            }
        }

        if (pending.IsEmpty)
        {
            _unremoved.TryRemove(uid, out _);
            return ReconcileResult.Done;
        }

        _unremoved[uid] = pending;
        return ReconcileResult.Retry(ArtifactRemovalFailed);
    }

    /// <summary>Removes everything under <paramref name="uri"/>, with an Event; a failure is a Warning Event and false.</summary>
    private async Task<bool> RemoveFolderAsync(NexusModel model, string uri, string what, CancellationToken cancellationToken)
    {
        var store = stores(uri);
        try
        {
            var removed = await store.RemoveAllAsync(cancellationToken);
            if (removed > 0)
            {
                context.Events.Record(model, EventType.Normal, "ArtifactRemoved", $"Removed {what}: {removed} objects under {uri}.");
            }

            return true;
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
        {
            context.Events.Record(model, EventType.Warning, ArtifactRemovalFailed, $"Could not remove {what} under {uri}; retrying later. {failure.Message}");
            return false;
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }
    }

    /// <summary>Deletes the Jobs a restarted build leaves behind; one Event when any was deleted now (not by an earlier
    /// reconcile whose delete the cache has not seen yet).</summary>
    private async Task DeleteStaleJobsAsync(NexusModel model, BuildDecision build, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var job in build.Delete)
        {
            deleted += await _steps.DeleteAsync(job, cancellationToken) ? 1 : 0;
        }

        if (deleted > 0)
        {
            context.Events.Record(model, EventType.Normal, build.Reason, build.Message);
        }
    }

    /// <summary>The build of the next revision from the policy's Experts. Jobs of its step names that this model
    /// controls but another build created are stale: then nothing else is observed. Otherwise its steps in order, each
    /// observed (result from the output's manifest, Job and pods from the caches) only once the one before it has its
    /// result. Throws <see cref="ArgumentException"/> naming the field when the spec cannot be built.</summary>
    private async Task<BuildObservation> ObserveBuildAsync(NexusModel model, RevisionDecision policy, CancellationToken cancellationToken)
    {
        var ns = model.Metadata.NamespaceProperty;
        var build = ModelBuild.Of(ModelProgress.NextRevision(model.Status), model.Spec, policy.Experts);
        var inputs = policy.Experts.Select(ExpertInput.From).ToList();
        var reason = policy.Reason == Reasons.InitialRevision ? RevisionReason.Initial : RevisionReason.Rebuild;
        // Every step's command is built first: a spec none of them can be built from stalls before the first Job runs.
        var steps = (Upcycle: StepCommands.Upcycle(model, build, inputs, _paths),
            Finetune: StepCommands.Finetune(model, build, inputs, _paths),
            Evaluate: StepCommands.Evaluate(model, build, inputs, _paths));
        var stale = new[] { StepKind.Upcycle, StepKind.Finetune, StepKind.Evaluate }
            .Select(kind => context.Informers.Cache<V1Job>().Get(ns, JobNames.ForModel(model, kind, build.Revision)))
            .OfType<V1Job>()
            .Where(job => OwnerReferences.IsControlledBy(job, model) && ModelProgress.IsStale(job, build))
            .ToList();
        if (stale.Count > 0)
        {
            return new BuildObservation(build, reason, policy.Experts, new StepObservation(steps.Upcycle, null, null, []), null, null, null) { Stale = stale };
        }

        var upcycle = await _steps.ObserveAsync(ns, steps.Upcycle, recorded: null, cancellationToken);
        var finetune = upcycle.Result is null ? null : await _steps.ObserveAsync(ns, steps.Finetune, recorded: null, cancellationToken);
        var evaluate = finetune?.Result is null ? null : await _steps.ObserveAsync(ns, steps.Evaluate, recorded: null, cancellationToken);
        var report = evaluate?.Result is { } published ? await _steps.ReadSingleFileAsync(evaluate.Step, published.Uri, cancellationToken) : null;
        return new BuildObservation(build, reason, policy.Experts, upcycle, finetune, evaluate, report);
    }

    /// <summary>
    /// The Automatic policy's change: the Extension for the next revision, created controlled by the model. One that
    /// Failed making this same change stalls the model (deleting it retries); one that Failed making another change (the
    /// selection moved on) is deleted, and the next reconcile creates the Extension for the change asked for now.
    /// Returns the decision to report.
    /// </summary>
    private async Task<RevisionDecision> ExtendAsync(NexusModel model, RevisionDecision policy, CancellationToken cancellationToken)
    {
        var ns = model.Metadata.NamespaceProperty;
        var desired = NexusModelExtensions.Automatic(model, policy);
        var name = desired.Metadata.Name;
        var existing = context.Informers.Cache<Extension>().Get(ns, name);
        if (existing is null)
        {
            try
            {
                await Client.CustomObjects.CreateNamespacedCustomObjectAsync(
                    desired, Extension.KubeGroup, Extension.KubeApiVersion, ns, Extension.KubePluralName, cancellationToken: cancellationToken);
                context.Events.Record(model, EventType.Normal, "ExtensionCreated", $"Created Extension {name}: {policy.Message}");
            }
            catch (HttpOperationException exists) when (exists.Response.StatusCode == HttpStatusCode.Conflict)
            {
                // Created by an earlier reconcile; the cache has not seen it yet.
            }

            return policy with { Message = $"{policy.Message} Extension {name} makes the change." };
        }

        if (!OwnerReferences.IsControlledBy(existing, model))
        {
            return new RevisionDecision(RevisionAction.Stall, Reasons.InvalidSpec,
                $"Extension {name} exists but is not this NexusModel's; the Automatic policy needs that name for revision " +
                $"{ModelProgress.NextRevision(model.Status)}: rename or delete it.");
        }

        if (existing.Status?.Phase != ExtensionPhase.Failed)
        {
            return policy with { Message = $"{policy.Message} Extension {name} makes the change." };
        }

        if (NexusModelExtensions.Makes(existing, policy))
        {
            return new RevisionDecision(RevisionAction.Stall, Reasons.ExtensionFailed,
                $"Extension {name} failed: {existing.Status.Message} Delete it to retry, or change the selection.");
        }

        try
        {
            await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(
                Extension.KubeGroup, Extension.KubeApiVersion, ns, Extension.KubePluralName, name, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException gone) when (gone.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Deleted by an earlier reconcile; the cache has not seen it go yet.
            return policy;
        }

        context.Events.Record(model, EventType.Normal, "ExtensionReplaced",
            $"Deleted the failed Extension {name}, which made another change; the next one makes this: {policy.Message}");
        return policy;
    }

    /// <summary>Creates the Service and the Deployment when missing; a Deployment running another revision (or replica
    /// count) gets a merge patch of only its template, strategy and replicas, so fields other controllers own (an
    /// annotation, a sidecar's defaults elsewhere in the spec) are left alone. Returns the cached Deployment.</summary>
    private async Task<V1Deployment?> ApplyServingAsync(NexusModel model, int revision, string modelUri, CancellationToken cancellationToken)
    {
        var ns = model.Metadata.NamespaceProperty;
        var name = ServingDeployment.Name(model);
        var desired = ServingDeployment.Build(model, revision, modelUri, settings);
        if (context.Informers.Cache<V1Service>().Get(ns, name) is null)
        {
            await CreateAsync(model, "Service", () => Client.CoreV1.CreateNamespacedServiceAsync(ServingService.Build(model), ns, cancellationToken: cancellationToken));
        }

        var existing = context.Informers.Cache<V1Deployment>().Get(ns, name);
        if (existing is null)
        {
            await CreateAsync(model, "Deployment", () => Client.AppsV1.CreateNamespacedDeploymentAsync(desired, ns, cancellationToken: cancellationToken));
            return null;
        }

        if (!OwnerReferences.IsControlledBy(existing, model))
        {
            // Someone else's Deployment of that name: left alone, and not read as this model's serving.
            return null;
        }

        var running = ModelProgress.Serving(existing).TemplateRevision;
        var built = desired.Metadata.Annotations[Annotations.SpecHash];
        if (running != revision || existing.Spec?.Replicas != desired.Spec.Replicas
            || existing.Metadata.Annotations?.TryGetValue(Annotations.SpecHash, out var hash) != true || hash != built)
        {
            // A JSON patch that replaces the template whole: a merge patch would keep what the new template leaves out
            // (vLLM's init container after a switch back to builtin, a removed node selector).
            var annotations = new Dictionary<string, string>(existing.Metadata.Annotations ?? new Dictionary<string, string>());
            foreach (var (key, value) in desired.Metadata.Annotations)
            {
                annotations[key] = value;
            }

            JsonObject Add(string path, string json) => new() { ["op"] = "add", ["path"] = path, ["value"] = JsonNode.Parse(json) };
            var patch = new JsonArray(
                Add("/metadata/annotations", KubernetesJson.Serialize(annotations)),
                Add("/spec/replicas", KubernetesJson.Serialize(desired.Spec.Replicas)),
                Add("/spec/strategy", KubernetesJson.Serialize(desired.Spec.Strategy)),
                Add("/spec/progressDeadlineSeconds", KubernetesJson.Serialize(desired.Spec.ProgressDeadlineSeconds)),
                Add("/spec/template", KubernetesJson.Serialize(desired.Spec.Template)));
            var patched = await Client.AppsV1.PatchNamespacedDeploymentAsync(
                new V1Patch(patch.ToJsonString(), V1Patch.PatchType.JsonPatch), name, ns, cancellationToken: cancellationToken);
            if (running != revision)
            {
                context.Events.Record(model, EventType.Normal, Reasons.RollingOut, $"Rolling Deployment {name} from revision {running} to {revision}.");
            }

            return patched;
        }

        return existing;
    }

    private async Task CreateAsync(NexusModel model, string kind, Func<Task> create)
    {
        try
        {
            await create();
            context.Events.Record(model, EventType.Normal, $"{kind}Created", $"Created {kind} {ServingDeployment.Name(model)}.");
        }
        catch (HttpOperationException exists) when (exists.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Created by an earlier reconcile; the cache has not seen it yet, and its event reconciles the model again.
        }
    }

    private IKubernetes Client =>
        context.Client ?? throw new InvalidOperationException("The NexusModel reconciler needs a Kubernetes client to create Jobs and serving objects.");
}
