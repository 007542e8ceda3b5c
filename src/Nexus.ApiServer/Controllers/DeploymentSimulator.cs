using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Controllers;

/// <summary>The Deployment controller, driven by the test. Until <see cref="MakeReady"/> is called, a Deployment's
/// status does not move: after a spec change its status.observedGeneration lags its metadata.generation, which is
/// how a rollout in progress looks to a reader. <see cref="MakeReady"/> completes the rollout of the current template
/// the way the controller would: a ReplicaSet named after the pod-template-hash, older ReplicaSets scaled to zero, the
/// revision annotation, and status with Available and Progressing (NewReplicaSetAvailable). Pods are not simulated.</summary>
public sealed class DeploymentSimulator
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string PodTemplateHashLabel = "pod-template-hash";
    private const string HashAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    private readonly ResourceRegistry registry;
    private readonly TimeProvider clock;
    private readonly ResourceDefinition deployments;
    private readonly ResourceDefinition replicaSets;

    internal DeploymentSimulator(ResourceRegistry registry, TimeProvider clock)
    {
        this.registry = registry;
        this.clock = clock;
        deployments = registry.Catalog.Get("apps/v1", "deployments");
        replicaSets = registry.Catalog.Get("apps/v1", "replicasets");
    }

    /// <summary>Rolls the Deployment out to its current template and reports every replica ready and available.
    /// Returns the name of the ReplicaSet that serves the template.</summary>
    public string MakeReady(string ns, string name)
    {
        var deployment = Deployment(ns, name);
        var spec = deployment["spec"] as JsonObject ?? [];
        var template = spec["template"] as JsonObject ?? [];
        var replicas = (int)(ObjectJson.Long(spec["replicas"]) ?? 1);
        var hash = PodTemplateHash(template);
        var replicaSetName = $"{name}-{hash}";
        var uid = ObjectJson.MetadataString(deployment, "uid")!;
        var owned = registry.Store.Transact(tx => tx.Scan(replicaSets)
            .Where(rs => rs.Namespace == ns && rs.Owners.Any(o => o.Uid == uid))
            .Select(rs => rs.ToJsonObject())
            .ToList());
        var current = owned.FirstOrDefault(rs => ObjectJson.MetadataString(rs, "name") == replicaSetName);
        var revision = current is not null
            ? RevisionOf(current)
            : owned.Select(RevisionOf).DefaultIfEmpty(0).Max() + 1;
        if (current is null)
        {
            registry.Create(replicaSets, ns, NewReplicaSet(deployment, template, replicaSetName, hash, replicas, revision));
        }
        else
        {
            registry.Mutate(replicaSets, ns, replicaSetName, rs =>
            {
                rs["spec"]!["replicas"] = replicas;
                Annotations(rs)[RevisionAnnotation] = Text(revision);
            }, statusOnly: false);
        }

        foreach (var old in owned.Where(rs => ObjectJson.MetadataString(rs, "name") != replicaSetName))
        {
            var oldName = ObjectJson.MetadataString(old, "name")!;
            registry.Mutate(replicaSets, ns, oldName, rs => rs["spec"]!["replicas"] = 0, statusOnly: false);
            SetReplicaSetStatus(ns, oldName, 0);
        }

        SetReplicaSetStatus(ns, replicaSetName, replicas);
        registry.Mutate(deployments, ns, name, d => Annotations(d)[RevisionAnnotation] = Text(revision), statusOnly: false);
        var now = ObjectJson.Timestamp(clock.GetUtcNow());
        registry.Mutate(deployments, ns, name, d =>
        {
            var status = new JsonObject
            {
                ["observedGeneration"] = ObjectJson.Long(d["metadata"]?["generation"]) ?? 1,
                ["replicas"] = replicas,
                ["updatedReplicas"] = replicas,
                ["readyReplicas"] = replicas,
                ["availableReplicas"] = replicas,
                ["conditions"] = new JsonArray(
                    Condition(d, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
                    Condition(d, "Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{replicaSetName}\" has successfully progressed.", now)),
            };
            d["status"] = status;
        }, statusOnly: true);
        return replicaSetName;
    }

    /// <summary>No replica is available: Available False (MinimumReplicasUnavailable) and Progressing with
    /// <paramref name="reason"/> (False for ProgressDeadlineExceeded, as the controller reports a stalled rollout).</summary>
    public void SetUnavailable(
        string ns,
        string name,
        string reason = "ProgressDeadlineExceeded",
        string message = "ReplicaSet has timed out progressing.")
    {
        var now = ObjectJson.Timestamp(clock.GetUtcNow());
        var updated = registry.Mutate(deployments, ns, name, d =>
        {
            var replicas = (int)(ObjectJson.Long(d["spec"]?["replicas"]) ?? 1);
            d["status"] = new JsonObject
            {
                ["observedGeneration"] = ObjectJson.Long(d["metadata"]?["generation"]) ?? 1,
                ["replicas"] = replicas,
                ["updatedReplicas"] = replicas,
                ["unavailableReplicas"] = replicas,
                ["conditions"] = new JsonArray(
                    Condition(d, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now),
                    Condition(d, "Progressing", reason == "ProgressDeadlineExceeded" ? "False" : "True", reason, message, now)),
            };
        }, statusOnly: true);
        if (!updated && registry.Store.Transact(tx => tx.Get(deployments, ns, name)) is null)
        {
            throw new InvalidOperationException($"Deployment {ns}/{name} does not exist.");
        }
    }

    /// <summary>The pod-template-hash of a template: FNV-1a over its canonical JSON, written in the controller's
    /// safe alphabet (the real hash covers the Go struct, so values differ, but it changes exactly when the template
    /// does).</summary>
    public static string PodTemplateHash(JsonObject template)
    {
        var canonical = Encoding.UTF8.GetBytes(ObjectJson.CanonicalText(template));
        var hash = 2166136261u;
        foreach (var b in canonical)
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        var digits = hash.ToString(CultureInfo.InvariantCulture);
        return new string(digits.Select(d => HashAlphabet[d % HashAlphabet.Length]).ToArray());
    }

    private JsonObject Deployment(string ns, string name) =>
        registry.Store.Transact(tx => tx.Get(deployments, ns, name))?.ToJsonObject()
        ?? throw new InvalidOperationException($"Deployment {ns}/{name} does not exist.");

    private static JsonObject NewReplicaSet(JsonObject deployment, JsonObject template, string name, string hash, int replicas, int revision)
    {
        var podTemplate = (JsonObject)template.DeepClone();
        var templateMetadata = podTemplate["metadata"] as JsonObject ?? [];
        podTemplate["metadata"] = templateMetadata;
        var labels = templateMetadata["labels"] as JsonObject ?? [];
        templateMetadata["labels"] = labels;
        labels[PodTemplateHashLabel] = hash;
        var selector = deployment["spec"]?["selector"]?.DeepClone() as JsonObject ?? [];
        var matchLabels = selector["matchLabels"] as JsonObject ?? [];
        selector["matchLabels"] = matchLabels;
        matchLabels[PodTemplateHashLabel] = hash;
        var surge = replicas + 1;
        return new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "ReplicaSet",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["labels"] = labels.DeepClone(),
                ["annotations"] = new JsonObject
                {
                    ["deployment.kubernetes.io/desired-replicas"] = Text(replicas),
                    ["deployment.kubernetes.io/max-replicas"] = Text(surge),
                    [RevisionAnnotation] = Text(revision),
                },
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "apps/v1",
                    ["kind"] = "Deployment",
                    ["name"] = ObjectJson.MetadataString(deployment, "name"),
                    ["uid"] = ObjectJson.MetadataString(deployment, "uid"),
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                }),
            },
            ["spec"] = new JsonObject { ["replicas"] = replicas, ["selector"] = selector, ["template"] = podTemplate },
        };
    }

    private void SetReplicaSetStatus(string ns, string name, int replicas) =>
        registry.Mutate(replicaSets, ns, name, rs =>
        {
            var status = new JsonObject
            {
                ["replicas"] = replicas,
                ["observedGeneration"] = ObjectJson.Long(rs["metadata"]?["generation"]) ?? 1,
            };
            if (replicas > 0)
            {
                status["fullyLabeledReplicas"] = replicas;
                status["readyReplicas"] = replicas;
                status["availableReplicas"] = replicas;
            }

            rs["status"] = status;
        }, statusOnly: true);

    /// <summary>A deployment condition whose lastTransitionTime moves only when its status flips.</summary>
    private static JsonObject Condition(JsonObject deployment, string type, string status, string reason, string message, string now)
    {
        var previous = (deployment["status"]?["conditions"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .FirstOrDefault(c => ObjectJson.StringOf(c["type"]) == type);
        var transition = previous is not null && ObjectJson.StringOf(previous["status"]) == status
            ? ObjectJson.StringOf(previous["lastTransitionTime"]) ?? now
            : now;
        return new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["lastUpdateTime"] = now,
            ["lastTransitionTime"] = transition,
            ["reason"] = reason,
            ["message"] = message,
        };
    }

    private static JsonObject Annotations(JsonObject obj)
    {
        var metadata = ObjectJson.Metadata(obj);
        if (metadata["annotations"] is JsonObject annotations)
        {
            return annotations;
        }

        annotations = new JsonObject();
        metadata["annotations"] = annotations;
        return annotations;
    }

    private static int RevisionOf(JsonObject replicaSet) =>
        int.TryParse(ObjectJson.StringOf(replicaSet["metadata"]?["annotations"]?[RevisionAnnotation]), CultureInfo.InvariantCulture, out var revision) ? revision : 0;

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
