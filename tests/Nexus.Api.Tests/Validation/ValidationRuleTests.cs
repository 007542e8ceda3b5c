using Nexus.Api.Validation;
using static Nexus.Api.Tests.Validation.TestSchemas;

namespace Nexus.Api.Tests.Validation;

/// <summary>x-kubernetes-validations rules as the API server runs them: where, when and with which message.</summary>
public class ValidationRuleTests
{
    private static CrdSchema SpecWithRule(string ruleYaml, string propertiesYaml = "replicas: {type: integer}\nmaxReplicas: {type: integer}")
    {
        var rules = string.Join("\n", ruleYaml.Split('\n').Select(line => "      " + line));
        var properties = string.Join("\n", propertiesYaml.Split('\n').Select(line => "      " + line));
        return FromYaml($"""
            type: object
            properties:
              spec:
                type: object
                x-kubernetes-validations:
            {rules}
                properties:
            {properties}
            """);
    }

    [Theory]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  message: replicas may not exceed maxReplicas",
        "spec: Invalid value: \"object\": replicas may not exceed maxReplicas")]
    [InlineData("- rule: self.replicas <= self.maxReplicas",
        "spec: Invalid value: \"object\": failed rule: self.replicas <= self.maxReplicas")]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  messageExpression: \"'replicas ' + string(self.replicas) + ' > ' + string(self.maxReplicas)\"",
        "spec: Invalid value: \"object\": replicas 5 > 3")]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  message: too many\n  messageExpression: \"self.missing\"",
        "spec: Invalid value: \"object\": too many")]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  message: too many\n  fieldPath: .replicas",
        "spec.replicas: Invalid value: \"object\": too many")]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  message: too many\n  reason: FieldValueForbidden",
        "spec: Forbidden: too many")]
    [InlineData("- rule: self.replicas <= self.maxReplicas\n  message: too many\n  reason: FieldValueRequired\n  fieldPath: .maxReplicas",
        "spec.maxReplicas: Required value: too many")]
    public void AFailedRuleReportsItsMessageAtItsPath(string rule, string expected)
    {
        var schema = SpecWithRule(rule);

        Assert.Empty(schema.Validate(Object("spec: {replicas: 2, maxReplicas: 3}")));
        Assert.Equal([expected], Messages(schema.Validate(Object("spec: {replicas: 5, maxReplicas: 3}"))));
    }

    [Fact]
    public void AnAbsentFieldFailsTheRuleWithTheEvaluationError()
    {
        var schema = SpecWithRule("- rule: self.replicas <= self.maxReplicas\n  message: replicas may not exceed maxReplicas");

        Assert.Equal(
            ["spec: Invalid value: \"object\": no such key: maxReplicas evaluating rule: replicas may not exceed maxReplicas"],
            Messages(schema.Validate(Object("spec: {replicas: 5}"))));
        var guarded = SpecWithRule("- rule: \"!has(self.maxReplicas) || self.replicas <= self.maxReplicas\"");
        Assert.Empty(guarded.Validate(Object("spec: {replicas: 5}")));
    }

    [Fact]
    public void RulesOnOptionalFieldsRunOnlyWhenTheFieldIsPresent()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  name:
                    type: string
                    nullable: true
                    x-kubernetes-validations:
                    - rule: self.startsWith('nexus-')
                      message: names start with nexus-
            """);

        Assert.Empty(schema.Validate(Object("spec: {}")));
        Assert.Empty(schema.Validate(Object("spec: {name: null}")));
        Assert.Empty(schema.Validate(Object("spec: {name: nexus-a}")));
        Assert.Equal(
            ["spec.name: Invalid value: \"string\": names start with nexus-"],
            Messages(schema.Validate(Object("spec: {name: other}"))));
    }

    [Fact]
    public void RulesOnListItemsAndMapValuesNameTheIndexAndKey()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  experts:
                    type: array
                    items:
                      type: string
                      x-kubernetes-validations:
                      - {rule: "size(self) <= 5", message: expert names are at most 5 characters}
                  nodeSelector:
                    type: object
                    additionalProperties:
                      type: string
                      x-kubernetes-validations:
                      - {rule: "self != ''", message: selector values are not empty}
            """);

        Assert.Equal(
            [
                "spec.experts[1]: Invalid value: \"string\": expert names are at most 5 characters",
                "spec.nodeSelector[gpu]: Invalid value: \"string\": selector values are not empty",
            ],
            Messages(schema.Validate(Object("spec: {experts: [code, papers-v2], nodeSelector: {zone: a, gpu: ''}}"))));
    }

    [Fact]
    public void TransitionRulesRunOnlyOnUpdateAgainstAnOldValue()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  seedModel:
                    type: string
                    x-kubernetes-validations:
                    - {rule: self == oldSelf, message: seedModel is immutable}
            """);
        var original = Object("spec: {seedModel: llama-1b}");
        var changed = Object("spec: {seedModel: llama-8b}");

        Assert.Empty(schema.Validate(changed));
        Assert.Empty(schema.Validate(changed, oldObj: Object("spec: {seedModel: llama-8b}")));
        Assert.Empty(schema.Validate(changed, oldObj: Object("spec: {}")));
        Assert.Equal(
            ["spec.seedModel: Invalid value: \"string\": seedModel is immutable"],
            Messages(schema.Validate(changed, oldObj: original)));
    }

    [Fact]
    public void MapListItemsCorrelateByKeyAndAtomicListItemsNever()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  experts:
                    type: array
                    x-kubernetes-list-type: map
                    x-kubernetes-list-map-keys: [name]
                    items:
                      type: object
                      x-kubernetes-validations:
                      - {rule: self.weight == oldSelf.weight, message: weight is fixed}
                      properties:
                        name: {type: string}
                        weight: {type: integer}
                  stages:
                    type: array
                    items:
                      type: object
                      x-kubernetes-validations:
                      - {rule: self.weight == oldSelf.weight, message: never evaluated}
                      properties:
                        weight: {type: integer}
            """);
        var old = Object("spec: {experts: [{name: a, weight: 1}, {name: b, weight: 2}], stages: [{weight: 1}]}");

        var reordered = Object("spec: {experts: [{name: b, weight: 2}, {name: a, weight: 1}, {name: c, weight: 9}], stages: [{weight: 5}]}");
        Assert.Empty(schema.Validate(reordered, old));

        var reweighted = Object("spec: {experts: [{name: b, weight: 3}, {name: a, weight: 1}]}");
        Assert.Equal(
            ["spec.experts[0]: Invalid value: \"object\": weight is fixed"],
            Messages(schema.Validate(reweighted, old)));
    }

    [Fact]
    public void SelfAndOldSelfListsOfTypeSetCompareRegardlessOfOrder()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  names:
                    type: array
                    x-kubernetes-list-type: set
                    items: {type: string}
                    x-kubernetes-validations:
                    - {rule: self == oldSelf, message: names are immutable}
            """);

        Assert.Empty(schema.Validate(Object("spec: {names: [b, a]}"), Object("spec: {names: [a, b]}")));
        Assert.Single(schema.Validate(Object("spec: {names: [a, c]}"), Object("spec: {names: [a, b]}")));
    }

    [Fact]
    public void ARuleThatDoesNotCompileIsReportedNamingTheRule()
    {
        var schema = SpecWithRule("- rule: self.replicas <=\n  message: replicas bounded");

        var error = Assert.Single(schema.Validate(Object("spec: {replicas: 1}")));

        Assert.Equal("spec", error.Field);
        Assert.Equal(
            "Invalid value: \"object\": rule compile error: compilation failed: ERROR: <input>:1:17: Syntax error: mismatched input <EOF>, expected an expression\n | self.replicas <=\n | ................^",
            error.Body);
    }

    [Fact]
    public void RulesAreSkippedWhenTheObjectHasBlockingErrors()
    {
        var schema = SpecWithRule("- rule: self.replicas <= self.maxReplicas");

        Assert.Equal(
            [
                "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
                UncheckedRules,
            ],
            Messages(schema.Validate(Object("spec: {replicas: 'five', maxReplicas: 3}"))));
    }

    [Fact]
    public void EscapedPropertyNamesAndIntOrStringValuesReachTheRule()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                x-kubernetes-validations:
                - rule: "!has(self.max__dash__surge) || string(self.max__dash__surge) != '0'"
                  message: max-surge may not be 0
                properties:
                  max-surge: {x-kubernetes-int-or-string: true}
            """);

        Assert.Empty(schema.Validate(Object("spec: {max-surge: 25%}")));
        Assert.Empty(schema.Validate(Object("spec: {}")));
        Assert.Equal(
            ["spec: Invalid value: \"object\": max-surge may not be 0"],
            Messages(schema.Validate(Object("spec: {max-surge: 0}"))));
    }

    [Fact]
    public void NumbersAreDoublesAndIntegersIntsAsTheSchemaSays()
    {
        // An int would not multiply with a double: the rule only passes if "number" fields become doubles.
        var schema = SpecWithRule(
            "- rule: \"self.ratio * 2.0 >= 1.0 && self.count + 1 == 3\"",
            "ratio: {type: number}\ncount: {type: integer}");

        Assert.Empty(schema.Validate(Object("spec: {ratio: 0.5, count: 2}")));
        Assert.Empty(schema.Validate(Object("spec: {ratio: 1, count: 2}")));
        Assert.Equal(
            ["spec: Invalid value: \"object\": failed rule: self.ratio * 2.0 >= 1.0 && self.count + 1 == 3"],
            Messages(schema.Validate(Object("spec: {ratio: 0.25, count: 2}"))));
    }

    [Fact]
    public void RootRulesSeeTheWholeResourceAndReportItAsNil()
    {
        var schema = FromYaml("""
            type: object
            x-kubernetes-validations:
            - rule: self.metadata.name.startsWith(self.spec.prefix)
              messageExpression: "'name must start with ' + self.spec.prefix"
            properties:
              spec: {type: object, properties: {prefix: {type: string}}}
            """);

        Assert.Empty(schema.Validate(Object("metadata: {name: nexus-a}\nspec: {prefix: nexus-}")));
        Assert.Equal(
            ["<nil>: Invalid value: \"object\": name must start with nexus-"],
            Messages(schema.Validate(Object("metadata: {name: other}\nspec: {prefix: nexus-}"))));
    }

    [Fact]
    public void ListsTypedAsSetsJoinAsUnionsInRules()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                x-kubernetes-validations:
                - rule: size(self.a + self.b) == 3 && size(self.c + self.c) == 4
                properties:
                  a: {type: array, x-kubernetes-list-type: set, items: {type: string}}
                  b: {type: array, x-kubernetes-list-type: set, items: {type: string}}
                  c: {type: array, items: {type: string}}
            """);

        Assert.Empty(schema.Validate(Object("spec: {a: [code, law], b: [law, math], c: [code, law]}")));
    }
}
