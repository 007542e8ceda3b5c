using System.Text.Json.Nodes;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Controllers;

/// <summary>The Job controller and kubelet, driven by the test: each call moves one Job's pod and the Job's status as
/// the real controllers would for a single-completion Job (k8s 1.31+: SuccessCriteriaMet before Complete,
/// FailureTarget before Failed). The pod is created on first need, owned by the Job (controller, blockOwnerDeletion),
/// with the template's labels, which carry <c>batch.kubernetes.io/job-name</c> and <c>job-name</c>.</summary>
public sealed class JobSimulator
{
    private readonly ResourceRegistry registry;
    private readonly TimeProvider clock;
    private readonly ResourceDefinition jobs;
    private readonly ResourceDefinition pods;

    internal JobSimulator(ResourceRegistry registry, TimeProvider clock)
    {
        this.registry = registry;
        this.clock = clock;
        jobs = registry.Catalog.Get("batch/v1", "jobs");
        pods = registry.Catalog.Get("v1", "pods");
    }

    /// <summary>The pod is running: Job status active=1, ready=1, startTime.</summary>
    public void MarkRunning(string ns, string name)
    {
        var pod = EnsurePod(ns, name);
        var now = Now();
        UpdatePodStatus(ns, pod, status =>
        {
            status["phase"] = "Running";
            status["startTime"] ??= now;
            status["podIP"] = "10.244.0.10";
            status["conditions"] = new JsonArray(PodCondition("Initialized", now), PodCondition("PodScheduled", now), PodCondition("ContainersReady", now), PodCondition("Ready", now));
            status["containerStatuses"] = ContainerStatuses(pod, ready: true, new JsonObject { ["running"] = new JsonObject { ["startedAt"] = now } });
        });
        UpdateJobStatus(ns, name, status =>
        {
            status["startTime"] ??= now;
            status["active"] = 1;
            status["ready"] = 1;
            status["uncountedTerminatedPods"] ??= new JsonObject();
        });
    }

    /// <summary>The pod completed: pod Succeeded (exit 0), Job succeeded=1 with SuccessCriteriaMet and Complete
    /// conditions and a completionTime.</summary>
    public void MarkSucceeded(string ns, string name)
    {
        var pod = EnsurePod(ns, name);
        var now = Now();
        UpdatePodStatus(ns, pod, status =>
        {
            status["phase"] = "Succeeded";
            status["startTime"] ??= now;
            status["containerStatuses"] = ContainerStatuses(pod, ready: false, Terminated(0, "Completed", null, now));
        });
        UpdateJobStatus(ns, name, status =>
        {
            status["startTime"] ??= now;
            status["active"] = 0;
            status["ready"] = 0;
            status["succeeded"] = 1;
            status["completionTime"] = now;
            status["uncountedTerminatedPods"] ??= new JsonObject();
            status["conditions"] = new JsonArray(
                JobCondition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now),
                JobCondition("Complete", "CompletionsReached", "Reached expected number of succeeded pods", now));
        });
    }

    /// <summary>The pod failed with <paramref name="exitCode"/> and container reason <paramref name="podReason"/>
    /// (Error, OOMKilled, ...), and the Job gave up: FailureTarget and Failed conditions with
    /// <paramref name="reason"/> (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy).</summary>
    public void MarkFailed(
        string ns,
        string name,
        string reason = "BackoffLimitExceeded",
        string message = "Job has reached the specified backoff limit",
        int exitCode = 1,
        string podReason = "Error")
    {
        var pod = EnsurePod(ns, name);
        var now = Now();
        UpdatePodStatus(ns, pod, status =>
        {
            status["phase"] = "Failed";
            status["startTime"] ??= now;
            status["containerStatuses"] = ContainerStatuses(pod, ready: false, Terminated(exitCode, podReason, null, now));
        });
        UpdateJobStatus(ns, name, status =>
        {
            status["startTime"] ??= now;
            status["active"] = 0;
            status["ready"] = 0;
            status["failed"] = 1;
            status["uncountedTerminatedPods"] ??= new JsonObject();
            status["conditions"] = new JsonArray(JobCondition("FailureTarget", reason, message, now), JobCondition("Failed", reason, message, now));
        });
    }

    /// <summary>The pod cannot start: Pending with the container waiting for <paramref name="reason"/>
    /// (ImagePullBackOff, ErrImagePull, CreateContainerConfigError); the Job counts it active, not ready.</summary>
    public void MarkPodWaiting(string ns, string name, string reason = "ImagePullBackOff", string message = "Back-off pulling image")
    {
        var pod = EnsurePod(ns, name);
        var now = Now();
        UpdatePodStatus(ns, pod, status =>
        {
            status["phase"] = "Pending";
            status["conditions"] = new JsonArray(PodCondition("PodScheduled", now));
            status["containerStatuses"] = ContainerStatuses(
                pod, ready: false, new JsonObject { ["waiting"] = new JsonObject { ["reason"] = reason, ["message"] = message } });
        });
        UpdateJobStatus(ns, name, status =>
        {
            status["startTime"] ??= now;
            status["active"] = 1;
            status["ready"] = 0;
            status["uncountedTerminatedPods"] ??= new JsonObject();
        });
    }

    /// <summary>The Job's pod as stored, or null before the Job has one.</summary>
    public JsonObject? PodOf(string ns, string name)
    {
        var job = Job(ns, name);
        return FindPod(ns, job)?.ToJsonObject();
    }

    private StoredObject Job(string ns, string name) =>
        registry.Store.Transact(tx => tx.Get(jobs, ns, name)) ?? throw new InvalidOperationException($"Job {ns}/{name} does not exist.");

    private StoredObject? FindPod(string ns, StoredObject job) =>
        registry.Store.Transact(tx => tx.Scan(pods).FirstOrDefault(p => p.Namespace == ns && p.Owners.Any(o => o.Uid == job.Uid)));

    private JsonObject EnsurePod(string ns, string name)
    {
        var job = Job(ns, name);
        if (FindPod(ns, job) is { } existing)
        {
            return existing.ToJsonObject();
        }

        var jobJson = job.ToJsonObject();
        var template = jobJson["spec"]?["template"] as JsonObject ?? [];
        var metadata = (template["metadata"]?.DeepClone() as JsonObject) ?? [];
        metadata.Remove("name");
        metadata["generateName"] = name + "-";
        metadata["ownerReferences"] = new JsonArray(new JsonObject
        {
            ["apiVersion"] = "batch/v1",
            ["kind"] = "Job",
            ["name"] = name,
            ["uid"] = job.Uid,
            ["controller"] = true,
            ["blockOwnerDeletion"] = true,
        });
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = metadata,
            ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
        };
        return registry.Create(pods, ns, pod).Body;
    }

    private void UpdatePodStatus(string ns, JsonObject pod, Action<JsonObject> change) =>
        registry.Mutate(pods, ns, ObjectJson.MetadataString(pod, "name")!, obj => change(Status(obj)), statusOnly: true);

    private void UpdateJobStatus(string ns, string name, Action<JsonObject> change) =>
        registry.Mutate(jobs, ns, name, obj => change(Status(obj)), statusOnly: true);

    private static JsonObject Status(JsonObject obj)
    {
        if (obj["status"] is JsonObject status)
        {
            return status;
        }

        status = new JsonObject();
        obj["status"] = status;
        return status;
    }

    private static JsonArray ContainerStatuses(JsonObject pod, bool ready, JsonObject state)
    {
        var result = new JsonArray();
        foreach (var container in (pod["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>())
        {
            result.Add(new JsonObject
            {
                ["name"] = container["name"]?.DeepClone(),
                ["image"] = container["image"]?.DeepClone(),
                ["imageID"] = string.Empty,
                ["ready"] = ready,
                ["started"] = state.ContainsKey("running"),
                ["restartCount"] = 0,
                ["state"] = state.DeepClone(),
            });
        }

        return result;
    }

    private static JsonObject Terminated(int exitCode, string reason, string? message, string now)
    {
        var terminated = new JsonObject { ["exitCode"] = exitCode, ["reason"] = reason, ["startedAt"] = now, ["finishedAt"] = now };
        if (message is not null)
        {
            terminated["message"] = message;
        }

        return new JsonObject { ["terminated"] = terminated };
    }

    private static JsonObject PodCondition(string type, string now) =>
        new() { ["type"] = type, ["status"] = "True", ["lastProbeTime"] = null, ["lastTransitionTime"] = now };

    private static JsonObject JobCondition(string type, string reason, string message, string now) => new()
    {
        ["type"] = type,
        ["status"] = "True",
        ["reason"] = reason,
        ["message"] = message,
        ["lastProbeTime"] = now,
        ["lastTransitionTime"] = now,
    };

    private string Now() => ObjectJson.Timestamp(clock.GetUtcNow());
}
