using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Caching;
using Nexus.Operator.Controllers;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;
using Prometheus;

namespace Nexus.Operator.Metrics;

/// <summary>
/// The Nexus resources' lifecycle as Prometheus series, read from the informers so that no reconciler has to report
/// anything: how many Experts, NexusModels and Extensions are in each phase (counted from the caches at scrape time),
/// how long each step's Job ran, and the serving Deployments' rollouts and served revisions.
/// </summary>
/// <remarks>
/// <para>Jobs and Deployments are counted as their informer sees them change, so only what finishes while this
/// operator runs counts. A Job already finished, or a Deployment already rolled out, when the informer first lists it
/// was counted by the operator that ran then, and counting it again would add a step or a rollout on every restart or
/// leader change. Its cost: a Job that finishes while no operator runs is never observed, nor one created and finished
/// within a watch gap that ends in a relist. A Deployment that is mid-rollout when first listed counts once its rollout
/// finishes.</para>
/// <para>A standby replica's informers see the same changes, so the counter and the histogram count only while this
/// replica leads. A standby still tracks which Jobs finished and what each Deployment rolled out, so after a takeover it
/// does not count again what the former leader counted (what finishes between two terms is counted by neither). The
/// gauges are the same on every replica.</para>
/// <para>State is kept per object (the uids of finished Jobs, each serving Deployment's last rolled-out revision) and
/// dropped when the object leaves the cache, so it never outgrows the cache. Each kind's state is touched only by its
/// informer's handler, which the informer never runs concurrently with itself.</para>
/// </remarks>
public sealed class LifecycleMetrics
{
    /// <summary>The phase label of a resource whose status has no phase yet.</summary>
    public const string UnknownPhase = "Unknown";

    /// <summary>The outcome label of a step Job that completed.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>The outcome label of a step Job that failed.</summary>
    public const string Failed = "failed";

    /// <summary>10 s to about 3.8 days, doubling: an embedding takes minutes, a long training run days.</summary>
    public static readonly double[] StepDurationBuckets = Histogram.ExponentialBuckets(10, 2, 16);

    private readonly InformerFactory _informers;
    private readonly Func<bool> _isLeader;
    private readonly HashSet<string> _finishedJobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _rolledOutRevisions = new(StringComparer.Ordinal);

    private LifecycleMetrics(InformerFactory informers, OperatorMetrics metrics, Func<bool> isLeader)
    {
        _informers = informers;
        _isLeader = isLeader;
        var factory = Prometheus.Metrics.WithCustomRegistry(metrics.Registry);
        Resources = factory.CreateGauge(
            "nexus_resources", "Experts, NexusModels and Extensions by status.phase (Unknown: no status yet).", ["kind", "phase"]);
        StepDuration = factory.CreateHistogram(
            "nexus_step_duration_seconds", "Run time of a finished step Job (startTime to completion or failure), by step and outcome.",
            ["step", "outcome"], new HistogramConfiguration { Buckets = StepDurationBuckets });
        Rollouts = factory.CreateCounter(
            "nexus_rollouts_total", "Serving Deployments fully rolled out to a new nexus.moe/revision.", ["namespace", "model"]);
        ServedRevision = factory.CreateGauge(
            "nexus_served_revision", "The revision a NexusModel's serving Deployment last rolled out fully.", ["namespace", "model"]);

        metrics.Registry.AddBeforeCollectCallback(CountPhases);
        informers.Get<V1Job>().AddHandler(OnJob);
        informers.Get<V1Deployment>().AddHandler(OnDeployment);
    }

    public Gauge Resources { get; }

    public Histogram StepDuration { get; }

    public Counter Rollouts { get; }

    public Gauge ServedRevision { get; }

    /// <summary>Registers the series in <paramref name="metrics"/>' registry and the handlers on
    /// <paramref name="informers"/> (creating the informers of the kinds it reads). Call it before the informers run,
    /// as <see cref="Hosting.OperatorHostBuilder.AddMetrics"/> does, so the first list is seen as such.</summary>
    /// <param name="isLeader">Whether this replica leads now: only the leader counts steps and rollouts.</param>
    public static LifecycleMetrics Register(InformerFactory informers, OperatorMetrics metrics, Func<bool> isLeader)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(isLeader);
        informers.Get<Expert>();
        informers.Get<NexusModel>();
        informers.Get<Extension>();
        return new LifecycleMetrics(informers, metrics, isLeader);
    }

    private void CountPhases()
    {
        CountPhases<Expert, ExpertPhase>(Expert.KubeKind, expert => expert.Status?.Phase);
        CountPhases<NexusModel, NexusModelPhase>(NexusModel.KubeKind, model => model.Status?.Phase);
        CountPhases<Extension, ExtensionPhase>(Extension.KubeKind, extension => extension.Status?.Phase);
    }

    /// <summary>Sets every phase of the kind, those with no resource to 0; nothing before the first list, whose
    /// counts would be made up.</summary>
    private void CountPhases<T, TPhase>(string kind, Func<T, TPhase?> phaseOf)
        where T : class, IKubernetesObject<V1ObjectMeta>
        where TPhase : struct, Enum
    {
        var informer = _informers.Get<T>();
        if (!informer.HasSynced)
        {
            return;
        }

        var counts = Enum.GetNames<TPhase>().Append(UnknownPhase).ToDictionary(phase => phase, _ => 0, StringComparer.Ordinal);
        foreach (var resource in informer.Cache.List())
        {
            counts[phaseOf(resource)?.ToString() ?? UnknownPhase]++;
        }

        foreach (var (phase, count) in counts)
        {
            Resources.WithLabels(kind, phase).Set(count);
        }
    }

    private void OnJob(ResourceEvent<V1Job> change)
    {
        var job = change.Object;
        if (job.Metadata.Uid is not { } uid || StepOf(job) is not { } step)
        {
            return;
        }

        if (change.Type == ResourceEventType.Deleted)
        {
            _finishedJobs.Remove(uid);
            return;
        }

        // First seen finished (Added: listed or re-listed so): remembered, not observed; see the remarks.
        if (Finish(job) is not { } finish || !_finishedJobs.Add(uid) || change.Type == ResourceEventType.Added)
        {
            return;
        }

        // A Job that failed before its pod ever started (a deadline hit while queued) has no run time to observe.
        if (_isLeader() && job.Status?.StartTime is { } start && finish.At is { } end)
        {
            StepDuration.WithLabels(step, finish.Outcome).Observe(Math.Max(0, (end - start).TotalSeconds));
        }
    }

    private void OnDeployment(ResourceEvent<V1Deployment> change)
    {
        var deployment = change.Object;
        if (deployment.Metadata.Uid is not { } uid || ServedModel(deployment) is not { } model)
        {
            return;
        }

        var ns = deployment.Metadata.NamespaceProperty ?? "";
        if (change.Type == ResourceEventType.Deleted)
        {
            if (_rolledOutRevisions.Remove(uid))
            {
                ServedRevision.RemoveLabelled(ns, model);
            }

            return;
        }

        var serving = ModelProgress.Serving(deployment);
        if (!serving.RolledOut || serving.TemplateRevision is not { } revision
            || _rolledOutRevisions.TryGetValue(uid, out var last) && last == revision)
        {
            return;
        }

        _rolledOutRevisions[uid] = revision;
        ServedRevision.WithLabels(ns, model).Set(revision);
        if (change.Type != ResourceEventType.Added && _isLeader())
        {
            Rollouts.WithLabels(ns, model).Inc();
        }
    }

    /// <summary>The step (the <c>app.kubernetes.io/component</c> label) of a Job the operator created; null for any
    /// other Job.</summary>
    private static string? StepOf(V1Job job) =>
        job.Metadata.Labels is { } labels
        && labels.TryGetValue(Labels.ManagedBy, out var managedBy) && managedBy == Labels.ManagedByValue
        && labels.TryGetValue(Labels.Component, out var component) && !string.IsNullOrEmpty(component)
            ? component
            : null;

    /// <summary>How the Job ended and when (completionTime, or the Failed condition's transition); null while it runs.</summary>
    private static (string Outcome, DateTime? At)? Finish(V1Job job)
    {
        var conditions = job.Status?.Conditions ?? [];
        if (conditions.FirstOrDefault(c => c is { Type: "Complete", Status: "True" }) is { } complete)
        {
            return (Succeeded, job.Status!.CompletionTime ?? complete.LastTransitionTime);
        }

        return conditions.FirstOrDefault(c => c is { Type: "Failed", Status: "True" }) is { } failed
            ? (Failed, failed.LastTransitionTime)
            : null;
    }

    /// <summary>The NexusModel a serving Deployment of the operator's serves (its controller, else its label); null
    /// for any other Deployment.</summary>
    private static string? ServedModel(V1Deployment deployment)
    {
        var labels = deployment.Metadata.Labels;
        if (labels is null
            || !labels.TryGetValue(Labels.ManagedBy, out var managedBy) || managedBy != Labels.ManagedByValue
            || !labels.TryGetValue(Labels.Component, out var component) || component != Labels.ServingComponent)
        {
            return null;
        }

        return OwnerReferences.GetController(deployment) is { Kind: NexusModel.KubeKind } owner
            ? owner.Name
            : labels.TryGetValue(Labels.NexusModel, out var model) ? model : null;
    }
}
