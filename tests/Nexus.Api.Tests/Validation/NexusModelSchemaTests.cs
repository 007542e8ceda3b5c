using System.Text.Json.Nodes;
using Nexus.Api.Validation;
using static Nexus.Api.Tests.Validation.TestSchemas;

namespace Nexus.Api.Tests.Validation;

/// <summary>A NexusModel-like CRD and the mistakes a user makes with it, as the API server would answer them.</summary>
public class NexusModelSchemaTests
{
    private const string Crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: nexusmodels.nexus.moe
        spec:
          group: nexus.moe
          names: {kind: NexusModel, plural: nexusmodels, singular: nexusmodel}
          scope: Namespaced
          versions:
          - name: v1alpha1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  apiVersion: {type: string}
                  kind: {type: string}
                  metadata: {type: object}
                  spec:
                    type: object
                    required: [seedModel, experts]
                    properties:
                      seedModel:
                        type: string
                        minLength: 1
                        x-kubernetes-validations:
                        - {rule: self == oldSelf, message: seedModel is immutable}
                      experts:
                        type: object
                        x-kubernetes-validations:
                        - rule: "!(has(self.selector) && has(self.names))"
                          message: set either experts.selector or experts.names, not both
                        - rule: has(self.selector) || has(self.names)
                          message: set experts.selector or experts.names
                        properties:
                          selector:
                            type: object
                            properties:
                              matchLabels: {type: object, additionalProperties: {type: string}}
                          names:
                            type: array
                            maxItems: 16
                            x-kubernetes-list-type: set
                            items: {type: string, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}
                      router:
                        type: object
                        default: {}
                        properties:
                          type: {type: string, enum: [nexus, linear], default: nexus}
                          topK: {type: integer, minimum: 1, maximum: 8, default: 1}
                      serving:
                        type: object
                        properties:
                          replicas: {type: integer, minimum: 0, default: 1}
                          strategy:
                            type: object
                            default: {}
                            x-kubernetes-validations:
                            - rule: "!(string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])"
                              message: maxSurge and maxUnavailable cannot both be zero
                            properties:
                              maxSurge: {x-kubernetes-int-or-string: true, default: 0}
                              maxUnavailable: {x-kubernetes-int-or-string: true, default: 1}
                          nodeSelector: {type: object, additionalProperties: {type: string}}
                          tolerations:
                            type: array
                            items:
                              type: object
                              required: [key]
                              properties:
                                key: {type: string}
                                operator: {type: string, enum: [Exists, Equal], default: Equal}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: unrelated}
        """;

    private static readonly CrdSchema Schema = CrdSchema.FromCrdYaml(Crd, "v1alpha1");

    private static JsonObject Model(string specYaml)
    {
        var spec = string.Join("\n", specYaml.Split('\n').Select(line => "  " + line));
        return Object($$"""
            apiVersion: nexus.moe/v1alpha1
            kind: NexusModel
            metadata: {name: coder, namespace: ml}
            spec:
            {{spec}}
            """);
    }

    private static string[] Admit(JsonObject model, JsonObject? old = null) => Messages(Schema.Admit(model, old));

    [Fact]
    public void AMinimalModelIsAdmittedWithItsDefaults()
    {
        var model = Model("seedModel: llama-1b\nexperts: {names: [papers, code]}\nserving: {}\nsurplus: dropped");

        Assert.Empty(Admit(model));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {
              "seedModel": "llama-1b",
              "experts": {"names": ["papers", "code"]},
              "serving": {"replicas": 1, "strategy": {"maxSurge": 0, "maxUnavailable": 1}},
              "router": {"type": "nexus", "topK": 1}
            }
            """), model["spec"]));
        Assert.Equal("coder", model["metadata"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void SelectorAndNamesTogetherAreRejectedOnTheExpertsField()
        => Assert.Equal(
            ["spec.experts: Invalid value: \"object\": set either experts.selector or experts.names, not both"],
            Admit(Model("seedModel: llama-1b\nexperts: {names: [code], selector: {matchLabels: {domain: code}}}")));

    [Fact]
    public void NeitherSelectorNorNamesIsRejected()
        => Assert.Equal(
            ["spec.experts: Invalid value: \"object\": set experts.selector or experts.names"],
            Admit(Model("seedModel: llama-1b\nexperts: {}")));

    [Theory]
    [InlineData("{maxSurge: 0, maxUnavailable: 0}", false)]
    [InlineData("{maxSurge: '0%', maxUnavailable: 0}", false)]
    [InlineData("{maxUnavailable: 0}", false)]
    [InlineData("{maxSurge: 1, maxUnavailable: 0}", true)]
    [InlineData("{maxSurge: 0}", true)]
    [InlineData("{maxSurge: 25%, maxUnavailable: 25%}", true)]
    public void BothMaxSurgeAndMaxUnavailableZeroIsRejected(string strategy, bool admitted)
    {
        var errors = Admit(Model($"seedModel: llama-1b\nexperts: {{names: [code]}}\nserving: {{strategy: {strategy}}}"));

        Assert.Equal(
            admitted ? Array.Empty<string>() : ["spec.serving.strategy: Invalid value: \"object\": maxSurge and maxUnavailable cannot both be zero"],
            errors);
    }

    [Fact]
    public void TheSeedModelCannotChangeOnUpdate()
    {
        var stored = Model("seedModel: llama-1b\nexperts: {names: [code]}");
        Assert.Empty(Admit(stored));

        Assert.Empty(Admit(Model("seedModel: llama-1b\nexperts: {names: [code, law]}"), stored));
        Assert.Equal(
            ["spec.seedModel: Invalid value: \"string\": seedModel is immutable"],
            Admit(Model("seedModel: llama-8b\nexperts: {names: [code]}"), stored));
    }

    [Fact]
    public void FieldErrorsNameTheFieldTheUserGotWrong()
    {
        var errors = Admit(Model("""
            seedModel: llama-1b
            experts: {names: [papers, code, Bad_Name, code]}
            router: {type: moe, topK: 9}
            serving:
              nodeSelector: {gpu: 1}
              tolerations: [{operator: Exists}]
            """));

        Assert.Equal(
            [
                "spec.experts.names[2]: Invalid value: \"Bad_Name\": spec.experts.names[2] in body should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
                "spec.router.type: Unsupported value: \"moe\": supported values: \"nexus\", \"linear\"",
                "spec.router.topK: Invalid value: 9: spec.router.topK in body should be less than or equal to 8",
                "spec.serving.nodeSelector[gpu]: Invalid value: \"integer\": spec.serving.nodeSelector[gpu] in body must be of type string: \"integer\"",
                "spec.serving.tolerations[0].key: Required value",
                "spec.experts.names[3]: Duplicate value: \"code\"",
                UncheckedRules,
            ],
            errors);
    }

    [Fact]
    public void TheStatusMessageAggregatesTheErrorsAsTheApiServerDoes()
    {
        var oneError = Schema.Admit(Model("seedModel: llama-1b\nexperts: {names: [code]}\nrouter: {topK: 0}"));
        var twoErrors = Schema.Admit(Model("seedModel: ''\nexperts: {names: [code]}\nrouter: {topK: 0}"));

        Assert.Equal(
            "NexusModel.nexus.moe \"coder\" is invalid: spec.router.topK: Invalid value: 0: spec.router.topK in body should be greater than or equal to 1",
            FieldError.InvalidMessage("NexusModel.nexus.moe", "coder", oneError));
        Assert.Equal(
            "NexusModel.nexus.moe \"coder\" is invalid: [spec.seedModel: Invalid value: \"\": spec.seedModel in body should be at least 1 chars long, spec.router.topK: Invalid value: 0: spec.router.topK in body should be greater than or equal to 1]",
            FieldError.InvalidMessage("NexusModel.nexus.moe", "coder", twoErrors));
    }

    [Fact]
    public void EveryRuleOfTheCrdCompiles()
    {
        var rules = new List<string>();
        CollectRules(YamlToJson.Convert(Crd)!["spec"]!["versions"]![0]!["schema"]!["openAPIV3Schema"], rules);

        Assert.Equal(4, rules.Count);
        Assert.All(rules, rule => CelProgram.Compile(rule));
    }

    [Fact]
    public void AnUnknownVersionIsNamedWithTheOnesThereAre()
    {
        var error = Assert.Throws<ArgumentException>(() => CrdSchema.FromCrdYaml(Crd, "v1"));

        Assert.Equal("CRD nexusmodels.nexus.moe has no version v1; it has v1alpha1.", error.Message);
    }

    private static void CollectRules(JsonNode? node, List<string> rules)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["x-kubernetes-validations"] is JsonArray validations)
                {
                    rules.AddRange(validations.Select(validation => validation!["rule"]!.GetValue<string>()));
                }

                foreach (var (_, child) in obj)
                {
                    CollectRules(child, rules);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    CollectRules(child, rules);
                }

                break;
        }
    }
}
