using System.Text.Json.Nodes;
using Nexus.Serving.Completions;

namespace Nexus.Serving.Tests.Completions;

public class ServingJsonTests
{
    [Fact]
    public void A_completion_has_the_openai_text_completion_shape()
    {
        var response = new CompletionResponse("cmpl-1", 1_700_000_000, "nexus-tiny",
            [new CompletionChoice("Hello there", 0, FinishReason.Length)], new Usage(PromptTokens: 3, CompletionTokens: 2));

        AssertJson("""
            {"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"nexus-tiny",
             "choices":[{"text":"Hello there","index":0,"logprobs":null,"finish_reason":"length"}],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}
            """, ServingJson.Serialize(response));
    }

    [Fact]
    public void A_stream_is_chunks_as_server_sent_events_then_done()
    {
        var first = new CompletionChunk("cmpl-2", 1_700_000_001, "nexus-tiny", [new CompletionChunkChoice("Hel", 0, null)]);
        var last = new CompletionChunk("cmpl-2", 1_700_000_001, "nexus-tiny", [new CompletionChunkChoice("", 0, FinishReason.Stop)]);

        var firstEvent = ServingJson.Event(first);
        var lastEvent = ServingJson.Event(last);

        Assert.StartsWith("data: {", firstEvent, StringComparison.Ordinal);
        Assert.EndsWith("}\n\n", firstEvent, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', firstEvent.TrimEnd('\n'));
        AssertJson("""
            {"id":"cmpl-2","object":"text_completion","created":1700000001,"model":"nexus-tiny",
             "choices":[{"text":"Hel","index":0,"logprobs":null,"finish_reason":null}]}
            """, firstEvent["data: ".Length..].TrimEnd('\n'));
        AssertJson("""
            {"id":"cmpl-2","object":"text_completion","created":1700000001,"model":"nexus-tiny",
             "choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]}
            """, lastEvent["data: ".Length..].TrimEnd('\n'));
        Assert.Equal("data: [DONE]\n\n", ServingJson.DoneEvent);
    }

    [Fact]
    public void The_model_list_has_the_openai_shape()
    {
        var models = new ModelList([new ModelCard("nexus-tiny", 1_700_000_002, "nexus")]);

        AssertJson("""
            {"object":"list","data":[{"id":"nexus-tiny","object":"model","created":1700000002,"owned_by":"nexus"}]}
            """, ServingJson.Serialize(models));
    }

    [Fact]
    public void A_parser_error_has_the_openai_error_shape()
    {
        var error = CompletionRequests.Parse("{\"prompt\":\"a\",\"max_tokens\":-1}", ServingLimits.Default).Error!;

        var expected = new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = error.Message,
                ["type"] = "invalid_request_error",
                ["param"] = "max_tokens",
                ["code"] = "invalid_value",
            },
        };
        AssertJson(expected.ToJsonString(), ServingJson.Serialize(error));
    }

    [Fact]
    public void An_error_about_the_whole_body_writes_param_null()
    {
        var error = CompletionRequests.Parse("[]", ServingLimits.Default).Error!;

        var json = JsonNode.Parse(ServingJson.Serialize(error))!["error"]!.AsObject();

        Assert.True(json.ContainsKey("param"));
        Assert.Null(json["param"]);
        Assert.Equal("invalid_body", (string?)json["code"]);
        Assert.Equal(["message", "type", "param", "code"], json.Select(p => p.Key));
    }

    private static void AssertJson(string expected, string actual)
    {
        var want = JsonNode.Parse(expected);
        var got = JsonNode.Parse(actual);
        Assert.True(JsonNode.DeepEquals(want, got), $"expected {want!.ToJsonString()}\n     got {got!.ToJsonString()}");
    }
}
