using static Nexus.Api.Tests.Validation.TestSchemas;

namespace Nexus.Api.Tests.Validation;

/// <summary>x-kubernetes-list-type: sets reject repeated items, map-lists repeated keys; atomic lists allow both.</summary>
public class ListTypeTests
{
    [Theory]
    [InlineData("type: array\nx-kubernetes-list-type: set\nitems: {type: string}", "[\"a\", \"b\"]", "[\"a\", \"b\", \"a\"]",
        "spec.value[2]: Duplicate value: \"a\"")]
    [InlineData("type: array\nx-kubernetes-list-type: set\nitems: {type: integer}", "[80, 443]", "[80, 443, 80]",
        "spec.value[2]: Duplicate value: 80")]
    [InlineData("type: array\nx-kubernetes-list-type: map\nx-kubernetes-list-map-keys: [name]\nitems: {type: object, properties: {name: {type: string}, value: {type: integer}}}",
        "[{\"name\": \"a\", \"value\": 1}, {\"name\": \"b\", \"value\": 1}]",
        "[{\"name\": \"a\", \"value\": 1}, {\"name\": \"a\", \"value\": 2}]",
        "spec.value[1]: Duplicate value: map[string]interface {}{\"name\":\"a\"}")]
    [InlineData("type: array\nx-kubernetes-list-type: map\nx-kubernetes-list-map-keys: [port, protocol]\nitems: {type: object, properties: {port: {type: integer}, protocol: {type: string, default: TCP}}}",
        "[{\"port\": 80}, {\"port\": 80, \"protocol\": \"UDP\"}]",
        "[{\"port\": 80}, {\"port\": 80, \"protocol\": \"TCP\"}]",
        "spec.value[1]: Duplicate value: map[string]interface {}{\"port\":80, \"protocol\":\"TCP\"}")]
    public void RepeatedItemsOrKeysAreDuplicateValues(string keywords, string good, string bad, string expected)
    {
        var schema = WithSpecValue(keywords);

        Assert.Empty(schema.Validate(SpecValue(good)));
        var error = Assert.Single(schema.Validate(SpecValue(bad)));
        Assert.Equal(expected, error.ToString());
        Assert.Equal("FieldValueDuplicate", error.Reason);
    }

    [Fact]
    public void EveryRepetitionIsReportedAndAtomicListsAllowThem()
    {
        var set = WithSpecValue("type: array\nx-kubernetes-list-type: set\nitems: {type: string}");
        var atomic = WithSpecValue("type: array\nitems: {type: string}");

        Assert.Equal(
            ["spec.value[2]: Duplicate value: \"a\"", "spec.value[3]: Duplicate value: \"a\""],
            Messages(set.Validate(SpecValue("[\"a\", \"b\", \"a\", \"a\"]"))));
        Assert.Empty(atomic.Validate(SpecValue("[\"a\", \"a\"]")));
    }

    [Fact]
    public void DuplicatesAreFoundInListsNestedInListsAndMaps()
    {
        var schema = WithSpecValue("""
            type: object
            additionalProperties:
              type: array
              x-kubernetes-list-type: set
              items: {type: string}
            """);

        Assert.Equal(
            ["spec.value[gpu][1]: Duplicate value: \"x\""],
            Messages(schema.Validate(SpecValue("{\"cpu\": [\"x\"], \"gpu\": [\"x\", \"x\"]}"))));
    }

    [Fact]
    public void AMapListOfNonObjectsIsInvalid()
    {
        var schema = WithSpecValue("type: array\nx-kubernetes-list-type: map\nx-kubernetes-list-map-keys: [name]\nx-kubernetes-preserve-unknown-fields: true");

        Assert.Equal(
            ["spec.value[0]: Invalid value: \"a\": must be an object for an array of list-type map"],
            Messages(schema.Validate(SpecValue("[\"a\"]"))));
    }
}
