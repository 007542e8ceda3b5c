using System.Text;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Registry;

/// <summary>core/v1 Service: type, affinity, port and IP-family defaults; a cluster IP allocated on create from
/// 10.96.0.0/16 and carried over when an update omits it (as the real registry does); the IP may not change.</summary>
internal sealed class ServiceStrategy : ResourceStrategy
{
    private int nextAddress = 10;

    public override JsonNode? InitialStatus(JsonObject obj) => new JsonObject { ["loadBalancer"] = new JsonObject() };

    public override void ApplyDefaults(JsonObject obj)
    {
        var spec = EnsureObject(obj, "spec");
        SetDefault(spec, "type", "ClusterIP");
        SetDefault(spec, "sessionAffinity", "None");
        SetDefault(spec, "internalTrafficPolicy", "Cluster");
        if (spec["ports"] is JsonArray ports)
        {
            foreach (var port in ports.OfType<JsonObject>())
            {
                SetDefault(port, "protocol", "TCP");
                if (port["targetPort"] is null && port["port"] is { } number)
                {
                    port["targetPort"] = number.DeepClone();
                }
            }
        }
    }

    public override void PrepareForCreate(ResourceDefinition definition, JsonObject obj)
    {
        base.PrepareForCreate(definition, obj);
        var spec = EnsureObject(obj, "spec");
        var clusterIp = ObjectJson.StringOf(spec["clusterIP"]);
        if (string.IsNullOrEmpty(clusterIp))
        {
            var address = Interlocked.Increment(ref nextAddress);
            clusterIp = $"10.96.{address / 256}.{address % 256}";
            spec["clusterIP"] = clusterIp;
        }

        spec["clusterIPs"] = new JsonArray(clusterIp);
        SetDefault(spec, "ipFamilies", new JsonArray("IPv4"));
        SetDefault(spec, "ipFamilyPolicy", "SingleStack");
    }

    public override void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
        var spec = EnsureObject(obj, "spec");
        foreach (var allocated in new[] { "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy" })
        {
            if (spec[allocated] is null && old["spec"]?[allocated] is { } previous)
            {
                spec[allocated] = previous.DeepClone();
            }
        }
    }

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old)
    {
        var before = ObjectJson.StringOf(old["spec"]?["clusterIP"]);
        var after = ObjectJson.StringOf(obj["spec"]?["clusterIP"]);
        if (before != after)
        {
            yield return FieldViolation.Invalid("spec.clusterIPs[0]", $"[]string{{\"{after}\"}}", "may not change once set");
        }
    }
}

/// <summary>core/v1 Namespace: the <c>kubernetes</c> finalizer, phase Active, the
/// <c>kubernetes.io/metadata.name</c> label; spec and status are kept from the old object on update (they change
/// through deletion and /finalize only).</summary>
internal sealed class NamespaceStrategy : ResourceStrategy
{
    public const string NameLabel = "kubernetes.io/metadata.name";
    public const string KubernetesFinalizer = "kubernetes";

    public override bool ReturnDeletedObject => true;

    public override JsonNode? InitialStatus(JsonObject obj) => new JsonObject { ["phase"] = "Active" };

    public override void ApplyDefaults(JsonObject obj)
    {
        var metadata = ObjectJson.Metadata(obj);
        if (ObjectJson.StringOf(metadata["name"]) is { } name)
        {
            EnsureObject(metadata, "labels")[NameLabel] = name;
        }
    }

    public override void PrepareForCreate(ResourceDefinition definition, JsonObject obj)
    {
        base.PrepareForCreate(definition, obj);
        EnsureObject(obj, "spec")["finalizers"] = new JsonArray(KubernetesFinalizer);
    }

    public override void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
        obj["spec"] = old["spec"]?.DeepClone();
        obj["status"] = old["status"]?.DeepClone();
    }
}

/// <summary>core/v1 Secret: type Opaque by default, <c>stringData</c> folded into base64 <c>data</c> (write-only, as on
/// a cluster), and an immutable type.</summary>
internal sealed class SecretStrategy : ResourceStrategy
{
    public override void ApplyDefaults(JsonObject obj)
    {
        SetDefault(obj, "type", "Opaque");
        if (obj["stringData"] is JsonObject plain)
        {
            var data = EnsureObject(obj, "data");
            foreach (var (key, value) in plain)
            {
                data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(ObjectJson.StringOf(value) ?? string.Empty));
            }

            obj.Remove("stringData");
        }
    }

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old)
    {
        if (ObjectJson.StringOf(obj["type"]) != ObjectJson.StringOf(old["type"]))
        {
            yield return FieldViolation.Immutable("type", $"\"{ObjectJson.StringOf(obj["type"])}\"");
        }
    }
}
