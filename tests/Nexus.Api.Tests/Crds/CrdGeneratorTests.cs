using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using System.Text.Json.Nodes;
using Nexus.Api.Crds;
using Nexus.Api.Validation;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests.Crds;

public class CrdGeneratorTests
{
    private static readonly IReadOnlyList<GeneratedCrd> Crds = CrdGenerator.Generate();

    private static readonly string[] KindNames = ["Expert", "NexusModel", "Extension"];

    public static TheoryData<string> Kinds() => new(KindNames);

    private static V1CustomResourceDefinition Crd(string kind) => Crds.Single(crd => crd.Kind == kind).Definition;

    private static V1JSONSchemaProps Schema(string kind) => Crd(kind).Spec.Versions.Single().Schema.OpenAPIV3Schema;

    [Theory]
    [InlineData("Expert", "experts", "expert", "exp", "nexus.moe_experts.yaml")]
    [InlineData("NexusModel", "nexusmodels", "nexusmodel", "nm", "nexus.moe_nexusmodels.yaml")]
    [InlineData("Extension", "extensions", "extension", "ext", "nexus.moe_extensions.yaml")]
    public void DefinitionsNameTheKind(string kind, string plural, string singular, string shortName, string fileName)
    {
        var generated = Crds.Single(crd => crd.Kind == kind);
        var spec = generated.Definition.Spec;

        Assert.Equal(fileName, generated.FileName);
        Assert.Equal($"{plural}.nexus.moe", generated.Definition.Metadata.Name);
        Assert.Equal(("nexus.moe", "Namespaced"), (spec.Group, spec.Scope));
        Assert.Equal((kind, kind + "List", plural, singular), (spec.Names.Kind, spec.Names.ListKind, spec.Names.Plural, spec.Names.Singular));
        Assert.Equal([shortName], spec.Names.ShortNames);
        Assert.Equal(["nexus"], spec.Names.Categories);
        var version = Assert.Single(spec.Versions);
        Assert.Equal(("v1alpha1", true, true), (version.Name, version.Served, version.Storage));
        Assert.NotNull(version.Subresources.Status);
        Assert.Null(version.Subresources.Scale);
    }

    [Fact]
    public void GenerationIsDeterministicAndTheYamlReadsBack()
    {
        var again = CrdGenerator.Generate();

        Assert.Equal(Crds.Select(crd => crd.Yaml), again.Select(crd => crd.Yaml));
        foreach (var crd in Crds)
        {
            Assert.StartsWith("# Generated from the C# types", crd.Yaml);
            Assert.DoesNotContain("creationTimestamp", crd.Yaml.Replace(".metadata.creationTimestamp", ""));
            Assert.DoesNotContain("\r", crd.Yaml);
            var read = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(crd.Yaml, strict: true);
            Assert.Equal(crd.Definition.Metadata.Name, read.Metadata.Name);
            Assert.Equal(KubernetesJson.Serialize(crd.Definition.Spec.Names), KubernetesJson.Serialize(read.Spec.Names));
            Assert.Equal(crd.Yaml, CrdGenerator.ToYaml(read));
        }
    }

    [Fact]
    public void WriteAllWritesOneFilePerKind()
    {
        var directory = Path.Combine(Path.GetTempPath(), "nexus-crds-" + Guid.NewGuid().ToString("N"));
        try
        {
            var paths = CrdGenerator.WriteAll(directory);

            Assert.Equal(["nexus.moe_experts.yaml", "nexus.moe_nexusmodels.yaml", "nexus.moe_extensions.yaml"], paths.Select(Path.GetFileName));
            Assert.All(Crds, crd => Assert.Equal(crd.Yaml, File.ReadAllText(Path.Combine(directory, crd.FileName))));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// The API server accepts only structural schemas: every node typed (or int-or-string), anyOf only as the
    /// int-or-string pair with nothing else inside, properties and additionalProperties never together, metadata only
    /// <c>type: object</c>.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void SchemaIsStructural(string kind)
    {
        var schema = Schema(kind);
        Assert.Equal("object", schema.Type);
        var metadata = schema.Properties["metadata"];
        Assert.Equal(KubernetesJson.Serialize(new V1JSONSchemaProps { Type = "object" }), KubernetesJson.Serialize(metadata));

        foreach (var node in SchemaNodes.Walk(schema))
        {
            var s = node.Schema;
            if (s.XKubernetesIntOrString == true)
            {
                Assert.Null(s.Type);
                var branches = s.AnyOf?.Select(branch => KubernetesJson.Serialize(branch)).ToList();
                Assert.Equal(["""{"type":"integer"}""", """{"type":"string"}"""], branches!);
            }
            else
            {
                Assert.True(s.Type is "object" or "array" or "string" or "integer" or "number" or "boolean", $"{kind}{node.Path}: type '{s.Type}'");
                Assert.Null(s.AnyOf);
            }
            Assert.Null(s.AllOf);
            Assert.Null(s.OneOf);
            Assert.Null(s.Not);
            Assert.False(s.Properties is not null && s.AdditionalProperties is not null, $"{kind}{node.Path}: properties and additionalProperties");
            if (s.Type == "array")
                Assert.IsType<V1JSONSchemaProps>(s.Items);
            if (s.Type == "object" && node.Path != ".metadata")
                Assert.True(s.Properties is not null || s.AdditionalProperties is V1JSONSchemaProps, $"{kind}{node.Path}: an object without fields");
            if (s.Required is { } required)
                Assert.All(required, name => Assert.True(s.Properties!.ContainsKey(name), $"{kind}{node.Path}: required '{name}' is no property"));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryPropertyIsDescribed(string kind)
    {
        var schema = Schema(kind);
        Assert.False(string.IsNullOrWhiteSpace(schema.Description));
        var undescribed = SchemaNodes.Walk(schema)
            .Where(node => node.IsProperty && node.Path != ".metadata" && string.IsNullOrWhiteSpace(node.Schema.Description))
            .Select(node => node.Path)
            .ToList();
        Assert.Empty(undescribed);
        Assert.NotNull(SchemaNodes.Find(schema, ".status")?.Description);
    }

    /// <summary>
    /// The API server rejects CEL rules whose cost it cannot bound: every list needs maxItems, every map
    /// maxProperties, every string a maximum length (or an enum or a date-time format). Lists also declare their
    /// list type, and map-list keys must be present in every item.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void CollectionsAndStringsAreBounded(string kind)
    {
        foreach (var node in SchemaNodes.Walk(Schema(kind)))
        {
            var s = node.Schema;
            var where = kind + node.Path;
            if (node.Path is ".apiVersion" or ".kind")
                continue;
            if (s.Type == "array")
            {
                Assert.True(s.MaxItems > 0, $"{where}: no maxItems");
                Assert.Contains(s.XKubernetesListType, new[] { "atomic", "set", "map" });
                var items = (V1JSONSchemaProps)s.Items;
                if (s.XKubernetesListType == "set")
                    Assert.True(items.Type is "string" or "integer", $"{where}: a set of {items.Type}");
                if (s.XKubernetesListType == "map")
                {
                    Assert.NotEmpty(s.XKubernetesListMapKeys);
                    Assert.All(s.XKubernetesListMapKeys, key => Assert.True(
                        items.Required?.Contains(key) == true || items.Properties[key].DefaultProperty is not null,
                        $"{where}: map key '{key}' is neither required nor defaulted"));
                }
            }
            if (s.Type == "object" && s.AdditionalProperties is not null)
                Assert.True(s.MaxProperties > 0, $"{where}: no maxProperties");
            if (s.Type == "string" && s.EnumProperty is null && s.Format != "date-time")
                Assert.True(s.MaxLength > 0 || s.Pattern is "^[a-f0-9]{64}$", $"{where}: an unbounded string");
        }
    }

    [Fact]
    public void DefaultsAreWhatTheTypesSay()
    {
        var model = Schema("NexusModel");
        object? Default(string path) => (SchemaNodes.Find(model, path) ?? throw new Xunit.Sdk.XunitException($"no {path}")).DefaultProperty;

        Assert.Equal("nexus", Default(".spec.router.type"));
        Assert.Equal(1L, Default(".spec.router.topK"));
        Assert.Equal(0.05, Default(".spec.router.auxLossCoefficient"));
        Assert.Null(Default(".spec.router.projectionSize"));
        Assert.Equal(400L, Default(".spec.finetune.steps"));
        Assert.Equal(40L, Default(".spec.extension.finetune.steps"));
        Assert.Equal(0L, Default(".spec.extension.finetune.warmupSteps"));
        Assert.Equal("proportional", Default(".spec.finetune.mix.type"));
        Assert.Equal("Automatic", Default(".spec.extension.policy"));
        Assert.Equal(0.5, Default(".spec.extension.newDomainShare"));
        Assert.Equal(10L, Default(".spec.revisionHistoryLimit"));
        Assert.Equal(1L, Default(".spec.serving.replicas"));
        Assert.Equal("builtin", Default(".spec.serving.runtime"));
        Assert.Equal(8080L, Default(".spec.serving.port"));
        Assert.Equal(1L, Default(".spec.serving.strategy.maxSurge"));
        Assert.Equal(0L, Default(".spec.serving.strategy.maxUnavailable"));
        Assert.Null(Default(".spec.resources.gpu.resourceName")); // the operator's configured default applies
        Assert.Equal(0L, Default(".spec.serving.resources.gpu.count"));
        // Objects default to {} so their fields' defaults apply when the user leaves the whole object out.
        Assert.Empty(Assert.IsType<Dictionary<string, object>>(Default(".spec.router")));
        Assert.Empty(Assert.IsType<Dictionary<string, object>>(Default(".spec.serving.strategy")));
        // No default where the user must choose, or where a default would defeat a one-of rule.
        Assert.Null(Default(".spec.experts"));
        Assert.Null(Default(".spec.revision"));
        Assert.Null(SchemaNodes.Find(Schema("Expert"), ".spec.embedding.sampleTokens")!.DefaultProperty);
        Assert.Null(SchemaNodes.Find(Schema("Extension"), ".spec.finetune")!.DefaultProperty);
        Assert.Equal(40L, SchemaNodes.Find(Schema("Extension"), ".spec.finetune.steps")!.DefaultProperty);
    }

    [Fact]
    public void EnumsAndBoundsAreWhatTheTypesSay()
    {
        var model = Schema("NexusModel");
        Assert.Equal(["nexus", "linear"], SchemaNodes.Find(model, ".spec.router.type")!.EnumProperty);
        Assert.Equal(["builtin", "vllm"], SchemaNodes.Find(model, ".spec.serving.runtime")!.EnumProperty);
        Assert.Equal(["proportional", "uniform", "explicit"], SchemaNodes.Find(model, ".spec.finetune.mix.type")!.EnumProperty);
        Assert.Equal(["Automatic", "Manual"], SchemaNodes.Find(model, ".spec.extension.policy")!.EnumProperty);
        Assert.Equal(Enum.GetNames<NexusModelPhase>(), SchemaNodes.Find(model, ".status.phase")!.EnumProperty);
        Assert.Equal(Enum.GetNames<ExpertPhase>(), SchemaNodes.Find(Schema("Expert"), ".status.phase")!.EnumProperty);
        Assert.Equal(Enum.GetNames<ExtensionPhase>(), SchemaNodes.Find(Schema("Extension"), ".status.phase")!.EnumProperty);
        Assert.Equal(["True", "False", "Unknown"], SchemaNodes.Find(model, ".status.conditions[].status")!.EnumProperty);

        var topK = SchemaNodes.Find(model, ".spec.router.topK")!;
        Assert.Equal(("integer", 1.0, 8.0), (topK.Type, topK.Minimum, topK.Maximum));
        var share = SchemaNodes.Find(model, ".spec.extension.newDomainShare")!;
        Assert.Equal((0.0, true, 1.0, true), (share.Minimum, share.ExclusiveMinimum, share.Maximum, share.ExclusiveMaximum));
        Assert.Equal((1.0, 50.0), (SchemaNodes.Find(model, ".spec.revisionHistoryLimit")!.Minimum, SchemaNodes.Find(model, ".spec.revisionHistoryLimit")!.Maximum));
        Assert.Equal(50, SchemaNodes.Find(model, ".status.revisions")!.MaxItems);
        Assert.Equal(["revision"], SchemaNodes.Find(model, ".status.revisions")!.XKubernetesListMapKeys);
        Assert.Equal(["type"], SchemaNodes.Find(model, ".status.conditions")!.XKubernetesListMapKeys);
        Assert.Equal(["domain"], SchemaNodes.Find(model, ".spec.finetune.mix.weights")!.XKubernetesListMapKeys);
        Assert.Equal("set", SchemaNodes.Find(model, ".spec.experts.names")!.XKubernetesListType);
        Assert.Equal("atomic", SchemaNodes.Find(model, ".spec.experts.selector")!.XKubernetesMapType);
        Assert.True(SchemaNodes.Find(model, ".spec.serving.strategy.maxSurge")!.XKubernetesIntOrString);
        Assert.True(SchemaNodes.Find(model, ".spec.resources.memory")!.XKubernetesIntOrString);
        Assert.Equal(16.0, SchemaNodes.Find(model, ".spec.resources.gpu.count")!.Maximum);

        var domain = SchemaNodes.Find(Schema("Expert"), ".spec.domain")!;
        Assert.Equal(63, domain.MaxLength);
        Assert.Matches(domain.Pattern, "news");
        Assert.DoesNotMatch(domain.Pattern, "News_2");
        Assert.Equal(["data", "domain", "seed"], Schema("Expert").Properties["spec"].Required);
        Assert.Equal(["spec"], Schema("Expert").Required);
        Assert.Equal(["model"], Schema("Extension").Properties["spec"].Required);
    }

    [Fact]
    public void ImmutabilityAndOneOfRulesSitOnTheirFields()
    {
        static IEnumerable<string> Rules(V1JSONSchemaProps? node) => node?.XKubernetesValidations?.Select(rule => rule.Rule) ?? [];

        Assert.Contains("self == oldSelf", Rules(SchemaNodes.Find(Schema("Expert"), ".spec.domain")));
        Assert.Contains("self == oldSelf", Rules(SchemaNodes.Find(Schema("Extension"), ".spec")));
        Assert.Contains("has(self.training) != has(self.__import__)", Rules(SchemaNodes.Find(Schema("Expert"), ".spec")));
        Assert.Contains("has(self.selector) != has(self.names)", Rules(SchemaNodes.Find(Schema("NexusModel"), ".spec.experts")));
        var strategy = SchemaNodes.Find(Schema("NexusModel"), ".spec.serving.strategy")!.XKubernetesValidations.Single();
        Assert.Contains("maxUnavailable: 1", strategy.Message);
        Assert.Equal(".maxUnavailable", strategy.FieldPath);
        // Transition rules only where something is immutable: a stray oldSelf would freeze a field by accident.
        var transitionRules = KindNames.SelectMany(kind => SchemaNodes.Walk(Schema(kind))
            .SelectMany(node => Rules(node.Schema).Where(rule => rule.Contains("oldSelf")).Select(_ => kind + node.Path)));
        Assert.Equal(["Expert.spec.domain", "Extension.spec"], transitionRules.Order());
        // Every URI the user gives is checked for a scheme the storage layer serves.
        var uris = KindNames.SelectMany(kind => SchemaNodes.Walk(Schema(kind))
            .Where(node => node.Path.StartsWith(".spec", StringComparison.Ordinal) && (node.Path.EndsWith(".uri", StringComparison.Ordinal) || node.Path.EndsWith("Uri", StringComparison.Ordinal))));
        Assert.Equal(5, uris.Count()); // seed, training data, import, embedding vector; the model's seed
        Assert.All(uris, node => Assert.Contains(Rules(node.Schema), rule => rule.Contains("startsWith('s3://')")));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PrinterColumnsResolveToSchemaFields(string kind)
    {
        var version = Crd(kind).Spec.Versions.Single();
        var schema = version.Schema.OpenAPIV3Schema;
        Assert.Equal("Age", version.AdditionalPrinterColumns.Last().Name);
        foreach (var column in version.AdditionalPrinterColumns)
        {
            Assert.Contains(column.Type, new[] { "string", "integer", "number", "boolean", "date" });
            if (column.JsonPath == ".metadata.creationTimestamp")
                continue;
            // A condition filter selects items of the conditions list by type: the list must be keyed by type.
            var match = Regex.Match(column.JsonPath, """^(?<list>[.\w]+)\[\?\(@\.(?<key>\w+)=="(?<value>\w+)"\)\](?<rest>[.\w]+)$""");
            V1JSONSchemaProps? target;
            if (match.Success)
            {
                var list = SchemaNodes.Find(schema, match.Groups["list"].Value);
                Assert.NotNull(list);
                Assert.Contains(match.Groups["key"].Value, list.XKubernetesListMapKeys);
                Assert.Equal(ConditionTypes.Ready, match.Groups["value"].Value);
                target = SchemaNodes.Find(schema, match.Groups["list"].Value + "[]" + match.Groups["rest"].Value);
            }
            else
            {
                target = SchemaNodes.Find(schema, column.JsonPath);
            }
            Assert.True(target is not null, $"{kind}: column {column.Name} names {column.JsonPath}, which the schema lacks");
            var expected = column.Type == "date" ? "string" : column.Type;
            Assert.Equal(expected, target.Type);
        }
    }

    [Fact]
    public void PrinterColumnsAreTheOnesAUserExpects()
    {
        string[] Columns(string kind) => Crd(kind).Spec.Versions.Single().AdditionalPrinterColumns.Select(c => c.Name).ToArray();

        Assert.Equal(["Domain", "Source", "Phase", "Ready", "Age"], Columns("Expert"));
        Assert.Equal(["Phase", "Ready", "Revision", "Served", "Experts", "Age"], Columns("NexusModel"));
        Assert.Equal(["Model", "Phase", "From", "To", "Ready", "Age"], Columns("Extension"));
    }

    /// <summary>
    /// The API server prunes fields its schema lacks: every field a fully populated object serialises must be in the
    /// schema, with values the schema accepts, or the operator would lose what it writes.
    /// </summary>
    [Fact]
    public void FullyPopulatedObjectsFitTheSchema()
    {
        foreach (var sample in Samples.All())
        {
            var kind = ((k8s.IKubernetesObject)sample).Kind;
            var (errors, pruned) = InstalledSchemas.Admit(JsonNode.Parse(KubernetesJson.Serialize(sample))!.AsObject());
            Assert.True(errors.Count == 0, $"{kind}: {FieldError.Aggregate(errors)}");
            Assert.False(pruned, $"{kind}: the schema prunes a field the type writes");
        }
    }

    [Fact]
    public void TheSchemaRejectsWhatAUserGetsWrongNamingEachField()
    {
        var (errors, _) = InstalledSchemas.Admit(JsonNode.Parse("""
            {"apiVersion":"nexus.moe/v1alpha1","kind":"NexusModel","metadata":{"name":"m"},
             "spec":{"seed":{"extra":1},"experts":{"names":["Not_A_Name"]},
             "router":{"type":"other","topK":9},"serving":{"replicas":-1}}}
            """)!.AsObject());

        var messages = errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.StartsWith("spec.seed.uri: Required value", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.experts.names[0]: Invalid value: \"Not_A_Name\"", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.router.type: Unsupported value: \"other\": supported values: \"nexus\", \"linear\"", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.router.topK: Invalid value: 9", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("spec.serving.replicas: Invalid value: -1", StringComparison.Ordinal));
    }
}
