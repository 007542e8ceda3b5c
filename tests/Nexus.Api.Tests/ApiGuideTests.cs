using System.Reflection;
using System.Text.Json.Nodes;
using Nexus.Api.Tests.Crds;
using Nexus.Api.Validation;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests;

/// <summary>docs/api.md is prose, but the facts it quotes must stay true: the validation messages come from the
/// schema, and every condition type and reason a user can meet is explained.</summary>
public class ApiGuideTests
{
    private static readonly string Guide = File.ReadAllText(RepositoryRoot.Combine("docs", "api.md"));

    [Fact]
    public void TheQuotedValidationMessagesAreWhatTheSchemaAnswers()
    {
        var both = Example("examples/expert-news.yaml");
        both["spec"]!["import"] = new JsonObject { ["uri"] = "s3://models/imported/news" };

        var stored = Example("examples/expert-news.yaml");
        InstalledSchemas.Admit(stored);
        var renamed = Example("examples/expert-news.yaml");
        renamed["spec"]!["domain"] = "press";

        var topK = Example("examples/nexusmodel-demo.yaml");
        topK["spec"]!["router"]!["topK"] = 9;

        var stuck = Example("examples/nexusmodel-demo.yaml");
        stuck["spec"]!["serving"]!["strategy"]!["maxSurge"] = 0;

        foreach (var message in new[] { Message(both), Message(renamed, stored), Message(topK), Message(stuck) })
            Assert.Contains($"`{message}`", Guide, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryConditionTypeAndReasonIsExplained()
    {
        var names = Constants(typeof(ConditionTypes)).Concat(Constants(typeof(Reasons))).ToList();

        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.Contains($"`{name}`", Guide, StringComparison.Ordinal));
    }

    [Fact]
    public void EveryPhaseIsExplained()
    {
        foreach (var phases in new[] { typeof(ExpertPhase), typeof(NexusModelPhase), typeof(ExtensionPhase), typeof(RevisionReason) })
            Assert.All(Enum.GetNames(phases), phase => Assert.Contains($"`{phase}`", Guide, StringComparison.Ordinal));
    }

    private static JsonObject Example(string file) =>
        YamlToJson.Convert(File.ReadAllText(RepositoryRoot.Combine(file)))!.AsObject();

    private static string Message(JsonObject manifest, JsonObject? old = null)
    {
        var (errors, _) = InstalledSchemas.Admit(manifest, old);
        Assert.NotEmpty(errors);
        return FieldError.InvalidMessage(
            $"{manifest["kind"]!.GetValue<string>()}.{GroupVersion.Group}", manifest["metadata"]!["name"]!.GetValue<string>(), errors);
    }

    private static IEnumerable<string> Constants(Type type) => type
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(field => field.IsLiteral)
        .Select(field => (string)field.GetRawConstantValue()!);
}
