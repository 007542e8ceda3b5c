using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Registry;

/// <summary>Per-type rules of the registry, as the real API server's REST strategies hold them: defaulting and status
/// reset on create, fields an update may not change, which deletion propagation is the default.</summary>
internal class ResourceStrategy
{
    public static readonly ResourceStrategy Default = new();

    /// <summary>PUT without metadata.resourceVersion is allowed (true for built-ins, false for custom resources).</summary>
    public virtual bool AllowUnconditionalUpdate => true;

    /// <summary>DELETE answers with the deleted object rather than a Status (pods, namespaces, custom resources).</summary>
    public virtual bool ReturnDeletedObject => false;

    /// <summary>propagationPolicy when the request names none.</summary>
    public virtual string DefaultPropagationPolicy => PropagationPolicies.Background;

    /// <summary>Status an object starts with when it has a status subresource: whatever the client sent is dropped.</summary>
    public virtual JsonNode? InitialStatus(JsonObject obj) => new JsonObject();

    /// <summary>Scheme defaults, applied to every object a client sends (create and update alike), as the API server
    /// applies them when it decodes a request.</summary>
    public virtual void ApplyDefaults(JsonObject obj)
    {
    }

    /// <summary>Create-only preparation, after uid, name and timestamps are set: status reset, generated fields.</summary>
    public virtual void PrepareForCreate(ResourceDefinition definition, JsonObject obj)
    {
        if (definition.HasStatusSubresource)
        {
            obj.Remove("status");
            if (InitialStatus(obj) is { } status)
            {
                obj["status"] = status;
            }
        }
    }

    /// <summary>Server-side carry-over from the old object on update (allocated values a client may omit).</summary>
    public virtual void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
    }

    public virtual IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj) => [];

    public virtual IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old) => [];

    /// <summary>Called after a create or update of this type commits (the CRD type registers its resource).</summary>
    public virtual void Committed(JsonObject obj)
    {
    }

    /// <summary>Called after an object of this type is removed.</summary>
    public virtual void Removed(JsonObject obj)
    {
    }

    protected static JsonObject EnsureObject(JsonObject parent, string field)
    {
        if (parent[field] is JsonObject child)
        {
            return child;
        }

        child = new JsonObject();
        parent[field] = child;
        return child;
    }

    protected static void SetDefault(JsonObject parent, string field, JsonNode value)
    {
        if (parent[field] is null)
        {
            parent[field] = value;
        }
    }
}

internal static class PropagationPolicies
{
    public const string Background = "Background";
    public const string Foreground = "Foreground";
    public const string Orphan = "Orphan";

    public const string OrphanFinalizer = "orphan";
    public const string ForegroundFinalizer = "foregroundDeletion";
}
