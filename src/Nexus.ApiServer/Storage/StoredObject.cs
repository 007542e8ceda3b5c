using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Storage;

/// <summary>One committed revision of an object. Immutable: the JSON text is the stored value (as etcd holds bytes);
/// the metadata the server consults on every request is read out once.</summary>
internal sealed class StoredObject
{
    private StoredObject(ResourceDefinition definition, JsonObject obj)
    {
        Definition = definition;
        Json = obj.ToJsonString(ObjectJson.Compact);
        Namespace = definition.Namespaced ? ObjectJson.MetadataString(obj, "namespace") : null;
        Name = ObjectJson.MetadataString(obj, "name") ?? string.Empty;
        Uid = ObjectJson.MetadataString(obj, "uid") ?? string.Empty;
        Revision = long.Parse(ObjectJson.MetadataString(obj, "resourceVersion") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        Labels = ObjectJson.Labels(obj);
        Owners = ObjectJson.OwnerReferences(obj);
        Finalizers = ObjectJson.Finalizers(obj);
        IsBeingDeleted = ObjectJson.MetadataString(obj, "deletionTimestamp") is not null;
        Key = KeyOf(Namespace, Name);
    }

    /// <summary>The definition it was written through (its apiVersion is the stored version).</summary>
    public ResourceDefinition Definition { get; }

    public string Key { get; }

    public string? Namespace { get; }

    public string Name { get; }

    public string Uid { get; }

    public long Revision { get; }

    public string Json { get; }

    public IReadOnlyDictionary<string, string> Labels { get; }

    public IReadOnlyList<OwnerReference> Owners { get; }

    public IReadOnlyList<string> Finalizers { get; }

    public bool IsBeingDeleted { get; }

    /// <summary>A fresh, mutable copy of the object.</summary>
    public JsonObject ToJsonObject() => ObjectJson.Parse(Json);

    /// <summary>Stores <paramref name="obj"/> as it is now; later changes to it do not reach the stored value.</summary>
    public static StoredObject Freeze(ResourceDefinition definition, JsonObject obj) => new(definition, obj);

    /// <summary>etcd's key order: namespace, then name.</summary>
    public static string KeyOf(string? ns, string name) => ns is null ? name : $"{ns}/{name}";
}

internal enum StoreEventType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>One entry of a resource's event history. For a deletion, <see cref="Object"/> is the last stored state
/// carrying the deletion's revision (what etcd's watch reports from the previous key value).</summary>
internal sealed record StoreEvent(long Revision, StoreEventType Type, StoredObject Object, StoredObject? Previous);
