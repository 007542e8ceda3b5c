using System.Text.Json.Nodes;
using Nexus.ApiServer.Patching;

namespace Nexus.ApiServer.Tests.Patching;

public sealed class PatchFormatTests
{
    private static string Merge(string target, string patch) =>
        MergePatch.Apply(JsonNode.Parse(target), JsonNode.Parse(patch))!.ToJsonString();

    private static string Json(string document, string patch) =>
        JsonPatch.Apply(JsonNode.Parse(document)!, JsonNode.Parse(patch)).ToJsonString();

    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    [InlineData("""{"a":"foo"}""", """{"a":{"bb":{"ccc":null}}}""", """{"a":{"bb":{}}}""")]
    public void Merge_patch_follows_the_RFC_7386_examples(string target, string patch, string expected)
    {
        Assert.Equal(expected, Merge(target, patch));
    }

    [Theory]
    [InlineData("""{"foo":"bar"}""", """[{"op":"add","path":"/baz","value":"qux"}]""", """{"foo":"bar","baz":"qux"}""")]
    [InlineData("""{"foo":["bar","baz"]}""", """[{"op":"add","path":"/foo/1","value":"qux"}]""", """{"foo":["bar","qux","baz"]}""")]
    [InlineData("""{"foo":["bar"]}""", """[{"op":"add","path":"/foo/-","value":"end"}]""", """{"foo":["bar","end"]}""")]
    [InlineData("""{"baz":"qux","foo":"bar"}""", """[{"op":"remove","path":"/baz"}]""", """{"foo":"bar"}""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"replace","path":"/baz","value":"boo"}]""", """{"baz":"boo"}""")]
    [InlineData("""{"foo":{"bar":"baz"}}""", """[{"op":"copy","from":"/foo/bar","path":"/qux"}]""", """{"foo":{"bar":"baz"},"qux":"baz"}""")]
    [InlineData("""{"a/b":1,"m~n":2}""", """[{"op":"remove","path":"/a~1b"},{"op":"replace","path":"/m~0n","value":3}]""", """{"m~n":3}""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"test","path":"/baz","value":"qux"}]""", """{"baz":"qux"}""")]
    public void Json_patch_follows_the_RFC_6902_examples(string document, string patch, string expected)
    {
        Assert.Equal(expected, Json(document, patch));
    }

    [Theory]
    [InlineData("""{"baz":"qux"}""", """[{"op":"test","path":"/baz","value":"bar"}]""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"remove","path":"/missing"}]""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"replace","path":"/missing","value":1}]""")]
    [InlineData("""{"foo":[1]}""", """[{"op":"add","path":"/foo/5","value":1}]""")]
    [InlineData("""{"baz":"qux"}""", """[{"op":"add","path":"/a/b","value":1}]""")]
    public void Json_patch_operations_that_do_not_apply_fail(string document, string patch)
    {
        Assert.Throws<JsonPatch.PatchApplyException>(() => Json(document, patch));
    }

    [Theory]
    [InlineData("""{"op":"add"}""")]
    [InlineData("""[{"path":"/a"}]""")]
    [InlineData("""[{"op":"jump","path":"/a"}]""")]
    [InlineData("""[{"op":"add","path":"/a"}]""")]
    [InlineData("""[{"op":"add","path":"a","value":1}]""")]
    public void Malformed_json_patches_are_rejected(string patch)
    {
        Assert.Throws<JsonPatch.MalformedPatchException>(() => Json("""{}""", patch));
    }
}
