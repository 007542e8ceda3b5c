using Nexus.ApiServer.Registry;

namespace Nexus.ApiServer.Resources;

/// <summary>One served resource: what discovery reports for it and how the registry treats its objects. Versions of one
/// custom resource share a store (<see cref="StorageKey"/>), as they do in the real API server with conversion "None".</summary>
public sealed class ResourceDefinition
{
    internal ResourceDefinition(
        string group,
        string version,
        string plural,
        string singular,
        string kind,
        bool namespaced,
        bool hasStatusSubresource,
        bool hasGeneration,
        ResourceStrategy strategy,
        IReadOnlyList<string>? shortNames = null,
        IReadOnlyList<string>? categories = null,
        IReadOnlyCollection<string>? selectableFields = null)
    {
        Group = group;
        Version = version;
        Plural = plural;
        Singular = singular;
        Kind = kind;
        Namespaced = namespaced;
        HasStatusSubresource = hasStatusSubresource;
        HasGeneration = hasGeneration;
        Strategy = strategy;
        ShortNames = shortNames ?? [];
        Categories = categories ?? [];
        SelectableFields = new HashSet<string>(["metadata.name", "metadata.namespace", .. selectableFields ?? []], StringComparer.Ordinal);
    }

    /// <summary>API group; empty for the core group.</summary>
    public string Group { get; }

    public string Version { get; }

    /// <summary>Resource name in URLs (<c>configmaps</c>, <c>experts</c>).</summary>
    public string Plural { get; }

    public string Singular { get; }

    public string Kind { get; }

    public string ListKind => Kind + "List";

    public bool Namespaced { get; }

    /// <summary>Whether the resource has a <c>/status</c> subresource, which splits spec from status writes.</summary>
    public bool HasStatusSubresource { get; }

    /// <summary>Whether the registry maintains <c>metadata.generation</c> for this type.</summary>
    public bool HasGeneration { get; }

    public IReadOnlyList<string> ShortNames { get; }

    public IReadOnlyList<string> Categories { get; }

    public bool IsCustomResource => Strategy is CustomResourceStrategy;

    /// <summary><c>v1</c>, <c>apps/v1</c>, <c>nexus.moe/v1alpha1</c>.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>Resource qualified by group, as error messages name it: <c>configmaps</c>, <c>jobs.batch</c>.</summary>
    public string QualifiedResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>Kind qualified by group, as validation errors name it: <c>ConfigMap</c>, <c>Expert.nexus.moe</c>.</summary>
    public string QualifiedKind => Group.Length == 0 ? Kind : $"{Kind}.{Group}";

    /// <summary>The store shared by every version of this resource.</summary>
    internal string StorageKey => QualifiedResource;

    internal ResourceStrategy Strategy { get; }

    /// <summary>Field selector keys the resource supports; always metadata.name and metadata.namespace.</summary>
    internal IReadOnlySet<string> SelectableFields { get; }

    public override string ToString() => $"{ApiVersion}/{Plural}";
}
