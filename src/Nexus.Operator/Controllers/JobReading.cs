using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>Where a step's Job is, as far as its owner's status is concerned.</summary>
public enum JobState
{
    /// <summary>No Job yet: the step's Job is to be created.</summary>
    Missing,
    /// <summary>The Job failed after its retries (<see cref="JobReading.Reason"/> keeps the Job's own reason).</summary>
    Failed,
    /// <summary>The Job completed, yet its output holds no published result.</summary>
    CompletedWithoutResult,
    /// <summary>A pod waits on something only a person can fix (an image pull, a config error).</summary>
    Stuck,
    /// <summary>Suspended until its queue admits it.</summary>
    Queued,
    /// <summary>Its pod runs.</summary>
    Running,
    /// <summary>Created, its pod not started yet.</summary>
    WaitingForPod,
}

/// <summary>A step Job's state with the reason and message its owner reports (null for the states whose wording
/// depends on the step: <see cref="JobState.Missing"/>, <see cref="JobState.Running"/>, <see cref="JobState.WaitingForPod"/>).</summary>
public sealed record JobReading(JobState State, bool Started, string? Reason, string? Message);

/// <summary>
/// Reads a step's Job and its pods the same way for every owner (Expert, NexusModel, Extension): a failed Job keeps its
/// own reason and names the pod and container that failed, a pod stuck on an image or a config stalls the owner, and a
/// step's result is what its output's manifest lists, whatever became of its Job.
/// </summary>
public static class JobReadings
{
    /// <summary>Container waiting reasons no retry cures: a person has to fix the image, the pull secret or the config.</summary>
    public static readonly IReadOnlySet<string> StuckWaitingReasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
    };

    public static JobReading Read(StepObservation observed)
    {
        var step = observed.Step;
        var name = step.JobName;
        if (observed.Job is not { } job)
        {
            return new JobReading(JobState.Missing, false, null, null);
        }

        if (Condition(job, "Failed") is { } failed)
        {
            var why = failed.Reason switch
            {
                "PodFailurePolicy" => Reasons.NonRetriableFailure,
                { } own when Conditions.IsValidReason(own) => own,
                _ => Reasons.JobFailed,
            };
            var detail = FailedPodDetail(observed.Pods);
            var message = $"Job {name} failed ({failed.Reason ?? "Failed"}){(detail is null ? "" : $": {detail}")}"
                          + (string.IsNullOrEmpty(failed.Message) ? "." : $". {failed.Message.TrimEnd('.')}.");
            return new JobReading(JobState.Failed, true, why, message);
        }

        if (Condition(job, "Complete") is not null)
        {
            return new JobReading(JobState.CompletedWithoutResult, true, Reasons.ArtifactNotFound,
                $"Job {name} completed, but its output {step.OutputUri} holds no published result (manifest.json with the step's files).");
        }

        var started = job.Status?.StartTime is not null || job.Status?.Active > 0;
        if (StuckPod(observed.Pods) is { } stuck)
        {
            return new JobReading(JobState.Stuck, started, stuck.Reason, $"Job {name}: {stuck.Message}");
        }

        if (job.Spec?.Suspend == true)
        {
            return new JobReading(JobState.Queued, started, Reasons.Queued, $"Job {name} waits for its queue to admit it.");
        }

        return new JobReading(started ? JobState.Running : JobState.WaitingForPod, started, null, null);
    }

    /// <summary>Where a step's result is recorded: the <c>model/</c> of a run (train, finetune, or the surgery an
    /// Extension finetunes after), else the output itself (an imported, upcycled or extended model folder, an embedding
    /// or evaluation file).</summary>
    public static string ResultUri(StepInvocation step) => IsRun(step) ? ArtifactPaths.RunModel(step.OutputUri) : step.OutputUri;

    /// <summary>True when the step's output is a run folder (checkpoints/, metrics.jsonl, model/).</summary>
    public static bool IsRun(StepInvocation step) =>
        step.Kind is StepKind.Train or StepKind.Finetune || step.Arguments.Contains("--finetune-out");

    /// <summary>The step's result if <paramref name="manifest"/> holds it: a model folder with the SHA-256 of its weights
    /// (a run's manifest exists from its first checkpoint on, so only one listing the final model's weights counts), or
    /// a one-file output (embedding, evaluation report) with its SHA-256.</summary>
    public static ArtifactReference? Result(StepInvocation step, ArtifactManifest? manifest)
    {
        if (manifest is null)
        {
            return null;
        }

        var file = step.Kind is StepKind.Embed or StepKind.Evaluate
            ? SingleFile(step, manifest)
            : Weights(manifest, IsRun(step) ? "model/" : "");
        return file is null ? null : new ArtifactReference { Uri = ResultUri(step), Sha256 = file.Sha256 };
    }

    /// <summary>The file a one-file output publishes: the one named as the output's last segment, else its only file.</summary>
    public static ArtifactFile? SingleFile(StepInvocation step, ArtifactManifest manifest) =>
        manifest.Files.FirstOrDefault(f => f.Path == step.OutputUri[(step.OutputUri.LastIndexOf('/') + 1)..])
        ?? (manifest.Files.Count == 1 ? manifest.Files[0] : null);

    private static ArtifactFile? Weights(ArtifactManifest manifest, string prefix) =>
        manifest.Files.FirstOrDefault(f => f.Path == $"{prefix}model.safetensors")
        ?? manifest.Files.Where(f => f.Path.StartsWith(prefix, StringComparison.Ordinal) && !f.Path[prefix.Length..].Contains('/')
                                     && f.Path.EndsWith(".safetensors", StringComparison.Ordinal))
            .OrderBy(f => f.Path, StringComparer.Ordinal).FirstOrDefault();

    private static V1JobCondition? Condition(V1Job job, string type) =>
        job.Status?.Conditions?.FirstOrDefault(c => c.Type == type && c.Status == "True");

    /// <summary>"pod P: container C terminated with OOMKilled (exit code 137)" for the newest pod that failed.</summary>
    private static string? FailedPodDetail(IReadOnlyList<V1Pod> pods)
    {
        foreach (var pod in pods.OrderByDescending(p => p.Metadata.CreationTimestamp ?? DateTime.MinValue))
        {
            var container = pod.Status?.ContainerStatuses?.FirstOrDefault(c => c.State?.Terminated is { ExitCode: not 0 });
            if (container?.State.Terminated is { } terminated)
            {
                return $"pod {pod.Metadata.Name}: container {container.Name} terminated with {terminated.Reason ?? "Error"} (exit code {terminated.ExitCode})"
                       + (string.IsNullOrEmpty(terminated.Message) ? "" : $": {terminated.Message}");
            }
        }

        return null;
    }

    /// <summary>A live pod with a container waiting on something only a person can fix.</summary>
    private static (string Reason, string Message)? StuckPod(IReadOnlyList<V1Pod> pods)
    {
        foreach (var pod in pods.Where(p => p.Status?.Phase is null or "Pending" or "Running"))
        {
            var statuses = (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);
            var container = statuses.FirstOrDefault(c => c.State?.Waiting?.Reason is { } why && StuckWaitingReasons.Contains(why));
            if (container?.State.Waiting is { } waiting)
            {
                return (waiting.Reason, $"pod {pod.Metadata.Name}: container {container.Name} is waiting with {waiting.Reason}"
                                        + (string.IsNullOrEmpty(waiting.Message) ? "." : $": {waiting.Message}."));
            }
        }

        return null;
    }
}
