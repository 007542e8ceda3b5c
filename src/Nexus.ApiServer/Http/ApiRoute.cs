using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Http;

/// <summary>What a request path names, parsed as the API server's RequestInfoFactory does.</summary>
internal abstract record ApiRoute
{
    /// <summary><c>/api</c>, <c>/apis</c>, <c>/api/v1</c>, <c>/apis/{group}</c>, <c>/apis/{group}/{version}</c>,
    /// <c>/version</c> and health endpoints.</summary>
    public sealed record Discovery(string Kind, string? Group, string? Version) : ApiRoute;

    /// <summary>A resource collection (<see cref="Name"/> null) or one object, optionally a subresource of it.
    /// <see cref="Namespace"/> is null for cluster-scoped resources and for all-namespaces lists and watches.</summary>
    public sealed record Resource(ResourceDefinition Definition, string? Namespace, string? Name, string? Subresource) : ApiRoute;

    /// <summary>A path under a served group-version that names no served resource.</summary>
    public sealed record Unknown(string? Group, string? Version, string? Plural) : ApiRoute;

    public static ApiRoute Parse(string path, ResourceCatalog catalog)
    {
        var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
        {
            return new Discovery("root", null, null);
        }

        switch (segments[0])
        {
            case "version" or "healthz" or "readyz" or "livez" when segments.Length == 1:
                return new Discovery(segments[0], null, null);
            case "api":
                return segments.Length switch
                {
                    1 => new Discovery("api", null, null),
                    2 => new Discovery("group-version", string.Empty, segments[1]),
                    _ => ParseResource(string.Empty, segments[1], segments[2..], catalog),
                };
            case "apis":
                return segments.Length switch
                {
                    1 => new Discovery("apis", null, null),
                    2 => new Discovery("group", segments[1], null),
                    3 => new Discovery("group-version", segments[1], segments[2]),
                    _ => ParseResource(segments[1], segments[2], segments[3..], catalog),
                };
            default:
                return new Unknown(null, null, null);
        }
    }

    private static ApiRoute ParseResource(string group, string version, string[] rest, ResourceCatalog catalog)
    {
        // namespaces/{ns}/{plural}[/{name}[/{subresource}]] — unless {plural} is not a namespaced resource here, in which
        // case namespaces/{name}/{subresource} is a subresource of the namespace itself (namespaces/x/status).
        if (rest[0] == "namespaces" && rest.Length >= 3
            && catalog.Find(group, version, rest[2]) is { Namespaced: true } namespaced)
        {
            return rest.Length switch
            {
                3 => new Resource(namespaced, rest[1], null, null),
                4 => new Resource(namespaced, rest[1], rest[3], null),
                5 => new Resource(namespaced, rest[1], rest[3], rest[4]),
                _ => new Unknown(group, version, rest[2]),
            };
        }

        var definition = catalog.Find(group, version, rest[0]);
        if (definition is null)
        {
            return new Unknown(group, version, rest[0]);
        }

        if (definition.Namespaced && rest.Length > 1)
        {
            // A namespaced resource addressed without its namespace names nothing.
            return new Unknown(group, version, rest[0]);
        }

        return rest.Length switch
        {
            1 => new Resource(definition, null, null, null),
            2 => new Resource(definition, null, rest[1], null),
            3 => new Resource(definition, null, rest[1], rest[2]),
            _ => new Unknown(group, version, rest[0]),
        };
    }
}
