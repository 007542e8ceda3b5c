using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Registry;

/// <summary>The pod spec defaults the API server fills in (SetDefaults_PodSpec, SetDefaults_Container), so a
/// controller comparing what it sent with what it reads back meets the same differences it would on a cluster.</summary>
internal static class PodSpecDefaults
{
    public static void ApplyToTemplate(JsonObject? template, string? restartPolicy)
    {
        if (template?["spec"] is JsonObject spec)
        {
            Apply(spec, restartPolicy);
        }
    }

    public static void Apply(JsonObject spec, string? restartPolicy)
    {
        if (restartPolicy is not null && spec["restartPolicy"] is null)
        {
            spec["restartPolicy"] = restartPolicy;
        }

        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
        {
            if (spec[list] is not JsonArray containers)
            {
                continue;
            }

            foreach (var container in containers.OfType<JsonObject>())
            {
                container["terminationMessagePath"] ??= "/dev/termination-log";
                container["terminationMessagePolicy"] ??= "File";
                container["imagePullPolicy"] ??= PullPolicyFor(ObjectJson.StringOf(container["image"]));
                container["resources"] ??= new JsonObject();
                if (container["ports"] is JsonArray ports)
                {
                    foreach (var port in ports.OfType<JsonObject>())
                    {
                        port["protocol"] ??= "TCP";
                    }
                }
            }
        }
    }

    /// <summary>Always for <c>:latest</c> or an untagged image, IfNotPresent otherwise (digests included).</summary>
    private static string PullPolicyFor(string? image)
    {
        if (string.IsNullOrEmpty(image) || image.Contains('@', StringComparison.Ordinal))
        {
            return "IfNotPresent";
        }

        var lastSlash = image.LastIndexOf('/');
        var tagAt = image.IndexOf(':', lastSlash + 1);
        return tagAt < 0 || image[(tagAt + 1)..] == "latest" ? "Always" : "IfNotPresent";
    }

    public static string Render(JsonNode? node) => node?.ToJsonString(ObjectJson.Compact) ?? "null";
}

/// <summary>apps/v1 Deployment: replicas, strategy and history defaults; a selector that must match the template;
/// an immutable selector; and the both-zero rolling update rejected.</summary>
internal sealed class DeploymentStrategy : ResourceStrategy
{
    public override void ApplyDefaults(JsonObject obj)
    {
        var spec = EnsureObject(obj, "spec");
        SetDefault(spec, "replicas", 1);
        SetDefault(spec, "revisionHistoryLimit", 10);
        SetDefault(spec, "progressDeadlineSeconds", 600);
        var strategy = EnsureObject(spec, "strategy");
        SetDefault(strategy, "type", "RollingUpdate");
        if (ObjectJson.StringOf(strategy["type"]) == "RollingUpdate")
        {
            var rolling = EnsureObject(strategy, "rollingUpdate");
            SetDefault(rolling, "maxUnavailable", "25%");
            SetDefault(rolling, "maxSurge", "25%");
        }

        PodSpecDefaults.ApplyToTemplate(spec["template"] as JsonObject, "Always");
    }

    public override IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj) => Validate(obj);

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old)
    {
        foreach (var violation in Validate(obj))
        {
            yield return violation;
        }

        if (!JsonNode.DeepEquals(obj["spec"]?["selector"], old["spec"]?["selector"]))
        {
            yield return FieldViolation.Immutable("spec.selector", PodSpecDefaults.Render(obj["spec"]?["selector"]));
        }
    }

    internal static IEnumerable<FieldViolation> ValidateSelector(JsonObject obj)
    {
        var selector = obj["spec"]?["selector"] as JsonObject;
        if (selector is null)
        {
            yield return FieldViolation.Required("spec.selector");
            yield break;
        }

        var wanted = ObjectJson.StringMap(selector["matchLabels"]);
        var labels = ObjectJson.StringMap(obj["spec"]?["template"]?["metadata"]?["labels"]);
        if (wanted.Count == 0 && selector["matchExpressions"] is null)
        {
            yield return FieldViolation.Invalid("spec.selector", PodSpecDefaults.Render(selector), "empty selector is invalid for deployment");
        }
        else if (wanted.Any(pair => !labels.TryGetValue(pair.Key, out var value) || value != pair.Value))
        {
            yield return FieldViolation.Invalid(
                "spec.template.metadata.labels",
                PodSpecDefaults.Render(obj["spec"]?["template"]?["metadata"]?["labels"]),
                "`selector` does not match template `labels`");
        }
    }

    private static IEnumerable<FieldViolation> Validate(JsonObject obj)
    {
        foreach (var violation in ValidateSelector(obj))
        {
            yield return violation;
        }

        var rolling = obj["spec"]?["strategy"]?["rollingUpdate"];
        if (rolling is JsonObject && IsZero(rolling["maxSurge"]) && IsZero(rolling["maxUnavailable"]))
        {
            yield return FieldViolation.Invalid(
                "spec.strategy.rollingUpdate.maxUnavailable",
                PodSpecDefaults.Render(rolling["maxUnavailable"]),
                "may not be 0 when `maxSurge` is 0");
        }
    }

    private static bool IsZero(JsonNode? value) => value is JsonValue v && (v.ToJsonString() is "0" or "\"0\"" or "\"0%\"");
}

/// <summary>apps/v1 ReplicaSet: replicas default and a selector that must match the template.</summary>
internal sealed class ReplicaSetStrategy : ResourceStrategy
{
    public override JsonNode? InitialStatus(JsonObject obj) => new JsonObject { ["replicas"] = 0 };

    public override void ApplyDefaults(JsonObject obj)
    {
        var spec = EnsureObject(obj, "spec");
        SetDefault(spec, "replicas", 1);
        PodSpecDefaults.ApplyToTemplate(spec["template"] as JsonObject, "Always");
    }

    public override IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj) =>
        DeploymentStrategy.ValidateSelector(obj);
}

/// <summary>batch/v1 Job: the controller-uid selector and template labels the API server generates, the spec defaults,
/// restartPolicy OnFailure or Never, an immutable template, selector and completions, and Orphan as the v1 default
/// propagation policy (kubectl and controllers pass Background explicitly).</summary>
internal sealed class JobStrategy : ResourceStrategy
{
    public const string ControllerUidLabel = "batch.kubernetes.io/controller-uid";
    public const string JobNameLabel = "batch.kubernetes.io/job-name";
    public const string LegacyControllerUidLabel = "controller-uid";
    public const string LegacyJobNameLabel = "job-name";

    public override string DefaultPropagationPolicy => PropagationPolicies.Orphan;

    public override void ApplyDefaults(JsonObject obj)
    {
        var spec = EnsureObject(obj, "spec");
        if (spec["completions"] is null && spec["parallelism"] is null)
        {
            spec["completions"] = 1;
        }

        SetDefault(spec, "parallelism", 1);
        SetDefault(spec, "backoffLimit", 6);
        SetDefault(spec, "completionMode", "NonIndexed");
        SetDefault(spec, "suspend", false);
        SetDefault(spec, "podReplacementPolicy", spec["podFailurePolicy"] is null ? "TerminatingOrFailed" : "Failed");
        var metadata = ObjectJson.Metadata(obj);
        if (metadata["labels"] is not JsonObject { Count: > 0 } && spec["template"]?["metadata"]?["labels"] is JsonObject { Count: > 0 } templateLabels)
        {
            metadata["labels"] = templateLabels.DeepClone();
        }

        PodSpecDefaults.ApplyToTemplate(spec["template"] as JsonObject, null);
    }

    public override void PrepareForCreate(ResourceDefinition definition, JsonObject obj)
    {
        base.PrepareForCreate(definition, obj);
        var spec = EnsureObject(obj, "spec");
        if (spec["manualSelector"] is JsonValue manual && manual.TryGetValue<bool>(out var isManual) && isManual)
        {
            return;
        }

        var uid = ObjectJson.MetadataString(obj, "uid")!;
        var name = ObjectJson.MetadataString(obj, "name")!;
        spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [ControllerUidLabel] = uid } };
        var template = EnsureObject(spec, "template");
        var labels = EnsureObject(EnsureObject(template, "metadata"), "labels");
        labels[ControllerUidLabel] = uid;
        labels[JobNameLabel] = name;
        labels[LegacyControllerUidLabel] = uid;
        labels[LegacyJobNameLabel] = name;
    }

    public override IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj)
    {
        var podSpec = obj["spec"]?["template"]?["spec"] as JsonObject;
        if (podSpec?["containers"] is not JsonArray { Count: > 0 })
        {
            yield return FieldViolation.Required("spec.template.spec.containers");
        }

        var restartPolicy = ObjectJson.StringOf(podSpec?["restartPolicy"]);
        if (restartPolicy is null)
        {
            yield return FieldViolation.Required("spec.template.spec.restartPolicy", "valid values: \"OnFailure\", \"Never\"");
        }
        else if (restartPolicy is not ("OnFailure" or "Never"))
        {
            yield return new FieldViolation(
                "spec.template.spec.restartPolicy", "Unsupported value", $"\"{restartPolicy}\": supported values: \"OnFailure\", \"Never\"");
        }
    }

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old)
    {
        foreach (var field in new[] { "template", "selector", "completions" })
        {
            if (!JsonNode.DeepEquals(obj["spec"]?[field], old["spec"]?[field]))
            {
                yield return FieldViolation.Immutable($"spec.{field}", PodSpecDefaults.Render(obj["spec"]?[field]));
            }
        }
    }
}

/// <summary>core/v1 Pod: spec defaults, Pending on create, and DELETE answers with the pod. Pods here are never bound
/// to a node, so (as on a cluster for an unscheduled pod) deletion is immediate.</summary>
internal sealed class PodStrategy : ResourceStrategy
{
    public override bool ReturnDeletedObject => true;

    public override JsonNode? InitialStatus(JsonObject obj) => new JsonObject { ["phase"] = "Pending" };

    public override void ApplyDefaults(JsonObject obj)
    {
        var spec = EnsureObject(obj, "spec");
        PodSpecDefaults.Apply(spec, "Always");
        spec["enableServiceLinks"] ??= true;
    }
}
