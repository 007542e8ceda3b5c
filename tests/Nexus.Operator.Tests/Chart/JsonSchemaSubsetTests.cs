using System.Text.Json.Nodes;

namespace Nexus.Operator.Tests.Chart;

public sealed class JsonSchemaSubsetTests
{
    private const string Schema = """
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "definitions": { "port": { "type": "integer", "minimum": 1, "maximum": 65535 } },
          "type": "object",
          "additionalProperties": false,
          "required": ["name"],
          "properties": {
            "name": { "type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5 },
            "port": { "$ref": "#/definitions/port" },
            "mode": { "enum": ["a", "b"] },
            "size": { "type": ["string", "integer"], "pattern": "^[0-9]+Gi$" },
            "labels": { "type": "object", "additionalProperties": { "type": "string" } },
            "list": { "type": "array", "items": { "type": "object", "required": ["x"] } },
            "ratio": { "type": "number", "maximum": 1 }
          }
        }
        """;

    private static IReadOnlyList<string> Validate(string json) =>
        new JsonSchemaSubset((JsonObject)JsonNode.Parse(Schema)!).Validate(JsonNode.Parse(json));

    [Fact]
    public void AValidInstance_HasNoErrors() =>
        Assert.Empty(Validate("""{"name":"abc","port":8080,"mode":"b","size":3,"labels":{"k":"v"},"list":[{"x":1}],"ratio":0.5}"""));

    [Theory]
    [InlineData("""{"port":1}""", "name: is required (under (root)).")]
    [InlineData("""{"name":"ABC"}""", "name: \"ABC\" does not match ^[a-z]+$.")]
    [InlineData("""{"name":"a"}""", "name: \"a\" is shorter than 2 characters.")]
    [InlineData("""{"name":"abcdef"}""", "name: \"abcdef\" is longer than 5 characters.")]
    [InlineData("""{"name":"ab","port":0}""", "port: 0 is below the minimum 1.")]
    [InlineData("""{"name":"ab","port":70000}""", "port: 70000 is above the maximum 65535.")]
    [InlineData("""{"name":"ab","port":1.5}""", "port: 1.5 is a number, not integer.")]
    [InlineData("""{"name":"ab","mode":"c"}""", "mode: \"c\" is not one of \"a\", \"b\".")]
    [InlineData("""{"name":"ab","size":"3G"}""", "size: \"3G\" does not match ^[0-9]+Gi$.")]
    [InlineData("""{"name":"ab","size":true}""", "size: true is a boolean, not string or integer.")]
    [InlineData("""{"name":"ab","labels":{"k":1}}""", "labels.k: 1 is an integer, not string.")]
    [InlineData("""{"name":"ab","list":[{"x":1},{}]}""", "list[1].x: is required (under list[1]).")]
    [InlineData("""{"name":"ab","ratio":2}""", "ratio: 2 is above the maximum 1.")]
    [InlineData("""{"name":"ab","other":1}""", "other: is not a known value (known under (root): name, port, mode, size, labels, list, ratio).")]
    public void AnInvalidInstance_IsRefused_NamingThePath(string json, string expected) =>
        Assert.Equal([expected], Validate(json));

    [Fact]
    public void IntegersAreNumbers_AndPatternsApplyOnlyToStrings() =>
        Assert.Empty(Validate("""{"name":"ab","ratio":1,"size":7}"""));

    [Theory]
    [InlineData("""{"oneOf":[]}""", "#: the keyword 'oneOf' is outside")]
    [InlineData("""{"properties":{"a":{"format":"uri"}}}""", "#/properties/a: the keyword 'format' is outside")]
    [InlineData("""{"$ref":"#/definitions/none"}""", "#: $ref '#/definitions/none' does not name an entry")]
    public void ASchemaBeyondTheSubset_IsRefused(string schema, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => new JsonSchemaSubset((JsonObject)JsonNode.Parse(schema)!));
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
}
