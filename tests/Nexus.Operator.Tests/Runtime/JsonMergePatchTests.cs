using System.Text.Json.Nodes;
using Nexus.Operator.Runtime;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Runtime;

public class JsonMergePatchTests
{
    [Theory]
    [InlineData("""{"a":1,"b":{"c":2,"d":3},"e":[1,2]}""", """{"a":1,"b":{"c":5},"e":[2],"f":"new"}""", """{"b":{"c":5,"d":null},"e":[2],"f":"new"}""")]
    [InlineData("""{"a":1}""", """{"a":1}""", """{}""")]
    [InlineData("null", """{"a":{"b":1}}""", """{"a":{"b":1}}""")]
    public void Create_ProducesTheMinimalPatch(string original, string modified, string expected)
    {
        var patch = JsonMergePatch.Create(JsonNode.Parse(original), JsonNode.Parse(modified));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), patch), patch?.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(modified), MergePatch.Apply(JsonNode.Parse(original), patch)));
    }
}
