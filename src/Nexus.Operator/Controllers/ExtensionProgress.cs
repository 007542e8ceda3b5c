using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Controllers;

/// <summary>What an Extension's change resolves to: the revision it starts from (its model and experts in router
/// order), the revision it produces, and the Experts it adds (in spec.add order).</summary>
public sealed record ExtensionStart(
    int FromRevision,
    int ToRevision,
    string FromModelUri,
    IReadOnlyList<ExpertInput> Current,
    IReadOnlyList<ExpertInput> Added)
{
    /// <summary>The added experts as the new revision holds them (status.added): name, domain, checkpoint SHA-256.</summary>
    public IReadOnlyList<RevisionExpert> AddedExperts { get; init; } = [];
}

/// <summary>Whether an Extension can run: <see cref="Start"/> when it can; else a wait (something outside it has to
/// happen first) or, when <see cref="Fatal"/>, a change that can never be made (the spec is immutable: the Extension
/// Fails and a person creates another).</summary>
public sealed record ExtensionReadiness(ExtensionStart? Start, bool Fatal, string Reason, string Message)
{
    public static ExtensionReadiness Go(ExtensionStart start) => new(start, false, Reasons.Extending, "");

    public static ExtensionReadiness Wait(string reason, string message) => new(null, false, reason, message);

    public static ExtensionReadiness Fail(string reason, string message) => new(null, true, reason, message);
}

/// <summary>What the reconciler observed of the Extension's Jobs: each surgery in order and then the evaluation, a later
/// one only once the one before it has its result; and, once the evaluation is published, the report's text and the
/// extended model (the last surgery's output before its finetune).</summary>
public sealed record ExtensionObservation(
    ExtensionStart Start,
    IReadOnlyList<StepObservation> Steps,
    int StepCount,
    string? EvaluationReport,
    ArtifactReference? Extended);

/// <summary>The verdict on an Extension: phase and health with the reason and message for its conditions and Events, the
/// Job to create (never one that exists), and once every step has its result the new revision's artifacts and metrics.</summary>
public sealed record ExtensionDecision(
    ExtensionPhase Phase,
    Health Health,
    string Reason,
    string Message,
    StepInvocation? Create = null,
    string? ActiveJob = null,
    ExtensionStart? Start = null,
    ExtensionArtifacts? Artifacts = null,
    EvaluationMetrics? Metrics = null);

/// <summary>
/// An Extension as pure functions. It waits its turn (the model's earlier Extensions first, the model built, the added
/// Experts Ready), then fixes its from- and to-revision, runs its surgeries (<see cref="StepCommands.Extension"/>) and
/// the evaluation, and Succeeds with the new revision's model; the NexusModel adopts that as its revision
/// (<see cref="NexusModelExtensions.Adopt"/>). A change that cannot be made Fails: the spec is immutable.
/// </summary>
public static class ExtensionProgress
{
    /// <summary>
    /// Whether <paramref name="extension"/> can run, from its model, the namespace's Experts and the model's other
    /// Extensions. Before it starts it waits its turn; once started (status.toRevision set) its revisions are the ones
    /// it recorded, so a restart never moves it to another revision number.
    /// </summary>
    public static ExtensionReadiness Prepare(
        Extension extension, NexusModel? model, IReadOnlyCollection<Expert> experts, IReadOnlyCollection<Extension> siblings)
    {
        var name = extension.Metadata.Name;
        var ns = extension.Metadata.NamespaceProperty;
        if (model is null)
        {
            return ExtensionReadiness.Wait(Reasons.ModelNotFound,
                $"NexusModel {extension.Spec.Model} does not exist in namespace {ns}; create it or fix spec.model.");
        }

        var status = model.Status;
        int from, to;
        if (extension.Status is { FromRevision: { } recordedFrom, ToRevision: { } recordedTo })
        {
            (from, to) = (recordedFrom, recordedTo);
            // Two Extensions that started from caches that did not show each other claim one number: the one ahead in
            // line keeps it.
            if (NexusModelExtensions.Of(model, siblings.Append(extension).DistinctBy(e => e.Metadata.Name))
                    .TakeWhile(other => other.Metadata.Name != extension.Metadata.Name)
                    .FirstOrDefault(other => other.Status?.ToRevision == to && other.Status.Phase != ExtensionPhase.Failed) is { } claimed)
            {
                return ExtensionReadiness.Fail(Reasons.RevisionNotFound,
                    $"Extension {claimed.Metadata.Name}, ahead of this one, claimed revision {to} of {model.Metadata.Name} first; create another Extension.");
            }
        }
        else
        {
            if (NexusModelExtensions.Ahead(extension, siblings, model) is { } ahead)
            {
                return ExtensionReadiness.Wait(Reasons.WaitingForExtension,
                    $"Extension {ahead.Metadata.Name} of NexusModel {model.Metadata.Name} goes first ({ahead.Status?.Phase ?? ExtensionPhase.Pending}); " +
                    "this one starts from the revision it produces.");
            }

            // From the latest revision, as the revision policy judges it (a pinned older one is only what is served).
            if (status?.Revisions?.MaxBy(r => r.Revision)?.Revision is not { } currentRevision)
            {
                return ExtensionReadiness.Wait(Reasons.Pending,
                    $"NexusModel {model.Metadata.Name} has no revision yet; the extension starts from its current revision once it is built.");
            }

            if (status?.ActiveJob is { } building)
            {
                return ExtensionReadiness.Wait(Reasons.Pending,
                    $"NexusModel {model.Metadata.Name} is building (Job {building}); the extension starts once it is done.");
            }

            (from, to) = (currentRevision, ModelProgress.NextRevision(status));
        }

        var revision = status?.Revisions?.FirstOrDefault(r => r.Revision == from);
        if (revision?.Model?.Uri is not { Length: > 0 } fromModel)
        {
            return ExtensionReadiness.Fail(Reasons.RevisionNotFound,
                $"Revision {from} of NexusModel {model.Metadata.Name}, which the extension starts from, is no longer in its status.revisions; " +
                "create another Extension.");
        }

        var byName = experts.ToDictionary(expert => expert.Metadata.Name, StringComparer.Ordinal);
        var inRevision = (revision.Experts ?? []).ToList();
        var current = inRevision.Select(e => byName.TryGetValue(e.Name, out var expert)
                ? ExpertInput.From(expert) with { Domain = e.Domain ?? expert.Spec.Domain }
                : new ExpertInput(e.Name, e.Domain ?? e.Name))
            .ToList();

        var add = extension.Spec.Add ?? [];
        var remove = extension.Spec.Remove ?? [];
        var started = extension.Status?.ToRevision is not null;
        var snapshot = extension.Status?.Added;
        var added = new List<ExpertInput>();
        var addedExperts = new List<RevisionExpert>();
        foreach (var adding in add)
        {
            if (inRevision.Any(e => e.Name == adding))
            {
                return ExtensionReadiness.Fail(Reasons.InvalidSpec,
                    $"spec.add names {adding}, which revision {from} of {model.Metadata.Name} already holds; it can only be added once.");
            }

            if (!byName.TryGetValue(adding, out var expert))
            {
                return started
                    ? ExtensionReadiness.Fail(Reasons.ExpertNotFound, $"Expert {adding} was deleted while the extension ran; create another Extension.")
                    : ExtensionReadiness.Wait(Reasons.ExpertNotFound, $"spec.add names Expert {adding}, which does not exist in namespace {ns}; create it.");
            }

            if (expert.Spec.Seed.Uri != model.Spec.Seed.Uri)
            {
                return ExtensionReadiness.Fail(Reasons.SeedMismatch,
                    $"spec.add names Expert {adding}, trained from {expert.Spec.Seed.Uri}, not the model's seed {model.Spec.Seed.Uri}; only fine-tunes of the seed can join.");
            }

            var checkpoint = expert.Status?.Artifacts?.Checkpoint?.Sha256;
            if (snapshot?.FirstOrDefault(e => e.Name == adding) is { } recorded)
            {
                // Started: the surgeries run on the checkpoint recorded then, and the revision records that one.
                if (recorded.CheckpointSha256 != checkpoint || !Conditions.IsTrue(expert.Status?.Conditions, ConditionTypes.Ready))
                {
                    return ExtensionReadiness.Fail(Reasons.SpecChanged,
                        $"Expert {adding} changed while the extension ran (its checkpoint was {recorded.CheckpointSha256}, it is now " +
                        $"{checkpoint ?? "being trained again"}); create another Extension.");
                }
            }
            else if (expert.Status?.Phase == ExpertPhase.Failed)
            {
                return ExtensionReadiness.Fail(Reasons.ExpertFailed,
                    $"spec.add names Expert {adding}, which Failed ({expert.Status.Message}); fix it, then create another Extension.");
            }
            else if (!Conditions.IsTrue(expert.Status?.Conditions, ConditionTypes.Ready))
            {
                return ExtensionReadiness.Wait(Reasons.WaitingForExperts,
                    $"Waiting for Expert {adding} ({expert.Status?.Phase ?? ExpertPhase.Pending}) to become Ready.");
            }

            added.Add(ExpertInput.From(expert));
            addedExperts.Add(new RevisionExpert { Name = adding, Domain = expert.Spec.Domain, CheckpointSha256 = checkpoint });
        }

        if (remove.FirstOrDefault(removing => inRevision.All(e => e.Name != removing)) is { } absent)
        {
            return ExtensionReadiness.Fail(Reasons.InvalidSpec,
                $"spec.remove names {absent}, which revision {from} of {model.Metadata.Name} does not hold (it holds {string.Join(", ", inRevision.Select(e => e.Name))}).");
        }

        var result = current.Where(e => !remove.Contains(e.Name)).Concat(added).ToList();
        if (result.GroupBy(e => e.Domain).FirstOrDefault(group => group.Count() > 1) is { } duplicate)
        {
            return ExtensionReadiness.Fail(Reasons.DuplicateDomain,
                $"spec.add would give domain {duplicate.Key} to both {string.Join(" and ", duplicate.Select(e => e.Name))}; routing reports could not tell them apart.");
        }

        if (result.Count < RevisionPolicy.MinimumExperts)
        {
            return ExtensionReadiness.Fail(Reasons.InvalidSpec,
                $"spec.remove would leave {result.Count} expert in {model.Metadata.Name}; a Nexus MoE needs at least {RevisionPolicy.MinimumExperts}.");
        }

        return ExtensionReadiness.Go(new ExtensionStart(from, to, fromModel, current, added) { AddedExperts = addedExperts });
    }

    /// <summary>Decides from the steps observed so far: the first step without a result says where the extension is;
    /// with every result it has Succeeded.</summary>
    public static ExtensionDecision Decide(ExtensionObservation observed)
    {
        ArgumentNullException.ThrowIfNull(observed);
        var start = observed.Start;
        var pending = observed.Steps.FirstOrDefault(step => step.Result is null);
        if (pending is not null || observed.Steps.Count < observed.StepCount)
        {
            var step = pending ?? throw new ArgumentException("Every step is observed once the one before it has its result.");
            var doing = step.Step.Kind switch
            {
                StepKind.Extend => $"appends expert {Argument(step.Step, "--expert")}",
                StepKind.Remove => $"removes expert {Argument(step.Step, "--expert")}",
                _ => $"evaluates revision {start.ToRevision} on every domain",
            };
            if (step.Step.Arguments.Contains("--finetune-out"))
            {
                doing += " and finetunes the result";
            }

            return DecideStep(step, start, doing);
        }

        var last = observed.Steps[^2];
        var message = $"Revision {start.ToRevision} of the model is built from revision {start.FromRevision} ({last.Result!.Uri}) and evaluated.";
        return new ExtensionDecision(ExtensionPhase.Succeeded, Health.Ready, Reasons.Succeeded, message,
            Start: start,
            Artifacts: new ExtensionArtifacts { Extended = observed.Extended, Model = last.Result },
            Metrics: ModelProgress.Metrics(observed.EvaluationReport));
    }

    /// <summary>The status for a decision (or a wait before the start): phase, the revisions, the Job running, start and
    /// completion times, artifacts and metrics, and the kstatus conditions. Unchanged input leaves it as it was.</summary>
    public static void Apply(Extension extension, ExtensionDecision decision, DateTimeOffset now)
    {
        var status = extension.Status ??= new ExtensionStatus();
        var generation = extension.Metadata.Generation;
        status.Phase = decision.Phase;
        status.Message = decision.Message.Length > Conditions.MaxMessageLength ? decision.Message[..Conditions.MaxMessageLength] : decision.Message;
        status.ActiveJob = decision.ActiveJob;
        if (decision.Start is { } start)
        {
            status.FromRevision = start.FromRevision;
            status.ToRevision = start.ToRevision;
            status.Added ??= start.AddedExperts.Count == 0 ? null : start.AddedExperts.ToList();
            status.StartTime ??= now.UtcDateTime;
        }

        if (decision.Artifacts is not null)
        {
            status.Artifacts = decision.Artifacts;
            status.Metrics = decision.Metrics;
        }

        if (decision.Phase is ExtensionPhase.Succeeded or ExtensionPhase.Failed)
        {
            status.CompletionTime ??= now.UtcDateTime;
        }

        decision.Health.Mark(status, decision.Reason, status.Message, generation, now);
    }

    /// <summary>True once the Extension Succeeded or Failed: it never runs again (its spec cannot change).</summary>
    public static bool IsFinished(Extension extension) => extension.Status?.Phase is ExtensionPhase.Succeeded or ExtensionPhase.Failed;

    private static ExtensionDecision DecideStep(StepObservation observed, ExtensionStart start, string doing)
    {
        var name = observed.Step.JobName;
        var reading = JobReadings.Read(observed);
        return reading.State switch
        {
            // Reported once the Job is created, in the words of a Job waiting for its pod: the reconcile its creation
            // causes then finds the status as it would write it, and writes nothing.
            JobState.Missing => new(ExtensionPhase.Running, Health.Progressing, Reasons.Extending,
                $"Job {name}, which {doing}, waits for its pod to start.", Create: observed.Step, ActiveJob: name, Start: start),
            JobState.Failed => new(ExtensionPhase.Failed, Health.Failed, reading.Reason!, reading.Message!, Start: start),
            JobState.CompletedWithoutResult => new(ExtensionPhase.Running, Health.Stalled, reading.Reason!, reading.Message!, Start: start),
            JobState.Stuck => new(ExtensionPhase.Running, Health.Stalled, reading.Reason!, reading.Message!, ActiveJob: name, Start: start),
            JobState.Queued => new(ExtensionPhase.Pending, Health.Progressing, reading.Reason!, reading.Message!, ActiveJob: name, Start: start),
            JobState.Running => new(ExtensionPhase.Running, Health.Progressing, Reasons.Extending, $"Job {name} {doing}.", ActiveJob: name, Start: start),
            _ => new(ExtensionPhase.Running, Health.Progressing, Reasons.Extending, $"Job {name}, which {doing}, waits for its pod to start.", ActiveJob: name, Start: start),
        };
    }

    private static string Argument(StepInvocation step, string option)
    {
        var index = step.Arguments.ToList().IndexOf(option);
        var value = index >= 0 && index + 1 < step.Arguments.Count ? step.Arguments[index + 1] : "?";
        return value.Split('=')[0];
    }
}
