using System.Net;
using System.Text.Json;
using Nexus.Serving.Server;

namespace Nexus.Serving.Tests.Server;

public class ServingHostTests
{
    private const string Good = "{\"prompt\":\"Say hi\",\"max_tokens\":5}";

    [Fact]
    public async Task Readiness_stays_false_until_the_model_has_loaded_while_health_answers_at_once()
    {
        var loaded = new TaskCompletionSource();
        var engine = new FakeEngine();
        await using var server = await TestServer.StartAsync(engine, loadGate: loaded.Task);

        Assert.Equal(ServingState.Loading, server.Host.State);
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
        using (var readyz = await server.Client.GetAsync("readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.StatusCode);
            Assert.StartsWith("loading", await readyz.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var completion = await server.CompleteAsync(Good))
        {
            await TestServer.AssertErrorAsync(completion, HttpStatusCode.ServiceUnavailable, "model_loading");
            Assert.Equal("5", Assert.Single(completion.Headers.GetValues("Retry-After")));
        }
        using (var models = await server.Client.GetAsync("v1/models"))
            await TestServer.AssertErrorAsync(models, HttpStatusCode.ServiceUnavailable, "model_loading");
        Assert.Equal(0, engine.Calls);

        loaded.SetResult();

        await Eventually.WaitUntilAsync(async () => await server.StatusAsync("readyz") == HttpStatusCode.OK, "/readyz answers 200");
        using var after = await server.CompleteAsync(Good);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_model_that_fails_to_load_stops_the_host_with_a_non_zero_exit_code()
    {
        var host = await ServingHost.StartAsync(new ServerOptions(Port: 0, Address: IPAddress.Loopback),
            _ => Task.FromException<global::Nexus.Serving.Engine.ICompletionEngine>(new InvalidDataException("manifest digest mismatch for shard 3")));
        await using (host)
        {
            var exitCode = await Eventually.Within(host.Exited, "the host exited");

            Assert.Equal(1, exitCode);
            Assert.Equal(ServingState.Failed, host.State);
            Assert.Equal("manifest digest mismatch for shard 3", host.LoadError);
        }
    }

    [Fact]
    public async Task Stopping_drains_the_in_flight_request_while_new_ones_get_503_then_disposes_the_engine()
    {
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 1 };
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(ShutdownGracePeriod: TimeSpan.FromMinutes(5)));
        var inFlight = server.CompleteAsync(Good);
        await Eventually.Within(engine.Started, "the in-flight request reached the engine");

        var stopping = server.Host.StopAsync();

        await Eventually.WaitUntilAsync(async () => await server.StatusAsync("readyz") == HttpStatusCode.ServiceUnavailable, "/readyz answers 503");
        using (var refused = await server.CompleteAsync(Good))
            await TestServer.AssertErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "shutting_down");
        Assert.Equal(HttpStatusCode.OK, await server.StatusAsync("healthz"));
        Assert.False(stopping.IsCompleted, "the stop waits for the in-flight request");
        Assert.False(engine.Disposed.IsCompleted, "the engine outlives its in-flight requests");

        engine.Gate.SetResult();

        using var drained = await Eventually.Within(inFlight, "the in-flight request finished");
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        Assert.Equal("Hello, world", JsonDocument.Parse(await drained.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        await Eventually.Within(stopping, "the host stopped");
        await Eventually.Within(engine.Disposed, "the engine was disposed");
        Assert.Equal(0, await server.Host.Exited);
        Assert.Equal(1, engine.Calls);
    }

    [Fact]
    public async Task StopApplication_as_SIGTERM_calls_it_drains_the_same_way_and_exits_zero()
    {
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 1 };
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(ShutdownGracePeriod: TimeSpan.FromMinutes(5)));
        var inFlight = server.CompleteAsync(Good);
        await Eventually.Within(engine.Started, "the in-flight request reached the engine");

        server.Host.Lifetime.StopApplication();

        await Eventually.WaitUntilAsync(() => server.Host.State == ServingState.Stopping, "the host is stopping");
        using (var refused = await server.CompleteAsync(Good))
            await TestServer.AssertErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "shutting_down");
        Assert.False(server.Host.Exited.IsCompleted, "the host waits for the in-flight request");
        engine.Gate.SetResult();
        using var drained = await Eventually.Within(inFlight, "the in-flight request finished");
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        Assert.Equal(0, await Eventually.Within(server.Host.Exited, "the host exited"));
        await Eventually.Within(engine.Disposed, "the engine was disposed");
    }

    [Fact]
    public async Task A_request_still_running_when_the_grace_period_ends_is_cancelled_and_answered_503()
    {
        // The engine never finishes on its own, so only the grace period can end the request.
        var engine = new FakeEngine { Gate = new TaskCompletionSource(), HoldAfter = 0 };
        await using var server = await TestServer.StartAsync(engine, new ServerOptions(ShutdownGracePeriod: TimeSpan.FromMilliseconds(200)));
        var inFlight = server.CompleteAsync(Good);
        await Eventually.Within(engine.Started, "the in-flight request reached the engine");

        await Eventually.Within(server.Host.StopAsync(), "the host stopped");

        using var response = await Eventually.Within(inFlight, "the in-flight request was answered");
        await TestServer.AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "shutting_down");
        await Eventually.Within(engine.Cancelled, "the engine saw the cancellation");
        await Eventually.Within(engine.Disposed, "the engine was disposed");
    }

    [Fact]
    public async Task RunAsync_serves_until_its_token_is_cancelled_then_returns_exit_code_zero()
    {
        var engine = new FakeEngine();
        var registry = Prometheus.Metrics.NewCustomRegistry();
        using var stop = new CancellationTokenSource();
        var running = ServingHost.RunAsync(new ServerOptions(Port: 0, Address: IPAddress.Loopback, Registry: registry),
            _ => Task.FromResult<global::Nexus.Serving.Engine.ICompletionEngine>(engine), cancellationToken: stop.Token);
        await Eventually.WaitUntilAsync(() => ReadyAsync(registry), "the host reports ready in its metrics");

        await stop.CancelAsync();

        Assert.Equal(0, await Eventually.Within(running, "RunAsync returned"));
        await Eventually.Within(engine.Disposed, "the engine was disposed");
    }

    private static async Task<bool> ReadyAsync(Prometheus.CollectorRegistry registry)
    {
        using var text = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(text);
        return System.Text.Encoding.UTF8.GetString(text.ToArray()).Contains("nexus_serving_ready 1", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stopping_while_the_model_loads_cancels_the_load_and_exits_zero()
    {
        var loadCancelled = new TaskCompletionSource();
        var host = await ServingHost.StartAsync(new ServerOptions(Port: 0, Address: IPAddress.Loopback), async token =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                loadCancelled.SetResult();
                throw;
            }
            return new FakeEngine();
        });
        await using (host)
        {
            await Eventually.Within(host.StopAsync(), "the host stopped");

            await Eventually.Within(loadCancelled.Task, "the load was cancelled");
            Assert.Equal(0, await host.Exited);
        }
    }

    [Fact]
    public async Task Metrics_count_requests_and_tokens_time_the_texts_and_read_the_engine_at_scrape()
    {
        var engine = new FakeEngine { QueueDepth = 3, BatchSize = 2, RoutedTokens = [[10, 20], [0, 7]] };
        await using var server = await TestServer.StartAsync(engine);
        using (var first = await server.CompleteAsync(Good))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var second = await server.CompleteAsync("{\"prompt\":\"hi\",\"stream\":true}"))
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        using (var bad = await server.CompleteAsync("{}"))
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        using var response = await server.Client.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var samples = ParseSamples(await response.Content.ReadAsStringAsync());

        Assert.Equal(2, samples["nexus_serving_requests_total{status=\"200\"}"]);
        Assert.Equal(1, samples["nexus_serving_requests_total{status=\"400\"}"]);
        Assert.Equal(6, samples["nexus_serving_prompt_tokens_total"]);
        Assert.Equal(4, samples["nexus_serving_completion_tokens_total"]);
        Assert.Equal(2, samples["nexus_serving_time_to_first_token_seconds_count"]);
        Assert.Equal(2, samples["nexus_serving_inter_token_latency_seconds_count"]);
        Assert.Equal(2, samples["nexus_serving_request_duration_seconds_count{status=\"200\"}"]);
        Assert.Equal(3, samples["nexus_serving_queue_depth"]);
        Assert.Equal(2, samples["nexus_serving_batch_size"]);
        Assert.Equal(1, samples["nexus_serving_ready"]);
        Assert.Equal(10, samples["nexus_serving_routed_tokens_total{layer=\"0\",expert=\"0\"}"]);
        Assert.Equal(20, samples["nexus_serving_routed_tokens_total{layer=\"0\",expert=\"1\"}"]);
        Assert.Equal(0, samples["nexus_serving_routed_tokens_total{layer=\"1\",expert=\"0\"}"]);
        Assert.Equal(7, samples["nexus_serving_routed_tokens_total{layer=\"1\",expert=\"1\"}"]);

        // The gauges and routed tokens follow the engine from one scrape to the next.
        engine.QueueDepth = 0;
        engine.RoutedTokens = [[15, 20], [0, 9]];
        var again = ParseSamples(await server.Client.GetStringAsync("metrics"));
        Assert.Equal(0, again["nexus_serving_queue_depth"]);
        Assert.Equal(15, again["nexus_serving_routed_tokens_total{layer=\"0\",expert=\"0\"}"]);
        Assert.Equal(9, again["nexus_serving_routed_tokens_total{layer=\"1\",expert=\"1\"}"]);
    }

    private static Dictionary<string, double> ParseSamples(string text) => text
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(line => !line.StartsWith('#'))
        .Select(line => line.Split(' '))
        .ToDictionary(parts => parts[0], parts => double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
}
