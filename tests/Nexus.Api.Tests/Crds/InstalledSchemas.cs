using System.Text.Json.Nodes;
using Nexus.Api.Validation;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests.Crds;

/// <summary>The schemas of the committed crds/*.yaml, read the way an API server reads them once they are installed.</summary>
internal static class InstalledSchemas
{
    private static readonly Dictionary<string, CrdSchema> ByKind = Directory
        .GetFiles(RepositoryRoot.Combine("crds"), "*.yaml")
        .Select(File.ReadAllText)
        .ToDictionary(KindOf, yaml => CrdSchema.FromCrdYaml(yaml, GroupVersion.Version));

    public static CrdSchema For(string kind) => ByKind[kind];

    /// <summary>What the API server would answer for <paramref name="manifest"/> (prune, default, validate), and whether
    /// pruning dropped anything the manifest said.</summary>
    public static (IReadOnlyList<FieldError> Errors, bool Pruned) Admit(JsonObject manifest, JsonObject? old = null)
    {
        var schema = For(manifest["kind"]!.GetValue<string>());
        var pruned = (JsonObject)manifest.DeepClone();
        schema.Prune(pruned);
        var lost = !JsonNode.DeepEquals(pruned, manifest);
        return (schema.Admit(manifest, old), lost);
    }

    private static string KindOf(string crdYaml) =>
        YamlToJson.ConvertAll(crdYaml).OfType<JsonObject>().Single()["spec"]!["names"]!["kind"]!.GetValue<string>();
}
