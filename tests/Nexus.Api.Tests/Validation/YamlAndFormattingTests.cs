using System.Text.Json.Nodes;
using Nexus.Api.Validation;

namespace Nexus.Api.Tests.Validation;

/// <summary>YAML reaches JSON as kubectl sends it, and values print as the API server's Go code prints them.</summary>
public class YamlAndFormattingTests
{
    [Theory]
    [InlineData("v: 42", "42")]
    [InlineData("v: -0x1F", "-31")]
    [InlineData("v: 0777", "511")]
    [InlineData("v: 1_000", "1000")]
    [InlineData("v: 1.5e3", "1500")]
    [InlineData("v: yes", "true")]
    [InlineData("v: Off", "false")]
    [InlineData("v: ~", "null")]
    [InlineData("v:", "null")]
    [InlineData("v: '42'", "\"42\"")]
    [InlineData("v: \"true\"", "\"true\"")]
    [InlineData("v: !!str 42", "\"42\"")]
    [InlineData("v: 25%", "\"25%\"")]
    [InlineData("v: 2024-05-01", "\"2024-05-01\"")]
    [InlineData("v: [a, {b: 1}]", "[\"a\",{\"b\":1}]")]
    [InlineData("v: |\n  two\n  lines", "\"two\\nlines\"")]
    public void ScalarsResolveAsGoYamlResolvesThem(string yaml, string json)
        => Assert.Equal(json, YamlToJson.Convert(yaml)!["v"]?.ToJsonString() ?? "null");

    [Fact]
    public void EveryDocumentOfAStreamConverts()
    {
        var documents = YamlToJson.ConvertAll("a: 1\n---\nb: 2\n");

        Assert.Equal(["{\"a\":1}", "{\"b\":2}"], documents.Select(document => document!.ToJsonString()));
    }

    [Theory]
    [InlineData(8.0, "8")]
    [InlineData(0.5, "0.5")]
    [InlineData(123456.0, "123456")]
    [InlineData(1000000.0, "1e+06")]
    [InlineData(2000000.5, "2.0000005e+06")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(-1.25e21, "-1.25e+21")]
    public void FloatsPrintAsGoPrintsThem(double value, string expected)
        => Assert.Equal(expected, CelProgram.Compile("string(self)").Evaluate(new Dictionary<string, object?> { ["self"] = value }));

    [Fact]
    public void FieldErrorsPrintValuesInGoSyntax()
    {
        var error = new FieldError("spec.name", FieldErrorType.Invalid, "bad") { BadValue = "\"a\\\"b\"" };

        Assert.Equal("spec.name: Invalid value: \"a\\\"b\": bad", error.ToString());
        Assert.Equal("FieldValueInvalid", error.Reason);
        Assert.Equal("spec.x: Forbidden: no", new FieldError("spec.x", FieldErrorType.Forbidden, "no") { BadValue = "1" }.ToString());
        Assert.Equal("spec.x: Duplicate value: 1", new FieldError("spec.x", FieldErrorType.Duplicate, "") { BadValue = "1" }.ToString());
    }

    [Fact]
    public void BadValuesAreQuotedAndEscapedLikeGosStrconvQuote()
    {
        var schema = TestSchemas.WithSpecValue("type: string\nenum: [ok]");

        var error = schema.Validate(TestSchemas.SpecValue(JsonValue.Create("tab\there \"é\" \u0001").ToJsonString()))[0];

        Assert.Equal("Unsupported value: \"tab\\there \\\"é\\\" \\x01\": supported values: \"ok\"", error.Body);
    }
}
