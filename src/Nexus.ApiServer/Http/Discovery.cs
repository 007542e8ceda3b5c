using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Http;

/// <summary>The discovery documents (/api, /apis, /api/v1, /apis/{group}/{version}, /version) for what the catalog
/// serves, enough for clients that look resources up before using them.</summary>
internal static class Discovery
{
    private static readonly string[] Verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public static JsonObject? Document(ApiRoute.Discovery route, ResourceCatalog catalog, Uri baseUri) => route.Kind switch
    {
        "api" => new JsonObject
        {
            ["kind"] = "APIVersions",
            ["versions"] = new JsonArray("v1"),
            ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = baseUri.Authority }),
        },
        "apis" => new JsonObject
        {
            ["kind"] = "APIGroupList",
            ["apiVersion"] = "v1",
            ["groups"] = new JsonArray(Groups(catalog).Select(g => (JsonNode?)Group(g.Key, g.Value)).ToArray()),
        },
        "group" => Groups(catalog).TryGetValue(route.Group!, out var versions) ? Group(route.Group!, versions) : null,
        "group-version" => ResourceList(route.Group!, route.Version!, catalog),
        "version" => new JsonObject
        {
            ["major"] = "1",
            ["minor"] = "34",
            ["gitVersion"] = "v1.34.0-nexus-test",
            ["gitCommit"] = "0000000000000000000000000000000000000000",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "2025-01-01T00:00:00Z",
            ["goVersion"] = "go1.24",
            ["compiler"] = "gc",
            ["platform"] = "linux/amd64",
        },
        _ => null,
    };

    private static SortedDictionary<string, List<string>> Groups(ResourceCatalog catalog)
    {
        var groups = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var definition in catalog.All.Where(d => d.Group.Length > 0))
        {
            if (!groups.TryGetValue(definition.Group, out var versions))
            {
                versions = [];
                groups[definition.Group] = versions;
            }

            if (!versions.Contains(definition.Version))
            {
                versions.Add(definition.Version);
            }
        }

        return groups;
    }

    private static JsonObject Group(string name, List<string> versions)
    {
        var entries = versions.Select(v => (JsonNode?)new JsonObject { ["groupVersion"] = $"{name}/{v}", ["version"] = v }).ToArray();
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = name,
            ["versions"] = new JsonArray(entries),
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/{versions[0]}", ["version"] = versions[0] },
        };
    }

    private static JsonObject? ResourceList(string group, string version, ResourceCatalog catalog)
    {
        var definitions = catalog.All.Where(d => d.Group == group && d.Version == version).OrderBy(d => d.Plural, StringComparer.Ordinal).ToList();
        if (definitions.Count == 0)
        {
            return null;
        }

        var resources = new JsonArray();
        foreach (var definition in definitions)
        {
            var entry = new JsonObject
            {
                ["name"] = definition.Plural,
                ["singularName"] = definition.Singular,
                ["namespaced"] = definition.Namespaced,
                ["kind"] = definition.Kind,
                ["verbs"] = new JsonArray(Verbs.Select(v => (JsonNode?)v).ToArray()),
            };
            if (definition.ShortNames.Count > 0)
            {
                entry["shortNames"] = new JsonArray(definition.ShortNames.Select(s => (JsonNode?)s).ToArray());
            }

            if (definition.Categories.Count > 0)
            {
                entry["categories"] = new JsonArray(definition.Categories.Select(s => (JsonNode?)s).ToArray());
            }

            resources.Add(entry);
            if (definition.HasStatusSubresource)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = definition.Plural + "/status",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = definition.Namespaced,
                    ["kind"] = definition.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }
}
