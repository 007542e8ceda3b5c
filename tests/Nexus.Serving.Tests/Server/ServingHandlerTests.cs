using System.Net;
using System.Text;
using System.Text.Json;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;
using Nexus.Serving.Server;
using Nexus.Serving.Tests.Completions;

namespace Nexus.Serving.Tests.Server;

public class ServingHandlerTests
{
    private const string Good = "{\"prompt\":\"Say hi\",\"max_tokens\":5}";

    [Fact]
    public async Task A_completion_answers_the_text_completion_object()
    {
        var engine = new FakeEngine();
        await using var server = await TestServer.StartAsync(engine);
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using var response = await server.CompleteAsync("{\"prompt\":\"Say hi\",\"max_tokens\":5,\"temperature\":0,\"stop\":[\"\\n\"]}");

        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.StartsWith("cmpl-", root.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        Assert.InRange(root.GetProperty("created").GetInt64(), before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(FakeEngine.Model, root.GetProperty("model").GetString());
        var choice = Assert.Single(root.GetProperty("choices").EnumerateArray());
        Assert.Equal("Hello, world", choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = root.GetProperty("usage");
        Assert.Equal(3, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(2, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("total_tokens").GetInt32());
        // The engine got the validated request.
        var request = await engine.Started;
        Assert.Equal(("Say hi", 5, 0.0, false), (request.Prompt, request.MaxTokens, request.Temperature, request.Stream));
        Assert.Equal(["\n"], request.Stop);
    }

    [Fact]
    public async Task A_streamed_completion_sends_a_chunk_per_text_then_the_finish_then_done()
    {
        var engine = new FakeEngine
        {
            Script = [new GenerationText("Hel"), new GenerationText("lo"), new GenerationFinished(FinishReason.Stop, 4, 2)],
        };
        await using var server = await TestServer.StartAsync(engine);

        using var response = await server.CompleteAsync("{\"prompt\":\"Say hi\",\"stream\":true}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        var events = body[..^2].Split("\n\n");
        Assert.Equal(4, events.Length);
        Assert.All(events, e => Assert.StartsWith("data: ", e, StringComparison.Ordinal));
        Assert.Equal("data: [DONE]", events[3]);
        var chunks = events[..3].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("cmpl-", chunks[0].GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.Equal(FakeEngine.Model, c.GetProperty("model").GetString()));
        var choices = chunks.Select(c => Assert.Single(c.GetProperty("choices").EnumerateArray())).ToList();
        Assert.Equal(["Hel", "lo", ""], choices.Select(c => c.GetProperty("text").GetString()));
        Assert.Equal([JsonValueKind.Null, JsonValueKind.Null, JsonValueKind.String], choices.Select(c => c.GetProperty("finish_reason").ValueKind));
        Assert.Equal("stop", choices[2].GetProperty("finish_reason").GetString());
        Assert.True((await engine.Started).Stream);
    }

    [Fact]
    public async Task Malformed_bodies_over_http_are_refused_naming_the_field_and_the_server_stays_healthy()
    {
        var engine = new FakeEngine();
        var limits = new ServingLimits(MaxPromptChars: 10, MaxTokens: 100, MaxBodyBytes: 300, MaxStopStrings: 4);
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(Limits: limits));

        var cases = CompletionRequestsTests.Malformed;
        Assert.True(cases.Count() >= 30, "at least 30 malformed bodies");
        foreach (var row in cases)
        {
            var (body, status, param, code) = ((string)row[0], (int)row[1], (string?)row[2], (string)row[3]);
            using var response = await server.CompleteAsync(body);
            var error = await TestServer.AssertErrorAsync(response, (HttpStatusCode)status, code);
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Equal(ErrorTypes.InvalidRequest, error.GetProperty("type").GetString());
        }
        // Bytes that are not UTF-8, and no body at all.
        using (var invalidUtf8 = await server.Client.PostAsync("v1/completions", new ByteArrayContent([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}'])))
            await TestServer.AssertErrorAsync(invalidUtf8, HttpStatusCode.BadRequest, ErrorCodes.InvalidJson);
        using (var noBody = await server.Client.PostAsync("v1/completions", null))
            await TestServer.AssertErrorAsync(noBody, HttpStatusCode.BadRequest, ErrorCodes.InvalidJson);

        Assert.Equal(0, engine.Calls);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("readyz"));
        using var good = await server.CompleteAsync("{\"prompt\":\"hi\"}");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Contains("Hello, world", await good.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n")]
    [InlineData("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")]
    [InlineData("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n")]
    [InlineData("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\":")]
    public async Task Malformed_http_is_refused_or_dropped_and_the_server_stays_healthy(string raw)
    {
        var engine = new FakeEngine();
        await using var server = await TestServer.StartAsync(engine);

        using (var socket = new System.Net.Sockets.TcpClient())
        {
            await socket.ConnectAsync(server.Host.BaseUri.Host, server.Host.BaseUri.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(raw));
            socket.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            string answer;
            try
            {
                answer = await Eventually.Within(new StreamReader(stream).ReadToEndAsync(), "the server answered or closed");
            }
            catch (IOException)
            {
                answer = ""; // the server reset the connection: dropped, which is fine
            }
            Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 4", StringComparison.Ordinal), answer);
        }

        Assert.Equal(0, engine.Calls);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
        using var good = await server.CompleteAsync(Good);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_byte_limit_is_413_without_reaching_the_engine()
    {
        var engine = new FakeEngine();
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(Limits: new ServingLimits(MaxBodyBytes: 1000)));

        using var response = await server.CompleteAsync("{\"prompt\":\"" + new string('a', 5000) + "\"}");

        var error = await TestServer.AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.BodyTooLarge);
        Assert.Contains("1000 bytes", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, engine.Calls);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
    }

    [Fact]
    public async Task A_full_queue_is_429_with_retry_after_in_seconds()
    {
        var engine = new FakeEngine { Throw = new GenerationRefusedException(429, "The queue is full (64 waiting). Retry later.", retryAfter: TimeSpan.FromSeconds(2.2)) };
        await using var server = await TestServer.StartAsync(engine);

        using var response = await server.CompleteAsync(Good);

        var error = await TestServer.AssertErrorAsync(response, HttpStatusCode.TooManyRequests, "queue_full");
        Assert.Equal("3", Assert.Single(response.Headers.GetValues("Retry-After")));
        Assert.Equal(ServerErrors.RateLimitType, error.GetProperty("type").GetString());
        Assert.Equal("The queue is full (64 waiting). Retry later.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_prompt_too_long_in_tokens_is_400_naming_the_prompt()
    {
        var engine = new FakeEngine { Throw = new GenerationRefusedException(400, "prompt is 9000 tokens; the context is 4096.", param: "prompt") };
        await using var server = await TestServer.StartAsync(engine);

        using var response = await server.CompleteAsync(Good);

        var error = await TestServer.AssertErrorAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidValue);
        Assert.Equal("prompt", error.GetProperty("param").GetString());
        Assert.False(response.Headers.Contains("Retry-After"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_that_disconnects_cancels_the_engine_call(bool stream)
    {
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 1 };
        await using var server = await TestServer.StartAsync(engine);
        using var client = new CancellationTokenSource();

        var body = stream ? "{\"prompt\":\"hi\",\"stream\":true}" : Good;
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var sending = server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, client.Token);
        await Eventually.Within(engine.Started, "the engine call started");
        if (stream)
        {
            // The first chunk arrives before the engine is held; then the client goes away mid-stream.
            using var response = await Eventually.Within(sending, "the stream started");
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync(), StringComparison.Ordinal);
            await client.CancelAsync();
        }
        else
        {
            await client.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        }

        await Eventually.Within(engine.Cancelled, "the engine saw the cancellation");
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
    }

    [Fact]
    public async Task A_completion_over_the_request_timeout_is_504_and_the_engine_is_cancelled()
    {
        // The engine never finishes, so the timeout is the only way out: no race with a short timeout.
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 0 };
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(RequestTimeout: TimeSpan.FromMilliseconds(300)));

        using var response = await server.CompleteAsync(Good);

        var error = await TestServer.AssertErrorAsync(response, HttpStatusCode.GatewayTimeout, "timeout");
        Assert.Contains("0.3 seconds", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        await Eventually.Within(engine.Cancelled, "the engine saw the cancellation");
    }

    [Fact]
    public async Task A_streamed_completion_over_the_timeout_ends_with_an_error_event_and_no_done()
    {
        // Long enough for the first text to be sent on a loaded machine; the held engine then makes the timeout certain.
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 1 };
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(RequestTimeout: TimeSpan.FromSeconds(2)));

        using var response = await server.CompleteAsync("{\"prompt\":\"hi\",\"stream\":true}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split("\n\n");
        Assert.Equal(2, events.Length);
        Assert.Equal("Hello", JsonDocument.Parse(events[0]["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        var error = JsonDocument.Parse(events[1]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal("timeout", error.GetProperty("code").GetString());
        await Eventually.Within(engine.Cancelled, "the engine saw the cancellation");
    }

    [Fact]
    public async Task An_engine_failure_is_500_and_the_server_stays_healthy()
    {
        var engine = new FakeEngine { Throw = new InvalidOperationException("CUDA out of memory") };
        await using var server = await TestServer.StartAsync(engine);

        using var response = await server.CompleteAsync(Good);

        var error = await TestServer.AssertErrorAsync(response, HttpStatusCode.InternalServerError, "internal_error");
        Assert.DoesNotContain("CUDA", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("readyz"));
    }

    [Fact]
    public async Task An_engine_that_ends_without_finishing_is_500()
    {
        var engine = new FakeEngine { Script = [new GenerationText("half")] };
        await using var server = await TestServer.StartAsync(engine);

        using var response = await server.CompleteAsync(Good);

        await TestServer.AssertErrorAsync(response, HttpStatusCode.InternalServerError, "internal_error");
    }

    [Fact]
    public async Task Models_lists_the_served_model_and_a_request_for_another_is_404_naming_model()
    {
        await using var server = await TestServer.StartAsync(new FakeEngine());

        using var models = await server.Client.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        var root = JsonDocument.Parse(await models.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var card = Assert.Single(root.GetProperty("data").EnumerateArray());
        Assert.Equal(FakeEngine.Model, card.GetProperty("id").GetString());
        Assert.Equal("model", card.GetProperty("object").GetString());
        Assert.Equal("nexus", card.GetProperty("owned_by").GetString());
        Assert.True(card.GetProperty("created").GetInt64() > 1_700_000_000);

        using var named = await server.CompleteAsync("{\"prompt\":\"hi\",\"model\":\"" + FakeEngine.Model + "\"}");
        Assert.Equal(HttpStatusCode.OK, named.StatusCode);
        using var other = await server.CompleteAsync("{\"prompt\":\"hi\",\"model\":\"gpt-4\"}");
        var error = await TestServer.AssertErrorAsync(other, HttpStatusCode.NotFound, "model_not_found");
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("healthz", HttpStatusCode.OK)]
    [InlineData("readyz", HttpStatusCode.OK)]
    [InlineData("metrics", HttpStatusCode.OK)]
    [InlineData("v1/models", HttpStatusCode.OK)]
    [InlineData("nowhere", HttpStatusCode.NotFound)]
    public async Task Head_requests_answer_the_status_without_a_body(string path, HttpStatusCode status)
    {
        await using var server = await TestServer.StartAsync(new FakeEngine());

        using var response = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(status, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
    }

    [Theory]
    [InlineData("GET", "v1/chat/completions", HttpStatusCode.NotFound, "not_found")]
    [InlineData("POST", "", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "v1/completions", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("PUT", "v1/completions", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "v1/models", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("DELETE", "healthz", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    public async Task Unknown_routes_and_wrong_methods_answer_in_the_error_shape(string method, string path, HttpStatusCode status, string code)
    {
        await using var server = await TestServer.StartAsync(new FakeEngine());

        using var response = await server.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(Good) });

        await TestServer.AssertErrorAsync(response, status, code);
        if (status == HttpStatusCode.MethodNotAllowed)
            Assert.NotEmpty(response.Content.Headers.Allow);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
    }
}
