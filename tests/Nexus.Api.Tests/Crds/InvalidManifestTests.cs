using System.Text.Json.Nodes;
using Nexus.Api.Validation;

namespace Nexus.Api.Tests.Crds;

/// <summary>
/// The mistakes a user makes in the examples, answered by the installed CRDs' schema and CEL rules the way the API
/// server answers them: each message names the field and says what to do.
/// </summary>
public class InvalidManifestTests
{
    [Theory]
    [InlineData("examples/nexusmodel-demo.yaml", "spec.serving.strategy", """{"maxSurge": 0, "maxUnavailable": 0}""",
        "spec.serving.strategy.maxUnavailable: Invalid value: \"object\":", "maxUnavailable: 1")]
    [InlineData("examples/nexusmodel-demo.yaml", "spec.experts", """{"selector": {"matchLabels": {"a": "b"}}, "names": ["news"]}""",
        "spec.experts: Invalid value: \"object\":", "selector")]
    [InlineData("examples/nexusmodel-demo.yaml", "spec.router.topK", "9",
        "spec.router.topK: Invalid value: 9:", "less than or equal to 8")]
    [InlineData("examples/expert-news.yaml", "spec.import", """{"uri": "s3://models/dense/news"}""",
        "spec: Invalid value: \"object\":", "training")]
    [InlineData("examples/expert-news.yaml", "spec.training.steps", "0",
        "spec.training.steps: Invalid value: 0:", "greater than or equal to 1")]
    [InlineData("examples/expert-news.yaml", "spec.training.warmupSteps", "100000",
        "spec.training.warmupSteps: Invalid value: \"object\":", "must not exceed steps")]
    [InlineData("examples/expert-news.yaml", "spec.seed.uri", "\"https://example.com/seed\"",
        "spec.seed.uri: Invalid value: \"string\":", "s3://")]
    [InlineData("examples/expert-news.yaml", "spec.resources.gpu.count", "17",
        "spec.resources.gpu.count: Invalid value: 17:", "less than or equal to 16")]
    [InlineData("examples/extension/manual-extension.yaml", "spec.add", "[]",
        "spec: Invalid value: \"object\":", "at least one of add or remove")]
    [InlineData("examples/extension/manual-extension.yaml", "spec.add", """["code", "code"]""",
        "spec.add: Invalid value: \"array\":", "each expert may be added once")]
    [InlineData("examples/expert-news.yaml", "spec.data", "null",
        "spec.data: Required value", "")]
    public void AnInvalidFieldIsRejectedWithItsPathAndAFix(string file, string path, string value, string expectedStart, string hint)
    {
        var manifest = Example(file);
        Set(manifest, path, JsonNode.Parse(value));

        var (errors, _) = InstalledSchemas.Admit(manifest);

        var error = Assert.Single(errors, e => e.ToString().StartsWith(expectedStart, StringComparison.Ordinal));
        Assert.Contains(hint, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("examples/expert-news.yaml", "spec.domain", "\"newswire\"", "spec.domain: Invalid value: \"string\": domain is immutable")]
    [InlineData("examples/extension/manual-extension.yaml", "spec.model", "\"other\"", "spec: Invalid value: \"object\":")]
    public void ImmutableFieldsRejectAnUpdateButNotACreate(string file, string path, string value, string expectedStart)
    {
        var old = Example(file);
        Assert.Empty(InstalledSchemas.Admit(old).Errors);
        var changed = Example(file);
        Set(changed, path, JsonNode.Parse(value));

        Assert.Empty(InstalledSchemas.Admit((JsonObject)changed.DeepClone()).Errors);
        var errors = InstalledSchemas.Admit(changed, old).Errors;

        Assert.Contains(errors, e => e.ToString().StartsWith(expectedStart, StringComparison.Ordinal) && e.ToString().Contains("immutable", StringComparison.Ordinal));
    }

    private static JsonObject Example(string file) => YamlToJson.Convert(File.ReadAllText(RepositoryRoot.Combine(file)))!.AsObject();

    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.');
        var node = root;
        foreach (var part in parts[..^1])
            node = (JsonObject)(node[part] ??= new JsonObject());
        node[parts[^1]] = value;
    }
}
