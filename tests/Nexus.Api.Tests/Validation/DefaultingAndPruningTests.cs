using System.Text.Json.Nodes;
using Nexus.Api.Validation;
using static Nexus.Api.Tests.Validation.TestSchemas;

namespace Nexus.Api.Tests.Validation;

/// <summary>Defaulting and pruning as the API server applies them before validation.</summary>
public class DefaultingAndPruningTests
{
    private static readonly CrdSchema Schema = FromYaml("""
        type: object
        properties:
          spec:
            type: object
            properties:
              router:
                type: object
                default: {}
                properties:
                  type: {type: string, default: nexus}
                  topK: {type: integer, default: 1}
                  balance:
                    type: object
                    default: {alpha: 0.05}
                    properties:
                      alpha: {type: number}
                      enabled: {type: boolean, default: true}
              tolerations:
                type: array
                items:
                  type: object
                  properties:
                    key: {type: string}
                    operator: {type: string, default: Equal}
              resources:
                type: object
                additionalProperties:
                  type: object
                  properties:
                    count: {type: integer, default: 1}
              note: {type: string, nullable: true}
              label: {type: string}
              replicas: {type: integer, default: 1}
              config:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known:
                    type: object
                    properties:
                      a: {type: string}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                properties:
                  spec: {type: object, properties: {image: {type: string}}}
        """);

    [Fact]
    public void AnAbsentObjectGetsItsDefaultThenItsChildrensDefaults()
    {
        var obj = Object("spec: {}");

        Schema.ApplyDefaults(obj);

        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"type": "nexus", "topK": 1, "balance": {"alpha": 0.05, "enabled": true}}"""),
            obj["spec"]!["router"]));
        Assert.Equal(1, obj["spec"]!["replicas"]!.GetValue<long>());
    }

    [Fact]
    public void PresentFieldsAreKeptAndOnlyTheAbsentOnesDefaulted()
    {
        var obj = Object("""
            spec:
              router: {topK: 4, balance: {alpha: 0.5}}
              replicas: 0
            """);

        Schema.ApplyDefaults(obj);

        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"topK": 4, "balance": {"alpha": 0.5, "enabled": true}, "type": "nexus"}"""),
            obj["spec"]!["router"]));
        Assert.Equal(0, obj["spec"]!["replicas"]!.GetValue<long>());
    }

    [Fact]
    public void ListItemsAndMapValuesAreDefaultedOneByOne()
    {
        var obj = Object("""
            spec:
              tolerations: [{key: gpu}, {key: spot, operator: Exists}]
              resources: {gpu: {}, cpu: {count: 4}}
            """);

        Schema.ApplyDefaults(obj);

        Assert.Equal(["Equal", "Exists"], obj["spec"]!["tolerations"]!.AsArray().Select(item => item!["operator"]!.GetValue<string>()));
        Assert.Equal(1, obj["spec"]!["resources"]!["gpu"]!["count"]!.GetValue<long>());
        Assert.Equal(4, obj["spec"]!["resources"]!["cpu"]!["count"]!.GetValue<long>());
    }

    [Fact]
    public void NullsAreDefaultedDroppedOrKeptByNullability()
    {
        var obj = Object("spec: {replicas: null, label: null, note: null}");

        Schema.ApplyDefaults(obj);

        var spec = obj["spec"]!.AsObject();
        Assert.Equal(1, spec["replicas"]!.GetValue<long>());
        Assert.False(spec.ContainsKey("label"));
        Assert.True(spec.ContainsKey("note"));
        Assert.Null(spec["note"]);
    }

    [Fact]
    public void EachObjectGetsItsOwnCopyOfADefault()
    {
        var first = Object("spec: {}");
        var second = Object("spec: {}");

        Schema.ApplyDefaults(first);
        first["spec"]!["router"]!["balance"]!["alpha"] = 9;
        Schema.ApplyDefaults(second);

        Assert.Equal(0.05, second["spec"]!["router"]!["balance"]!["alpha"]!.GetValue<double>());
    }

    [Fact]
    public void PruningDropsUnknownFieldsAtEveryLevelButKeepsTheResourceFields()
    {
        var obj = Object("""
            apiVersion: nexus.moe/v1alpha1
            kind: NexusModel
            metadata: {name: m, labels: {team: ml}}
            status: {phase: Ready}
            spec:
              replicas: 2
              typo: 3
              router: {topK: 2, topk: 3}
              tolerations: [{key: gpu, value: "1"}]
              resources: {gpu: {count: 1, extra: true}}
            """);

        Schema.Prune(obj);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {
              "apiVersion": "nexus.moe/v1alpha1", "kind": "NexusModel", "metadata": {"name": "m", "labels": {"team": "ml"}},
              "spec": {"replicas": 2, "router": {"topK": 2}, "tolerations": [{"key": "gpu"}], "resources": {"gpu": {"count": 1}}}
            }
            """), obj));
    }

    [Fact]
    public void PreservedFieldsKeepUnknownsWhileTheirDeclaredChildrenArePruned()
    {
        var obj = Object("""
            spec:
              config: {anything: {deep: [1]}, known: {a: x, b: y}}
              template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {image: i, command: [run]}, other: 1}
            """);

        Schema.Prune(obj);

        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"anything": {"deep": [1]}, "known": {"a": "x"}}"""), obj["spec"]!["config"]));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"image": "i"}}"""),
            obj["spec"]!["template"]));
    }

    [Fact]
    public void AdmitPrunesThenDefaultsThenValidates()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                required: [mode]
                properties:
                  mode: {type: string, enum: [fast, safe], default: safe}
            """);
        var obj = Object("spec: {unknown: 1}");

        var errors = schema.Admit(obj);

        Assert.Empty(errors);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"spec": {"mode": "safe"}}"""), obj));
        Assert.Equal(["spec.mode: Required value", UncheckedRules], Messages(schema.Validate(Object("spec: {}"))));
    }
}
