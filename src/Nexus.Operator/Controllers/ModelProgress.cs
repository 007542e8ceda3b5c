using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Controllers;

/// <summary>What the reconciler observed of one revision's build: the build (revision number and build id), why it is
/// built, the Experts it is built from (router order), each step in order (a later one only once the earlier has its
/// result) and, once the evaluation is published, the report's text.</summary>
public sealed record BuildObservation(
    ModelBuild Build,
    RevisionReason Reason,
    IReadOnlyList<Expert> Experts,
    StepObservation Upcycle,
    StepObservation? Finetune,
    StepObservation? Evaluate,
    string? EvaluationReport)
{
    /// <summary>The model's Jobs of this revision's step names that belong to another build (<see cref="ModelProgress.IsStale"/>).</summary>
    public IReadOnlyList<V1Job> Stale { get; init; } = [];
}

/// <summary>The verdict on a build: the phase and health with their reason and message, the Job to create (never one
/// that exists), and the finished revision once every step has its result.</summary>
public sealed record BuildDecision(
    NexusModelPhase Phase,
    Health Health,
    string Reason,
    string Message,
    StepInvocation? Create,
    string? ActiveJob,
    ModelRevision? Built)
{
    /// <summary>Stale Jobs to delete (Background propagation) before the build starts again; nothing is created
    /// meanwhile.</summary>
    public IReadOnlyList<V1Job> Delete { get; init; } = [];
}

/// <summary>Everything <see cref="ModelProgress.Apply"/> reports: the policy's verdict and the selection it judged, the
/// build under way (if any), the history after this reconcile, the current revision and the one to serve, the serving
/// Deployment and the endpoint.</summary>
public sealed record ModelReport(
    RevisionDecision Policy,
    ExpertSelectionResult Selection,
    BuildDecision? Build,
    IReadOnlyList<ModelRevision> Revisions,
    int? CurrentRevision,
    int? ServeRevision,
    ServingObservation Serving,
    string? Endpoint);

/// <summary>What the serving Deployment shows: whether it exists, the revision its template runs, its ready pods, and
/// whether that template is fully rolled out.</summary>
public sealed record ServingObservation(bool Exists, int? TemplateRevision, int ReadyReplicas, bool RolledOut, string? FailedReason, string? FailedMessage);

/// <summary>
/// The NexusModel's build and serving as pure functions. A build is upcycle, then finetune, then evaluate, each step
/// done when its output's manifest lists its result (as for an Expert); the evaluated model becomes the next revision.
/// The served revision is the one the Deployment's status shows fully rolled out.
/// </summary>
public static class ModelProgress
{
    /// <summary>The revision a build records: one above every revision in the history, so an in-progress build keeps its
    /// number (and its Job names) across reconciles and operator restarts.</summary>
    public static int NextRevision(NexusModelStatus? status) =>
        (status?.Revisions ?? []).Select(revision => revision.Revision).DefaultIfEmpty(0).Max() + 1;

    /// <summary>The revision to serve: spec.revision while it pins a kept revision, else the latest one.</summary>
    public static int? RevisionToServe(NexusModelSpec spec, IReadOnlyList<ModelRevision> revisions) =>
        spec.Revision is { } pinned && revisions.Any(revision => revision.Revision == pinned)
            ? pinned
            : revisions.Count == 0 ? null : revisions.Max(revision => revision.Revision);

    /// <summary>Whether <paramref name="job"/>, a Job of one of <paramref name="build"/>'s step names, belongs to another
    /// build (another id, or none): its inputs are obsolete, whatever its state.</summary>
    public static bool IsStale(V1Job job, ModelBuild build) =>
        job.Metadata.Annotations?.TryGetValue(Annotations.Build, out var id) != true || id != build.Id;

    /// <summary>
    /// The build's next move, first match wins: Jobs of another build are deleted and nothing else happens until they
    /// are gone (their delete events reconcile the model again); the first step without a result runs; with every
    /// result the revision is recorded. A failed step stays Failed while the inputs are unchanged.
    /// </summary>
    public static BuildDecision DecideBuild(BuildObservation build, DateTimeOffset now, string buildSpecHash)
    {
        ArgumentNullException.ThrowIfNull(build);
        if (build.Stale.Count > 0)
        {
            return Restart(build);
        }

        if (build.Upcycle.Result is null)
        {
            return DecideStep(build.Upcycle, NexusModelPhase.Upcycling, Reasons.Upcycling, "upcycles the experts into an MoE");
        }

        if (build.Finetune is not { Result: { } model })
        {
            return DecideStep(Require(build.Finetune), NexusModelPhase.Finetuning, Reasons.Finetuning, "finetunes the upcycled MoE");
        }

        if (build.Evaluate is not { Result: not null })
        {
            return DecideStep(Require(build.Evaluate), NexusModelPhase.Finetuning, Reasons.Evaluating, "evaluates the model on every domain");
        }

        var revision = new ModelRevision
        {
            Revision = build.Build.Revision,
            Experts = build.Experts.Select(expert => new RevisionExpert
            {
                Name = expert.Metadata.Name,
                Domain = expert.Spec.Domain,
                CheckpointSha256 = expert.Status?.Artifacts?.Checkpoint?.Sha256,
            }).ToList(),
            Model = model,
            Metrics = Metrics(build.EvaluationReport),
            CreatedAt = now.UtcDateTime,
            Reason = build.Reason,
            BuildSpecHash = buildSpecHash,
        };
        return new BuildDecision(NexusModelPhase.RollingOut, Health.Progressing, Reasons.Succeeded,
            $"Revision {build.Build.Revision} is built ({model.Uri}, sha256 {model.Sha256}) and evaluated.",
            Create: null, ActiveJob: null, revision);
    }

    /// <summary>status.revisions[].metrics from <c>nexus evaluate</c>'s report: perplexity per domain, the share of each
    /// domain's tokens routed to its own expert, and the tokens evaluated. Null when there is no report or it is not
    /// the shape this build knows.</summary>
    public static EvaluationMetrics? Metrics(string? report)
    {
        if (string.IsNullOrWhiteSpace(report))
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(report)?["domains"] is not JsonArray domains)
            {
                return null;
            }

            var perplexity = new Dictionary<string, double>(StringComparer.Ordinal);
            var routing = new Dictionary<string, double>(StringComparer.Ordinal);
            long tokens = 0;
            foreach (var domain in domains.OfType<JsonObject>())
            {
                if (domain["domain"]?.GetValue<string>() is not { Length: > 0 } name)
                {
                    continue;
                }

                if (domain["perplexity"]?.GetValue<double>() is { } value && double.IsFinite(value))
                {
                    perplexity[name] = value;
                }

                if (domain["routing"]?["own_expert"]?.GetValue<double>() is { } own && double.IsFinite(own))
                {
                    routing[name] = own;
                }

                tokens += domain["tokens"]?.GetValue<long>() ?? 0;
            }

            return new EvaluationMetrics
            {
                Perplexity = perplexity.Count == 0 ? null : perplexity,
                RoutingShare = routing.Count == 0 ? null : routing,
                EvaluatedTokens = tokens == 0 ? null : tokens,
            };
        }
        catch (Exception malformed) when (malformed is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The history with <paramref name="built"/> appended, then its oldest revisions pruned to
    /// <paramref name="limit"/>, never one in <paramref name="keep"/> (the current, served or pinned one).</summary>
    public static List<ModelRevision> History(IEnumerable<ModelRevision>? revisions, ModelRevision? built, int limit, IReadOnlyCollection<int> keep)
    {
        var history = (revisions ?? []).Where(revision => built is null || revision.Revision != built.Revision).ToList();
        if (built is not null)
        {
            history.Add(built);
        }

        history.Sort((a, b) => a.Revision.CompareTo(b.Revision));
        while (history.Count > Math.Max(limit, 1) && history.FirstOrDefault(revision => !keep.Contains(revision.Revision)) is { } oldest)
        {
            history.Remove(oldest);
        }

        return history;
    }

    /// <summary>Reads the serving Deployment: its template's revision annotation, and whether the controller has rolled
    /// that template out to every replica (observedGeneration caught up, updated == available == replicas).</summary>
    public static ServingObservation Serving(V1Deployment? deployment)
    {
        if (deployment is null)
        {
            return new ServingObservation(false, null, 0, false, null, null);
        }

        var annotation = deployment.Spec?.Template?.Metadata?.Annotations?.TryGetValue(Annotations.Revision, out var value) == true ? value : null;
        int? revision = int.TryParse(annotation, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        var status = deployment.Status;
        var replicas = deployment.Spec?.Replicas ?? 1;
        var rolledOut = status is not null
                        && status.ObservedGeneration == deployment.Metadata.Generation
                        && (status.UpdatedReplicas ?? 0) == replicas
                        && (status.AvailableReplicas ?? 0) == replicas
                        && (status.Replicas ?? 0) == replicas;
        var progressing = status?.Conditions?.FirstOrDefault(c => c.Type == "Progressing");
        var failed = progressing is { Status: "False", Reason: "ProgressDeadlineExceeded" };
        return new ServingObservation(true, revision, status?.ReadyReplicas ?? 0, rolledOut,
            failed ? Reasons.RolloutFailed : null,
            failed ? $"Deployment {deployment.Metadata.Name}: {progressing!.Message ?? "the rollout exceeded its progress deadline"}." : null);
    }

    /// <summary>Writes what the reconciler found into <paramref name="model"/>'s status: the history and the current,
    /// served and active parts, the kstatus conditions and ExpertsReady, RevisionReady and Available. Unchanged input
    /// leaves the status as it was.</summary>
    public static void Apply(NexusModel model, ModelReport report, DateTimeOffset now)
    {
        var status = model.Status ??= new NexusModelStatus();
        var generation = model.Metadata.Generation;
        var current = report.Revisions.FirstOrDefault(revision => revision.Revision == report.CurrentRevision);
        status.Revisions = report.Revisions.Count == 0 ? null : report.Revisions.ToList();
        status.CurrentRevision = current?.Revision;
        status.Experts = current?.Experts?.Select(expert => expert.Name).ToList();
        status.ExpertCount = current?.Experts?.Count;
        status.ServedRevision = !report.Serving.Exists ? null
            : report.Serving.RolledOut && report.Serving.TemplateRevision is { } rolledOut ? rolledOut
            : status.ServedRevision;
        status.ReadyReplicas = report.Serving.Exists ? report.Serving.ReadyReplicas : null;
        status.Endpoint = report.Endpoint;
        status.ActiveJob = report.Build?.ActiveJob;

        var (phase, health, reason, message) = Overall(report, status.ServedRevision, current is not null);
        status.Phase = phase;
        status.Message = message.Length > Conditions.MaxMessageLength ? message[..Conditions.MaxMessageLength] : message;
        health.Mark(status, reason, status.Message, generation, now);

        var conditions = status.Conditions ??= [];
        var selection = report.Selection;
        var expertsReady = selection.MissingNames.Count == 0 && selection.Selected.Count > 0
                           && selection.Selected.All(expert => Conditions.IsTrue(expert.Status?.Conditions, ConditionTypes.Ready));
        if (expertsReady)
        {
            Conditions.Set(conditions, ConditionTypes.ExpertsReady, Conditions.True, Reasons.Succeeded,
                $"The {selection.Selected.Count} selected Experts are Ready: {string.Join(", ", selection.Selected.Select(expert => expert.Metadata.Name))}.",
                generation, now);
        }
        else
        {
            var waiting = report.Policy.Action is RevisionAction.Wait or RevisionAction.Stall;
            Conditions.Set(conditions, ConditionTypes.ExpertsReady, Conditions.False,
                waiting ? report.Policy.Reason : Reasons.WaitingForExperts,
                waiting ? report.Policy.Message : "Some selected Experts are not Ready.", generation, now);
        }

        if (current is not null && report.Build is null or { Built: not null })
        {
            Conditions.Set(conditions, ConditionTypes.RevisionReady, Conditions.True, Reasons.Succeeded,
                $"Revision {current.Revision} is built, finetuned and evaluated ({current.Model?.Uri}).", generation, now);
        }
        else
        {
            Conditions.Set(conditions, ConditionTypes.RevisionReady, Conditions.False,
                report.Build?.Reason ?? report.Policy.Reason, report.Build?.Message ?? report.Policy.Message, generation, now);
        }

        if (report.Policy.Action == RevisionAction.AwaitApproval)
        {
            Conditions.Set(conditions, ConditionTypes.ExtensionPending, Conditions.True, report.Policy.Reason, report.Policy.Message, generation, now);
        }
        else
        {
            Conditions.Remove(conditions, ConditionTypes.ExtensionPending);
        }

        if (report.Serving.Exists && status.ServedRevision is { } served && served == report.ServeRevision)
        {
            Conditions.Set(conditions, ConditionTypes.Available, Conditions.True, Reasons.Succeeded,
                $"The serving Deployment runs revision {served} with {report.Serving.ReadyReplicas} ready replicas.", generation, now);
        }
        else
        {
            Conditions.Set(conditions, ConditionTypes.Available, Conditions.False,
                report.Serving.FailedReason ?? (report.ServeRevision is null ? Reasons.Pending : Reasons.RollingOut),
                report.Serving.FailedMessage ?? (report.ServeRevision is { } target
                    ? $"The serving Deployment rolls out revision {target}."
                    : "No revision is built yet."), generation, now);
        }
    }

    /// <summary>The model's phase and health, first match wins: a spec that cannot be carried out, a build under way, a
    /// wait on the Experts, a pending extension, a failed rollout, a rollout under way; else Ready.</summary>
    private static (NexusModelPhase Phase, Health Health, string Reason, string Message) Overall(ModelReport report, int? served, bool hasRevision)
    {
        var policy = report.Policy;
        var rolledOut = served is not null && served == report.ServeRevision;
        var servingPhase = !hasRevision ? NexusModelPhase.Pending : rolledOut ? NexusModelPhase.Ready : NexusModelPhase.RollingOut;
        if (policy.Action == RevisionAction.Stall)
        {
            return (servingPhase, Health.Stalled, policy.Reason, policy.Message);
        }

        if (report.Build is { Built: null } build)
        {
            return (build.Phase, build.Health, build.Reason, build.Message);
        }

        // An Extension in flight (or just created) is the model's work now; a change awaiting approval is not (the
        // ExtensionPending condition reports it), so the model is as Ready as its serving.
        if (policy.Action is RevisionAction.Extend || policy is { Action: RevisionAction.Wait, Reason: Reasons.Extending })
        {
            return (NexusModelPhase.Extending, Health.Progressing, policy.Reason, policy.Message);
        }

        if (policy.Action is RevisionAction.Wait)
        {
            return (servingPhase, Health.Progressing, policy.Reason, policy.Message);
        }

        if (report.ServeRevision is not { } target)
        {
            return (NexusModelPhase.Pending, Health.Progressing, policy.Reason, policy.Message);
        }

        if (!rolledOut && report.Serving.FailedReason is { } failed)
        {
            return (NexusModelPhase.RollingOut, Health.Stalled, failed, report.Serving.FailedMessage!);
        }

        if (!rolledOut)
        {
            return (NexusModelPhase.RollingOut, Health.Progressing, Reasons.RollingOut,
                $"The serving Deployment rolls out revision {target}" + (served is { } old ? $"; revision {old} serves meanwhile." : "."));
        }

        return policy.Action is RevisionAction.None
            ? (NexusModelPhase.Ready, Health.Ready, policy.Reason, policy.Message)
            : (NexusModelPhase.Ready, Health.Ready, Reasons.Succeeded, $"Revision {target} is built and served.");
    }

    /// <summary>The restart of a build whose inputs changed: the stale Jobs not already being deleted go, and the message
    /// names the inputs they were built from and the new ones.</summary>
    private static BuildDecision Restart(BuildObservation build)
    {
        var stale = build.Stale[0].Metadata.Annotations ?? new Dictionary<string, string>();
        var oldId = stale.TryGetValue(Annotations.Build, out var id) ? id : "(no build id)";
        var oldInputs = stale.TryGetValue(Annotations.BuildInputs, out var inputs) && inputs.Length > 0 ? $" ({inputs})" : "";
        var names = string.Join(", ", build.Stale.Select(job => job.Metadata.Name));
        var message = $"The inputs of revision {build.Build.Revision} changed: its build {oldId}{oldInputs} is now {build.Build.Id} " +
                      $"({build.Build.Inputs}). Deleting the previous build's Jobs {names}; the build starts again once they are gone.";
        return new BuildDecision(NexusModelPhase.Upcycling, Health.Progressing, Reasons.BuildRestarted, message,
            Create: null, ActiveJob: null, Built: null)
        {
            Delete = build.Stale.Where(job => job.Metadata.DeletionTimestamp is null).ToList(),
        };
    }

    private static BuildDecision DecideStep(StepObservation observed, NexusModelPhase phase, string reason, string doing)
    {
        var step = observed.Step;
        var name = step.JobName;
        var reading = JobReadings.Read(observed);
        BuildDecision Verdict(NexusModelPhase p, Health health, string why, string message, StepInvocation? create = null, string? active = null) =>
            new(p, health, why, message, create, active, Built: null);
        return reading.State switch
        {
            // Reported once the Job is created, in the words of a Job waiting for its pod: the reconcile its creation
            // causes then finds the status as it would write it, and writes nothing.
            JobState.Missing => Verdict(phase, Health.Progressing, reason, $"Job {name}, which {doing}, waits for its pod to start.", create: step, active: name),
            JobState.Failed => Verdict(NexusModelPhase.Failed, Health.Failed, reading.Reason!,
                $"{reading.Message} To retry, fix what the build is made from (spec.seed, spec.router, spec.finetune or the Experts) and it " +
                $"restarts, or delete Job {name} to run the step again (with the current spec.resources)."),
            JobState.CompletedWithoutResult => Verdict(phase, Health.Stalled, reading.Reason!, reading.Message!),
            JobState.Stuck => Verdict(phase, Health.Stalled, reading.Reason!, reading.Message!, active: name),
            JobState.Queued => Verdict(phase, Health.Progressing, reading.Reason!, reading.Message!, active: name),
            JobState.Running => Verdict(phase, Health.Progressing, reason, $"Job {name} {doing}.", active: name),
            _ => Verdict(phase, Health.Progressing, reason, $"Job {name}, which {doing}, waits for its pod to start.", active: name),
        };
    }

    private static StepObservation Require(StepObservation? step) =>
        step ?? throw new ArgumentException("A build step is observed only once the step before it has its result.");
}
