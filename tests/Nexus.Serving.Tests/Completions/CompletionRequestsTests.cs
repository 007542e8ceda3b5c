using System.Text;
using Nexus.Serving.Completions;

namespace Nexus.Serving.Tests.Completions;

public class CompletionRequestsTests
{
    // Small limits so that the limit cases stay readable.
    private static readonly ServingLimits Limits = new(MaxPromptChars: 10, MaxTokens: 100, MaxBodyBytes: 300, MaxStopStrings: 4);

    private static readonly string TooLargeBody = "{\"prompt\":\"" + new string('a', 300) + "\"}";

    /// <summary>Body, expected status, expected param (null: the body as a whole), expected code, a word the message must hold.</summary>
    public static TheoryData<string, int, string?, string, string> Malformed => new()
    {
        // The body as a whole.
        { "", 400, null, ErrorCodes.InvalidJson, "empty" },
        { "not json", 400, null, ErrorCodes.InvalidJson, "at line 1, byte" },
        { "{\"prompt\":", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "{\n  \"prompt\": x}", 400, null, ErrorCodes.InvalidJson, "line 2" },
        { "{\"prompt\":\"a\",}", 400, null, ErrorCodes.InvalidJson, "trailing comma" },
        { "{\"prompt\":\"a\"} x", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "{\"prompt\":\"a\"}{\"prompt\":\"b\"}", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "{\"prompt\":\"a\" /* hi */}", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "{'prompt':'a'}", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "[{\"prompt\":\"a\"}]", 400, null, ErrorCodes.NotAnObject, "must be a JSON object; got an array" },
        { "\"hello\"", 400, null, ErrorCodes.NotAnObject, "must be a JSON object; got a string" },
        { "null", 400, null, ErrorCodes.NotAnObject, "must be a JSON object; got null" },
        { "{\"prompt\":\"a\",\"x\":" + new string('[', 20) + new string(']', 20) + "}", 400, null, ErrorCodes.InvalidJson, "depth" },
        { "{\"prompt\":\"a\",\"x\":{\"y\":[1,{\"z\":", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { "{\"max_tokens\":0,\"prompt\":", 400, null, ErrorCodes.InvalidJson, "not valid JSON" },
        { TooLargeBody, 413, null, ErrorCodes.BodyTooLarge, "300 bytes" },
        // Duplicates.
        { "{\"prompt\":\"a\",\"prompt\":\"b\"}", 400, "prompt", ErrorCodes.DuplicateField, "more than once" },
        { "{\"max_tokens\":5,\"prompt\":\"a\",\"max_tokens\":6}", 400, "max_tokens", ErrorCodes.DuplicateField, "more than once" },
        // prompt.
        { "{}", 400, "prompt", ErrorCodes.MissingField, "required" },
        { "{\"prompt\":null,\"max_tokens\":5}", 400, "prompt", ErrorCodes.MissingField, "required" },
        { "{\"Prompt\":\"case matters\"}", 400, "prompt", ErrorCodes.MissingField, "required" },
        { "{\"prompt\":\"\"}", 400, "prompt", ErrorCodes.InvalidValue, "must not be empty" },
        { "{\"prompt\":42}", 400, "prompt", ErrorCodes.InvalidType, "got a number" },
        { "{\"prompt\":{\"text\":\"a\"}}", 400, "prompt", ErrorCodes.InvalidType, "got an object" },
        { "{\"prompt\":[]}", 400, "prompt", ErrorCodes.InvalidValue, "got 0" },
        { "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt", ErrorCodes.InvalidValue, "got 2" },
        { "{\"prompt\":[1,2,3]}", 400, "prompt", ErrorCodes.InvalidType, "token-id" },
        { "{\"prompt\":[[\"a\"]]}", 400, "prompt", ErrorCodes.InvalidType, "nested arrays" },
        { "{\"prompt\":[\"\"]}", 400, "prompt", ErrorCodes.InvalidValue, "must not be empty" },
        { "{\"prompt\":\"12345678901\"}", 400, "prompt", ErrorCodes.InvalidValue, "at most 10" },
        // max_tokens.
        { "{\"prompt\":\"a\",\"max_tokens\":-1}", 400, "max_tokens", ErrorCodes.InvalidValue, "at least 1" },
        { "{\"prompt\":\"a\",\"max_tokens\":0}", 400, "max_tokens", ErrorCodes.InvalidValue, "at least 1" },
        { "{\"prompt\":\"a\",\"max_tokens\":1.5}", 400, "max_tokens", ErrorCodes.InvalidType, "must be an integer" },
        { "{\"prompt\":\"a\",\"max_tokens\":1e3}", 400, "max_tokens", ErrorCodes.InvalidType, "must be an integer" },
        { "{\"prompt\":\"a\",\"max_tokens\":\"16\"}", 400, "max_tokens", ErrorCodes.InvalidType, "got a string" },
        { "{\"prompt\":\"a\",\"max_tokens\":101}", 400, "max_tokens", ErrorCodes.InvalidValue, "limit of 100" },
        { "{\"prompt\":\"a\",\"max_tokens\":1e30}", 400, "max_tokens", ErrorCodes.InvalidValue, "limit of 100" },
        { "{\"prompt\":\"a\",\"max_tokens\":99999999999999999999999}", 400, "max_tokens", ErrorCodes.InvalidValue, "limit of 100" },
        { "{\"prompt\":\"a\",\"max_tokens\":-99999999999999999999999}", 400, "max_tokens", ErrorCodes.InvalidValue, "at least 1" },
        // temperature and top_p.
        { "{\"prompt\":\"a\",\"temperature\":-0.1}", 400, "temperature", ErrorCodes.InvalidValue, "between 0 and 2" },
        { "{\"prompt\":\"a\",\"temperature\":2.5}", 400, "temperature", ErrorCodes.InvalidValue, "between 0 and 2" },
        { "{\"prompt\":\"a\",\"temperature\":\"hot\"}", 400, "temperature", ErrorCodes.InvalidType, "must be a number" },
        { "{\"prompt\":\"a\",\"temperature\":1e999}", 400, "temperature", ErrorCodes.InvalidValue, "finite" },
        { "{\"prompt\":\"a\",\"top_p\":0}", 400, "top_p", ErrorCodes.InvalidValue, "greater than 0" },
        { "{\"prompt\":\"a\",\"top_p\":-1}", 400, "top_p", ErrorCodes.InvalidValue, "greater than 0" },
        { "{\"prompt\":\"a\",\"top_p\":1.01}", 400, "top_p", ErrorCodes.InvalidValue, "at most 1" },
        { "{\"prompt\":\"a\",\"top_p\":true}", 400, "top_p", ErrorCodes.InvalidType, "got a boolean" },
        // n.
        { "{\"prompt\":\"a\",\"n\":2}", 400, "n", ErrorCodes.InvalidValue, "must be 1" },
        { "{\"prompt\":\"a\",\"n\":0}", 400, "n", ErrorCodes.InvalidValue, "must be 1" },
        { "{\"prompt\":\"a\",\"n\":\"1\"}", 400, "n", ErrorCodes.InvalidType, "got a string" },
        // stop.
        { "{\"prompt\":\"a\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop", ErrorCodes.InvalidValue, "at most 4" },
        { "{\"prompt\":\"a\",\"stop\":\"\"}", 400, "stop", ErrorCodes.InvalidValue, "empty" },
        { "{\"prompt\":\"a\",\"stop\":[\"a\",\"\"]}", 400, "stop", ErrorCodes.InvalidValue, "stop[1] is an empty string" },
        { "{\"prompt\":\"a\",\"stop\":[1]}", 400, "stop", ErrorCodes.InvalidType, "stop[0] must be a string" },
        { "{\"prompt\":\"a\",\"stop\":5}", 400, "stop", ErrorCodes.InvalidType, "got a number" },
        // seed, stream, model, user.
        { "{\"prompt\":\"a\",\"seed\":1.5}", 400, "seed", ErrorCodes.InvalidType, "64-bit integer" },
        { "{\"prompt\":\"a\",\"seed\":1e400}", 400, "seed", ErrorCodes.InvalidType, "64-bit integer" },
        { "{\"prompt\":\"a\",\"seed\":\"42\"}", 400, "seed", ErrorCodes.InvalidType, "got a string" },
        { "{\"prompt\":\"a\",\"stream\":\"true\"}", 400, "stream", ErrorCodes.InvalidType, "must be a boolean" },
        { "{\"prompt\":\"a\",\"stream\":1}", 400, "stream", ErrorCodes.InvalidType, "must be a boolean" },
        { "{\"prompt\":\"a\",\"model\":5}", 400, "model", ErrorCodes.InvalidType, "must be a string" },
        { "{\"prompt\":\"a\",\"user\":{\"id\":1}}", 400, "user", ErrorCodes.InvalidType, "must be a string" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_requests_are_refused_naming_the_field(string body, int status, string? param, string code, string mentions)
    {
        var result = CompletionRequests.Parse(body, Limits);

        Assert.False(result.IsValid, $"accepted: {body}");
        Assert.Null(result.Request);
        Assert.Equal(status, result.Error.StatusCode);
        Assert.Equal(param, result.Error.Param);
        Assert.Equal(code, result.Error.Code);
        Assert.Equal(ErrorTypes.InvalidRequest, result.Error.Type);
        Assert.Contains(mentions, result.Error.Message, StringComparison.Ordinal);
        // The message names the field (or the body) and says what to send instead.
        Assert.Contains(param ?? "request body", result.Error.Message, StringComparison.Ordinal);
        Assert.True(result.Error.Message.Contains("Send", StringComparison.Ordinal) || result.Error.Message.Contains("Shorten", StringComparison.Ordinal),
            $"no fix in: {result.Error.Message}");
    }

    [Fact]
    public void Malformed_cases_are_at_least_thirty()
    {
        Assert.True(Malformed.Count >= 30, $"{Malformed.Count} cases");
    }

    [Fact]
    public void The_byte_overload_refuses_the_same_bodies_as_the_string_overload()
    {
        foreach (var row in Malformed)
        {
            var body = (string)row[0];
            var fromString = CompletionRequests.Parse(body, Limits);
            var fromBytes = CompletionRequests.Parse(Encoding.UTF8.GetBytes(body), Limits);
            Assert.Equal(fromString.Error, fromBytes.Error);
        }
    }

    [Fact]
    public void Invalid_utf8_is_refused_as_invalid_json()
    {
        byte[] body = [.. "{\"prompt\":\""u8, 0xC3, 0x28, .. "\"}"u8];

        var result = CompletionRequests.Parse(body, Limits);

        Assert.False(result.IsValid);
        Assert.Null(result.Error.Param);
        Assert.Equal(ErrorCodes.InvalidJson, result.Error.Code);
        Assert.Contains("UTF-8", result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_body_is_refused()
    {
        var result = CompletionRequests.Parse((string?)null, Limits);

        Assert.False(result.IsValid);
        Assert.Contains("empty", result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_minimal_request_gets_the_defaults()
    {
        var result = CompletionRequests.Parse("{\"prompt\":\"Hello\"}", Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        var request = result.Request;
        Assert.Null(request.Model);
        Assert.Equal("Hello", request.Prompt);
        Assert.Equal(16, request.MaxTokens);
        Assert.Equal(1.0, request.Temperature);
        Assert.Equal(1.0, request.TopP);
        Assert.Empty(request.Stop);
        Assert.Null(request.Seed);
        Assert.False(request.Stream);
    }

    [Fact]
    public void Every_field_is_read()
    {
        const string body = """
            {"model": "nexus-tiny", "prompt": "Once upon", "max_tokens": 100, "temperature": 0, "top_p": 0.9,
             "stop": ["\n", "END"], "seed": -9223372036854775808, "n": 1, "stream": true, "user": "someone"}
            """;

        var result = CompletionRequests.Parse(body, Limits with { MaxBodyBytes = 1000 });

        Assert.True(result.IsValid, result.Error?.Message);
        var request = result.Request;
        Assert.Equal("nexus-tiny", request.Model);
        Assert.Equal("Once upon", request.Prompt);
        Assert.Equal(100, request.MaxTokens);
        Assert.Equal(0.0, request.Temperature);
        Assert.Equal(0.9, request.TopP);
        Assert.Equal(["\n", "END"], request.Stop);
        Assert.Equal(long.MinValue, request.Seed);
        Assert.True(request.Stream);
    }

    [Fact]
    public void A_prompt_given_as_an_array_of_one_string_is_that_string()
    {
        var result = CompletionRequests.Parse("{\"prompt\":[\"Hi \\u00e9\"],\"max_tokens\":3}", Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal("Hi é", result.Request.Prompt);
        Assert.Equal(3, result.Request.MaxTokens);
    }

    [Fact]
    public void A_single_stop_string_is_a_list_of_one()
    {
        var result = CompletionRequests.Parse("{\"prompt\":\"a\",\"stop\":\"###\"}", Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal(["###"], result.Request.Stop);
    }

    [Fact]
    public void Null_optional_fields_mean_their_defaults()
    {
        const string body = "{\"prompt\":\"a\",\"model\":null,\"max_tokens\":null,\"temperature\":null,\"top_p\":null,\"stop\":null,\"seed\":null,\"n\":null,\"stream\":null,\"user\":null}";

        var result = CompletionRequests.Parse(body, Limits with { MaxBodyBytes = 1000 });

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal(new CompletionRequest(null, "a", 16, 1.0, 1.0, result.Request.Stop, null, false), result.Request);
        Assert.Empty(result.Request.Stop);
    }

    [Fact]
    public void Unknown_fields_are_ignored_whatever_their_type()
    {
        const string body = "{\"logprobs\":\"five\",\"echo\":{\"deep\":[1,[2,{\"x\":null}]]},\"presence_penalty\":[],\"prompt\":\"a\",\"max_tokens\":7}";

        var result = CompletionRequests.Parse(body, Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal("a", result.Request.Prompt);
        Assert.Equal(7, result.Request.MaxTokens);
    }

    [Fact]
    public void Values_at_the_limits_are_accepted()
    {
        const string body = "{\"prompt\":\"1234567890\",\"max_tokens\":100,\"temperature\":2,\"top_p\":1,\"stop\":[\"a\",\"b\",\"c\",\"d\"],\"n\":1}";

        var result = CompletionRequests.Parse(body, Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal(10, result.Request.Prompt.Length);
        Assert.Equal(100, result.Request.MaxTokens);
        Assert.Equal(2.0, result.Request.Temperature);
        Assert.Equal(4, result.Request.Stop.Count);
    }

    [Fact]
    public void A_byte_order_mark_and_surrounding_whitespace_are_accepted()
    {
        byte[] body = [0xEF, 0xBB, 0xBF, .. " \r\n{\"prompt\":\"a\"}\n "u8];

        var result = CompletionRequests.Parse(body, Limits);

        Assert.True(result.IsValid, result.Error?.Message);
        Assert.Equal("a", result.Request.Prompt);
    }

    [Fact]
    public void The_body_limit_counts_utf8_bytes_not_characters()
    {
        // 8 characters, 24 bytes in UTF-8.
        var body = "{\"prompt\":\"" + new string('€', 8) + "\"}";
        var limits = Limits with { MaxBodyBytes = 30 };

        var result = CompletionRequests.Parse(body, limits);

        Assert.False(result.IsValid);
        Assert.Equal(413, result.Error.StatusCode);
        Assert.True(CompletionRequests.Parse(body, limits with { MaxBodyBytes = 40 }).IsValid);
    }

    [Fact]
    public void The_first_field_error_is_reported()
    {
        var result = CompletionRequests.Parse("{\"max_tokens\":0,\"temperature\":9,\"prompt\":\"a\"}", Limits);

        Assert.False(result.IsValid);
        Assert.Equal("max_tokens", result.Error.Param);
    }

    [Fact]
    public void Default_limits_are_valid_and_a_bad_limit_is_named()
    {
        Assert.Same(ServingLimits.Default, ServingLimits.Default.Validate());

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ServingLimits(MaxTokens: 0).Validate());
        Assert.Contains("ServingLimits.MaxTokens", e.Message, StringComparison.Ordinal);
    }
}
