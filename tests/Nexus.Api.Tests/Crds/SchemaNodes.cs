using k8s.Models;

namespace Nexus.Api.Tests.Crds;

/// <summary>A node of an OpenAPI schema and where it is: a path like <c>.spec.revisions[].experts[]</c>.</summary>
internal sealed record SchemaNode(string Path, V1JSONSchemaProps Schema, bool IsProperty);

internal static class SchemaNodes
{
    /// <summary>Every node under <paramref name="root"/>, depth first; anyOf branches are not descended into.</summary>
    public static IEnumerable<SchemaNode> Walk(V1JSONSchemaProps root, string path = "", bool isProperty = false)
    {
        yield return new SchemaNode(path, root, isProperty);
        foreach (var (name, property) in root.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
        {
            foreach (var node in Walk(property, $"{path}.{name}", isProperty: true))
                yield return node;
        }
        if (root.Items is V1JSONSchemaProps items)
        {
            foreach (var node in Walk(items, path + "[]"))
                yield return node;
        }
        if (root.AdditionalProperties is V1JSONSchemaProps values)
        {
            foreach (var node in Walk(values, path + "{}"))
                yield return node;
        }
    }

    /// <summary>The node a simple path (<c>.spec.router.type</c>, <c>[]</c> for items, <c>{}</c> for map values) names, or null.</summary>
    public static V1JSONSchemaProps? Find(V1JSONSchemaProps root, string path) =>
        Walk(root).FirstOrDefault(node => node.Path == path)?.Schema;
}
