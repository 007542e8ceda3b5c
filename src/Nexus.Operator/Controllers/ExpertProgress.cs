using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>What the reconciler observed of one step of the Expert's current generation: its result (from the output
/// artifact's manifest, or from the status that recorded it), and its Job with that Job's pods (from the caches).</summary>
public sealed record StepObservation(StepInvocation Step, ArtifactReference? Result, V1Job? Job, IReadOnlyList<V1Pod> Pods);

/// <summary>The verdict on an Expert: its phase and health with the reason and message that go into the conditions and
/// the Event, the Job to create (never one that exists), and the artifacts done so far.</summary>
public sealed record ExpertDecision(
    ExpertPhase Phase,
    Health Health,
    string Reason,
    string Message,
    StepInvocation? Create,
    string? ActiveJob,
    ArtifactReference? Checkpoint,
    ArtifactReference? Embedding);

/// <summary>
/// The Expert's lifecycle as pure functions: checkpoint (train or import), then embedding, then Ready. A step is done when
/// its output artifact's manifest lists its result, whatever became of its Job (the TTL deletes finished Jobs, and a
/// restarted operator must not re-run a step); otherwise its Job says where it is.
/// </summary>
public static class ExpertProgress
{
    /// <summary>Decides from the checkpoint step and, once the checkpoint is done, the embedding step.</summary>
    public static ExpertDecision Decide(StepObservation checkpoint, StepObservation? embedding)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (checkpoint.Result is not { } model)
        {
            return DecideStep(checkpoint, first: true, done: null);
        }

        ArgumentNullException.ThrowIfNull(embedding);
        if (embedding.Result is not { } vector)
        {
            return DecideStep(embedding, first: false, done: model);
        }

        return new ExpertDecision(
            ExpertPhase.Ready, Health.Ready, Reasons.Succeeded,
            $"Checkpoint {model.Uri} and embedding {vector.Uri} are in the artifact store.",
            Create: null, ActiveJob: null, model, vector);
    }

    private static ExpertDecision DecideStep(StepObservation observed, bool first, ArtifactReference? done)
    {
        var step = observed.Step;
        var name = step.JobName;
        var (phase, reason, doing) = step.Kind switch
        {
            StepKind.Train => (ExpertPhase.Training, Reasons.Training, "trains the expert"),
            StepKind.Import => (ExpertPhase.Importing, Reasons.Importing, "imports the checkpoint"),
            _ => (ExpertPhase.Embedding, Reasons.Embedding, "computes the domain embedding"),
        };
        ExpertDecision Verdict(ExpertPhase p, Health health, string why, string message, StepInvocation? create = null, string? active = null) =>
            new(p, health, why, message, create, active, done, Embedding: null);

        // The first step shows Pending until its pod runs; later steps show their own phase from the start.
        var waitingPhase = first ? ExpertPhase.Pending : phase;
        var waitingReason = first ? Reasons.Pending : reason;
        var reading = JobReadings.Read(observed);
        return reading.State switch
        {
            // Reported once the Job is created, in the words of a Job waiting for its pod: the reconcile its creation
            // causes then finds the status as it would write it, and writes nothing.
            JobState.Missing => Verdict(waitingPhase, Health.Progressing, waitingReason, $"Job {name}, which {doing}, waits for its pod to start.", create: step, active: name),
            JobState.Failed => Verdict(ExpertPhase.Failed, Health.Failed, reading.Reason!, reading.Message!),
            JobState.CompletedWithoutResult => Verdict(phase, Health.Stalled, reading.Reason!, reading.Message!),
            JobState.Stuck => Verdict(reading.Started ? phase : waitingPhase, Health.Stalled, reading.Reason!, reading.Message!, active: name),
            JobState.Queued => Verdict(waitingPhase, Health.Progressing, reading.Reason!, reading.Message!, active: name),
            JobState.Running => Verdict(phase, Health.Progressing, reason, $"Job {name} {doing}.", active: name),
            _ => Verdict(waitingPhase, Health.Progressing, waitingReason, $"Job {name}, which {doing}, waits for its pod to start.", active: name),
        };
    }

    /// <summary>Writes <paramref name="decision"/> into <paramref name="status"/>: a new generation starts afresh
    /// (times and artifacts), times are set once, the kstatus conditions follow the health, and CheckpointReady and
    /// EmbeddingReady say which artifacts are done. Unchanged input leaves the status as it was.</summary>
    public static void Apply(Expert expert, ExpertDecision decision, DateTimeOffset now)
    {
        var status = expert.Status ??= new ExpertStatus();
        var generation = expert.Metadata.Generation;
        if (status.ObservedGeneration != generation)
        {
            status.StartTime = null;
            status.CompletionTime = null;
            status.Artifacts = null;
        }

        status.Phase = decision.Phase;
        status.Source = expert.Spec.Import?.Uri ?? expert.Spec.Data.Uri;
        status.ActiveJob = decision.ActiveJob;
        status.Message = decision.Message.Length > Conditions.MaxMessageLength ? decision.Message[..Conditions.MaxMessageLength] : decision.Message;
        status.Artifacts = decision.Checkpoint is null && decision.Embedding is null
            ? null
            : new ExpertArtifacts { Checkpoint = decision.Checkpoint, Embedding = decision.Embedding };
        // Set in the reconcile that creates the first Job, so the one its creation causes finds nothing to change.
        if (decision.Phase != ExpertPhase.Pending || decision.ActiveJob is not null)
        {
            status.StartTime ??= now.UtcDateTime;
        }

        status.CompletionTime = decision.Health is Health.Ready or Health.Failed ? status.CompletionTime ?? now.UtcDateTime : null;
        decision.Health.Mark(status, decision.Reason, decision.Message, generation, now);
        SetArtifactCondition(status, ConditionTypes.CheckpointReady, decision.Checkpoint, "Checkpoint", decision, generation, now);
        SetArtifactCondition(status, ConditionTypes.EmbeddingReady, decision.Embedding, "Embedding", decision, generation, now);
    }

    private static void SetArtifactCondition(
        ExpertStatus status, string type, ArtifactReference? artifact, string what, ExpertDecision decision, long? generation, DateTimeOffset now)
    {
        status.Conditions ??= [];
        if (artifact is not null)
        {
            Conditions.Set(status.Conditions, type, Conditions.True, Reasons.Succeeded,
                $"{what} {artifact.Uri} is in the artifact store (sha256 {artifact.Sha256}).", generation, now);
        }
        else
        {
            Conditions.Set(status.Conditions, type, Conditions.False, decision.Reason, decision.Message, generation, now);
        }
    }
}
