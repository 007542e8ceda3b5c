using Nexus.Api.Validation;
using static Nexus.Api.Tests.Validation.TestSchemas;

namespace Nexus.Api.Tests.Validation;

/// <summary>Each OpenAPI keyword accepts a good value and rejects a bad one with the API server's exact message.</summary>
public class SchemaKeywordTests
{
    [Theory]
    [InlineData("type: integer", "3", "\"3\"", "spec.value: Invalid value: \"string\": spec.value in body must be of type integer: \"string\"")]
    [InlineData("type: integer", "2.0", "1.5", "spec.value: Invalid value: \"number\": spec.value in body must be of type integer: \"number\"")]
    [InlineData("type: number", "1", "true", "spec.value: Invalid value: \"boolean\": spec.value in body must be of type number: \"boolean\"")]
    [InlineData("type: boolean", "false", "0", "spec.value: Invalid value: \"integer\": spec.value in body must be of type boolean: \"integer\"")]
    [InlineData("type: array", "[]", "{}", "spec.value: Invalid value: \"object\": spec.value in body must be of type array: \"object\"")]
    [InlineData("type: object", "{}", "[]", "spec.value: Invalid value: \"array\": spec.value in body must be of type object: \"array\"")]
    [InlineData("type: string", "\"\"", "null", "spec.value: Invalid value: \"null\": spec.value in body must be of type string: \"null\"")]
    [InlineData("type: string\nenum: [nexus, linear]", "\"linear\"", "\"foo\"", "spec.value: Unsupported value: \"foo\": supported values: \"nexus\", \"linear\"")]
    [InlineData("type: integer\nenum: [1, 2]", "2", "3", "spec.value: Unsupported value: 3: supported values: \"1\", \"2\"")]
    [InlineData("type: integer\nminimum: 1", "1", "0", "spec.value: Invalid value: 0: spec.value in body should be greater than or equal to 1")]
    [InlineData("type: integer\nmaximum: 8", "8", "9", "spec.value: Invalid value: 9: spec.value in body should be less than or equal to 8")]
    [InlineData("type: integer\nminimum: 0\nexclusiveMinimum: true", "1", "0", "spec.value: Invalid value: 0: spec.value in body should be greater than 0")]
    [InlineData("type: number\nmaximum: 1\nexclusiveMaximum: true", "0.5", "1.0", "spec.value: Invalid value: 1: spec.value in body should be less than 1")]
    [InlineData("type: number\nmaximum: 1000000", "1e6", "2000000.5", "spec.value: Invalid value: 2.0000005e+06: spec.value in body should be less than or equal to 1e+06")]
    [InlineData("type: integer\nmultipleOf: 2", "4", "3", "spec.value: Invalid value: 3: spec.value in body should be a multiple of 2")]
    [InlineData("type: number\nmultipleOf: 0.5", "1.5", "0.75", "spec.value: Invalid value: 0.75: spec.value in body should be a multiple of 0.5")]
    [InlineData("type: string\nminLength: 1", "\"a\"", "\"\"", "spec.value: Invalid value: \"\": spec.value in body should be at least 1 chars long")]
    [InlineData("type: string\nmaxLength: 3", "\"äöü\"", "\"abcd\"", "spec.value: Too long: may not be more than 3 bytes")]
    [InlineData("type: string\npattern: '^[a-z]+$'", "\"abc\"", "\"Foo\"", "spec.value: Invalid value: \"Foo\": spec.value in body should match '^[a-z]+$'")]
    [InlineData("type: string\nformat: date-time", "\"2024-05-01T10:00:00Z\"", "\"yesterday\"", "spec.value: Invalid value: \"yesterday\": spec.value in body must be of type date-time: \"yesterday\"")]
    [InlineData("type: integer\nformat: int32", "7", "\"7\"", "spec.value: Invalid value: \"string\": spec.value in body must be of type integer: \"string\"")]
    [InlineData("type: array\nminItems: 1", "[1]", "[]", "spec.value: Invalid value: 0: spec.value in body should have at least 1 items")]
    [InlineData("type: array\nmaxItems: 2", "[1, 2]", "[1, 2, 3]", "spec.value: Too many: 3: must have at most 2 items")]
    [InlineData("type: object\nminProperties: 1\nadditionalProperties: {type: string}", "{\"a\": \"x\"}", "{}", "spec.value: Invalid value: 0: spec.value in body should have at least 1 properties")]
    [InlineData("type: object\nmaxProperties: 1\nadditionalProperties: {type: string}", "{\"a\": \"x\"}", "{\"a\": \"x\", \"b\": \"y\"}", "spec.value: Too many: 2: must have at most 1 item")]
    [InlineData("x-kubernetes-int-or-string: true", "\"25%\"", "true", "spec.value: Invalid value: \"boolean\": spec.value in body must be of type integer,string: \"boolean\"")]
    [InlineData("type: object\nadditionalProperties: {type: integer}", "{\"gpu\": 1}", "{\"gpu\": \"x\"}", "spec.value[gpu]: Invalid value: \"string\": spec.value[gpu] in body must be of type integer: \"string\"")]
    [InlineData("type: array\nitems: {type: string, maxLength: 2}", "[\"ok\"]", "[\"ok\", \"long\"]", "spec.value[1]: Too long: may not be more than 2 bytes")]
    public void KeywordAcceptsGoodValueAndRejectsBadOneWithTheApiServersMessage(string keywords, string good, string bad, string expected)
    {
        var schema = WithSpecValue(keywords);

        Assert.Empty(schema.Validate(SpecValue(good)));
        var errors = Messages(schema.Validate(SpecValue(bad))).Where(message => message != UncheckedRules);
        Assert.Equal([expected], errors);
    }

    [Fact]
    public void NullableAcceptsNullWhereTheTypeOtherwiseRejectsIt()
    {
        var nullable = WithSpecValue("type: string\nnullable: true");

        Assert.Empty(nullable.Validate(SpecValue("null")));
        Assert.Empty(nullable.Validate(SpecValue("\"text\"")));
        Assert.Single(nullable.Validate(SpecValue("1")), error => error.Reason == "FieldValueTypeInvalid");
    }

    [Fact]
    public void MissingRequiredFieldsAreNamedEachAtItsPath()
    {
        var schema = FromYaml("""
            type: object
            required: [spec]
            properties:
              spec:
                type: object
                required: [seedModel, experts]
                properties:
                  seedModel: {type: string}
                  experts: {type: object}
            """);

        Assert.Equal(["spec: Required value", UncheckedRules], Messages(schema.Validate(Object("{}"))));
        Assert.Equal(
            ["spec.seedModel: Required value", "spec.experts: Required value", UncheckedRules],
            Messages(schema.Validate(Object("spec: {}"))));
        var error = schema.Validate(Object("{}"))[0];
        Assert.Equal("FieldValueRequired", error.Reason);
        Assert.Equal("Required value", error.Body);
    }

    [Fact]
    public void ErrorsDeepInListsOfObjectsNameTheIndexAndField()
    {
        var schema = FromYaml("""
            type: object
            properties:
              spec:
                type: object
                properties:
                  tolerations:
                    type: array
                    items:
                      type: object
                      required: [key]
                      properties:
                        key: {type: string}
                        effect: {type: string, enum: [NoSchedule, NoExecute]}
            """);
        var obj = Object("""
            spec:
              tolerations:
              - key: gpu
              - effect: Sometimes
            """);

        Assert.Equal(
            [
                "spec.tolerations[1].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"NoExecute\"",
                "spec.tolerations[1].key: Required value",
                UncheckedRules,
            ],
            Messages(schema.Validate(obj)));
    }

    [Fact]
    public void PropertyCountFailureStopsValidationInsideTheObject()
    {
        var schema = WithSpecValue("type: object\nmaxProperties: 1\nadditionalProperties: {type: integer}");

        Assert.Equal(
            ["spec.value: Too many: 2: must have at most 1 item", UncheckedRules],
            Messages(schema.Validate(SpecValue("{\"a\": \"not a number\", \"b\": 2}"))));
    }

    [Fact]
    public void PreservedUnknownFieldsAcceptAnyValue()
    {
        var schema = WithSpecValue("type: object\nx-kubernetes-preserve-unknown-fields: true");

        Assert.Empty(schema.Validate(SpecValue("{\"anything\": [1, {\"nested\": true}]}")));
    }
}
