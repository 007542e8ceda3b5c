using System.Text.RegularExpressions;
using k8s.Models;
using Nexus.Api.Crds;

namespace Nexus.Api.Tests.Crds;

public partial class CrdReferenceTests
{
    private const string UpdateVariable = "NEXUS_UPDATE_CRDS";

    private static readonly string Reference = CrdReference.Markdown();

    public static TheoryData<string> Kinds() => new(CrdGenerator.Generate().Select(crd => crd.Kind));

    /// <summary>
    /// docs/reference/crds.md must be what the generated CRDs render to. With NEXUS_UPDATE_CRDS=1 the test rewrites it
    /// instead, as `make crds` does.
    /// </summary>
    [Fact]
    public void CrdReferenceIsUpToDate()
    {
        var path = RepositoryRoot.Combine(CrdReference.DefaultPath);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
            CrdReference.Write(path);

        Assert.True(File.Exists(path) && File.ReadAllText(path) == Reference,
            $"{CrdReference.DefaultPath} is stale: run `make crds` (or NEXUS_UPDATE_CRDS=1 dotnet test tests/Nexus.Api.Tests).");
    }

    [Fact]
    public void TheReferenceSaysItIsGeneratedAndHowToRegenerateIt()
    {
        var notice = Reference.Split('\n').First(line => line.StartsWith('>'));

        Assert.Contains("Generated", notice, StringComparison.Ordinal);
        Assert.Contains("Do not edit", notice, StringComparison.Ordinal);
        Assert.Contains("`make crds`", notice, StringComparison.Ordinal);
    }

    [Fact]
    public void TheReferenceIsDeterministicAndHasUnixLineEnds()
    {
        Assert.Equal(Reference, CrdReference.Markdown());
        Assert.DoesNotContain('\r', Reference);
        Assert.EndsWith("|\n", Reference, StringComparison.Ordinal);
    }

    /// <summary>Every leaf of spec and status (a scalar, a list or map of scalars, an object without fields) has a
    /// row; the leaves are found here by a walk of the schema of our own, not the renderer's.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheReferenceListsEveryLeafFieldOfTheSchema(string kind)
    {
        var schema = Schema(kind);
        var rows = FieldRows(kind);

        var leaves = Leaves(schema.Properties["spec"], "spec").Concat(Leaves(schema.Properties["status"], "status")).ToList();

        Assert.NotEmpty(leaves);
        var missing = leaves.Where(leaf => !rows.ContainsKey(leaf)).ToList();
        Assert.True(missing.Count == 0, $"{kind}: no row for {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryRowIsAFieldOfTheSchemaWithItsDescription(string kind)
    {
        var schema = Schema(kind);

        foreach (var (path, cells) in FieldRows(kind))
        {
            var node = Resolve(schema, path);
            Assert.True(node is not null, $"{kind}: {path} is not in the schema");
            Assert.Equal(Escape(node.Description ?? ""), cells[6]);
            Assert.Equal(node.DefaultProperty is null ? "" : $"`{k8s.KubernetesJson.Serialize(node.DefaultProperty)}`", cells[2]);
        }
    }

    [Fact]
    public void TypesReadLikeGo()
    {
        var expert = FieldRows("Expert");
        var model = FieldRows("NexusModel");

        Assert.Equal("`integer (int32)`", model["spec.router.topK"][1]);
        Assert.Equal("`int-or-string`", model["spec.serving.strategy.maxSurge"][1]);
        Assert.Equal("`[]string`", model["spec.experts.names"][1]);
        Assert.Equal("`[]object`", model["spec.finetune.mix.weights"][1]);
        Assert.Equal("`string`", model["spec.finetune.mix.weights[].domain"][1]);
        Assert.Equal("`map[string]number (double)`", model["status.revisions[].metrics.perplexity"][1]);
        Assert.Equal("`map[string]string`", expert["spec.resources.nodeSelector"][1]);
        Assert.Equal("`string (date-time)`", expert["status.startTime"][1]);
    }

    [Fact]
    public void DefaultsBoundsAndRequiredAreShown()
    {
        var model = FieldRows("NexusModel");
        var expert = FieldRows("Expert");

        Assert.Equal(["`1`", "≥ 1; ≤ 8", ""], model["spec.router.topK"][2..5]);
        Assert.Equal(["`0.5`", "> 0; < 1"], model["spec.extension.newDomainShare"][2..4]);
        Assert.Equal("`\"Automatic\"`", model["spec.extension.policy"][2]);
        Assert.Equal("one of `Automatic`, `Manual`", model["spec.extension.policy"][3]);
        Assert.Equal("`{}`", model["spec.router"][2]);
        Assert.Equal("`1`", model["spec.serving.strategy.maxSurge"][2]);
        Assert.StartsWith("string form matches `^(100\\|[1-9]?[0-9])%$`", model["spec.serving.strategy.maxSurge"][3], StringComparison.Ordinal);
        Assert.Equal("items ≥ 1; items ≤ 64; list-type set (unique items); each length ≤ 253, matches " +
                     "`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`", model["spec.experts.names"][3]);
        Assert.Equal("items ≤ 32; list-type map keyed by `type`", model["status.conditions"][3]);
        Assert.Equal("CEL rule ([below](#nexusmodel-validation-rules))", model["spec.experts"][3]);
        Assert.Equal("length ≤ 2048; CEL rule ([below](#expert-validation-rules))", expert["spec.seed.uri"][3]);
        Assert.Equal("3 CEL rules ([below](#extension-validation-rules))", FieldRows("Extension")["spec"][3]);
        Assert.Equal("yes", expert["spec.domain"][4]);
        Assert.Equal("yes", expert["spec.seed.uri"][4]);
        Assert.Equal("", expert["spec.training"][4]);
        Assert.Equal("yes", expert["spec.data"][4]);
        Assert.Equal("yes", model["status.revisions[].revision"][4]);
    }

    /// <summary>A field is immutable exactly when a <c>self == oldSelf</c> rule sits on it or on an enclosing object;
    /// that set is computed here from the schema, independently of the renderer.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void TheReferenceMarksExactlyTheFieldsThatImmutabilityRulesFreeze(string kind)
    {
        var frozen = Frozen(Schema(kind).Properties["spec"], "spec", false).ToHashSet();

        foreach (var (path, cells) in FieldRows(kind))
            Assert.True(frozen.Contains(path) == cells[5].StartsWith("yes", StringComparison.Ordinal), $"{kind}: {path} is marked '{cells[5]}'");
    }

    [Fact]
    public void TheImmutableFieldsAreTheExpertDomainAndTheWholeExtensionSpec()
    {
        var expert = FieldRows("Expert");
        var extension = FieldRows("Extension");

        Assert.Equal("yes", expert["spec.domain"][5]);
        Assert.Equal("", expert["spec.seed.uri"][5]);
        Assert.Equal(["spec.domain"], expert.Where(row => row.Value[5] != "").Select(row => row.Key));
        Assert.DoesNotContain(FieldRows("NexusModel"), row => row.Value[5] != "");
        Assert.Equal("yes", extension["spec"][5]);
        Assert.All(extension.Where(row => row.Key.StartsWith("spec.", StringComparison.Ordinal)),
            row => Assert.Equal("yes (with `spec`)", row.Value[5]));
        Assert.All(extension.Where(row => row.Key.StartsWith("status", StringComparison.Ordinal)),
            row => Assert.Equal("", row.Value[5]));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryCelRuleIsListedWithItsMessageOnThePathItSitsOn(string kind)
    {
        var section = Section(kind);
        var rules = Rules(Schema(kind).Properties["spec"], "spec").ToList();

        Assert.NotEmpty(rules);
        foreach (var (path, rule) in rules)
        {
            var row = $"| `{path}` | `{Escape(rule.Rule)}` | {(rule.Rule.Contains("oldSelf", StringComparison.Ordinal) ? "update" : "create, update")} | " +
                      $"`{path}{rule.FieldPath}` | {Escape(rule.Message)} |";
            Assert.Contains(row, section.Split('\n'));
        }
    }

    [Fact]
    public void KindsHaveTheirNamesAndPrinterColumns()
    {
        var model = Section("NexusModel");

        Assert.Contains("| API version | `nexus.moe/v1alpha1` |", model, StringComparison.Ordinal);
        Assert.Contains("| Short names | `nm` |", model, StringComparison.Ordinal);
        Assert.Contains("| Categories | `nexus` |", model, StringComparison.Ordinal);
        Assert.Contains("| Subresources | `status` |", model, StringComparison.Ordinal);
        Assert.Contains("| Revision | integer | `.status.currentRevision` | 0 | Latest built (or pinned) revision |", model, StringComparison.Ordinal);
        Assert.Contains("| Ready | string | `.status.conditions[?(@.type==\"Ready\")].status` | 0 | Ready condition |", model, StringComparison.Ordinal);
    }

    private static V1JSONSchemaProps Schema(string kind) =>
        CrdGenerator.Generate().Single(crd => crd.Kind == kind).Definition.Spec.Versions.Single().Schema.OpenAPIV3Schema;

    private static IEnumerable<string> Leaves(V1JSONSchemaProps node, string path)
    {
        var children = new List<(V1JSONSchemaProps Node, string Path)>();
        foreach (var (name, child) in node.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
            children.Add((child, $"{path}.{name}"));
        if (node.Items is V1JSONSchemaProps { Properties.Count: > 0 } items)
            children.Add((items, path + "[]"));
        if (node.AdditionalProperties is V1JSONSchemaProps { Properties.Count: > 0 } values)
            children.Add((values, path + "{}"));
        return children.Count == 0 ? [path] : children.SelectMany(child => Leaves(child.Node, child.Path));
    }

    private static IEnumerable<string> Frozen(V1JSONSchemaProps node, string path, bool frozen)
    {
        frozen |= (node.XKubernetesValidations ?? []).Any(rule => rule.Rule.Replace(" ", "", StringComparison.Ordinal) == "self==oldSelf");
        if (frozen)
            yield return path;
        foreach (var (name, child) in node.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
        {
            foreach (var inner in Frozen(child, $"{path}.{name}", frozen))
                yield return inner;
        }
        if (node.Items is V1JSONSchemaProps items)
        {
            foreach (var inner in Frozen(items, path + "[]", frozen))
                yield return inner;
        }
    }

    private static IEnumerable<(string Path, V1ValidationRule Rule)> Rules(V1JSONSchemaProps node, string path)
    {
        foreach (var rule in node.XKubernetesValidations ?? [])
            yield return (path, rule);
        foreach (var (name, child) in node.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
        {
            foreach (var inner in Rules(child, $"{path}.{name}"))
                yield return inner;
        }
        if (node.Items is V1JSONSchemaProps items)
        {
            foreach (var inner in Rules(items, path + "[]"))
                yield return inner;
        }
    }

    /// <summary>The schema node at a reference path (<c>[]</c>: list items, <c>{}</c>: map values), or null.</summary>
    private static V1JSONSchemaProps? Resolve(V1JSONSchemaProps root, string path)
    {
        V1JSONSchemaProps? node = root;
        foreach (var step in PathStep().Matches(path).Select(match => match.Value))
        {
            node = step switch
            {
                "[]" => node?.Items as V1JSONSchemaProps,
                "{}" => node?.AdditionalProperties as V1JSONSchemaProps,
                _ => node?.Properties is { } properties && properties.TryGetValue(step.TrimStart('.'), out var child) ? child : null,
            };
        }
        return node;
    }

    /// <summary>The kind's section: from its heading to the next kind's.</summary>
    private static string Section(string kind)
    {
        var start = Reference.IndexOf($"\n## {kind}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no section for {kind}");
        var end = Reference.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return end < 0 ? Reference[start..] : Reference[start..end];
    }

    /// <summary>The rows of the kind's field table by path; cells: field, type, default, validation, required,
    /// immutable, description.</summary>
    private static Dictionary<string, string[]> FieldRows(string kind)
    {
        var table = Section(kind).Split($"### {kind} fields")[1].Split("###")[0];
        return table.Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .Select(line => CellSeparator().Split(line.Trim())[1..^1].Select(cell => cell.Trim()).ToArray())
            .ToDictionary(cells => cells[0].Trim('`'));
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();

    [GeneratedRegex(@"\[\]|\{\}|\.?[^.\[{]+")]
    private static partial Regex PathStep();
}
