using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Nexus.Storage;
using Nexus.Storage.Tests;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary>
/// The real <c>nexus serve</c> process on a tiny trained model, as the serving Deployment runs it: ready once loaded,
/// greedy completions (plain, streamed and four at once) equal <c>nexus generate</c>'s, a malformed request is a 400
/// naming the field, SIGTERM lets the in-flight stream finish and exits 0; an s3:// model is fetched after the server is
/// up, and one that is not there fails the load (exit 1) while /healthz keeps answering.
/// </summary>
public sealed class ServeCommandTests : IDisposable
{
    private const string Prompt = "a sea of";
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-serve-" + Guid.NewGuid().ToString("N"));

    public ServeCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public async Task Serves_greedy_completions_equal_to_generate_refuses_bad_requests_and_drains_on_sigterm()
    {
        var model = TrainTinyModel();
        var expected = GreedyContinuation(model, maxTokens: 8);

        await using var server = Serve(["--model", model, "--model-id", "tiny"]);
        await server.WaitUntilReadyAsync();

        using var completion = await server.PostAsync($$"""{"prompt":"{{Prompt}}","max_tokens":8,"temperature":0}""");
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        using var answer = JsonDocument.Parse(await completion.Content.ReadAsStringAsync());
        Assert.Equal("tiny", answer.RootElement.GetProperty("model").GetString());
        Assert.Equal(expected, answer.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());

        var streamed = await ReadStreamAsync(await server.PostStreamAsync(8), afterFirstChunk: null);
        Assert.Equal(expected, streamed.Text);
        Assert.True(streamed.Done, "the stream did not end with [DONE]");

        // Four at once share decode steps (continuous batching) and still match the one-at-a-time output.
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var response = await server.PostAsync($$"""{"prompt":"{{Prompt}}","max_tokens":8,"temperature":0}""");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString();
        }));
        Assert.All(together, text => Assert.Equal(expected, text));

        using var refused = await server.PostAsync($$"""{"prompt":"{{Prompt}}","temperature":7}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("temperature", error.RootElement.GetProperty("error").GetProperty("param").GetString());

        var metrics = await server.Http.GetStringAsync("metrics");
        Assert.Contains("nexus_serving_requests_total", metrics);
        Assert.Contains("nexus_serving_routed_tokens_total", metrics);

        // SIGTERM once the first chunk of a stream has arrived: the stream still finishes, then the process exits 0.
        var drained = await ReadStreamAsync(await server.PostStreamAsync(48), afterFirstChunk: server.Terminate);
        Assert.True(drained.Done, "the in-flight stream was cut by SIGTERM instead of drained");
        Assert.Equal(GreedyContinuation(model, maxTokens: 48), drained.Text);
        Assert.Equal(0, await server.ExitCodeAsync());
    }

    [Fact]
    public async Task An_s3_model_is_fetched_once_the_server_is_up_and_a_missing_one_fails_the_load_with_health_still_answering()
    {
        using var s3 = new S3rver();
        var settings = s3.Settings;
        using (var store = new S3ArtifactStore(ArtifactLocation.Parse("s3://nexus-serve/runs/seed"), settings))
        {
            await store.EnsureBucketAsync();
            await store.PublishAsync(Path.GetDirectoryName(TrainTinyModel())!);
        }
        var environment = new Dictionary<string, string>
        {
            ["NEXUS_S3_ENDPOINT"] = settings.Endpoint.ToString(),
            ["NEXUS_S3_ACCESS_KEY"] = settings.AccessKey,
            ["NEXUS_S3_SECRET_KEY"] = settings.SecretKey,
            ["NEXUS_ARTIFACT_CACHE"] = Path.Combine(directory, "cache"),
        };

        await using (var server = Serve(["--model", "s3://nexus-serve/runs/seed/model"], environment))
        {
            await server.WaitUntilReadyAsync();
            using var completion = await server.PostAsync($$"""{"prompt":"{{Prompt}}","max_tokens":8,"temperature":0}""");
            using var answer = JsonDocument.Parse(await completion.Content.ReadAsStringAsync());
            Assert.Equal(GreedyContinuation(Path.Combine(directory, "run", "model"), maxTokens: 8),
                answer.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
            Assert.Contains("Fetching s3://nexus-serve/runs/seed", await server.TerminateAndReadErrorAsync());
        }

        await using var missing = Serve(["--model", "s3://nexus-serve/runs/nothing/model"], environment);
        var exitCode = await missing.ExitCodeAsync();
        Assert.True(exitCode == 1, $"exit code {exitCode}: {await missing.ErrorAsync()}");
        Assert.Contains("s3://nexus-serve/runs/nothing/model holds no published artifact", await missing.ErrorAsync());
        Assert.True(missing.AnsweredHealth, "/healthz never answered while the model was being fetched");
    }

    [Fact]
    public void A_missing_local_model_or_a_malformed_location_is_refused_before_the_server_starts()
    {
        var missing = Path.Combine(directory, "nowhere");
        AssertOneLineError(Invoke("serve", "--model", missing, "--port", "0"), $"--model {missing}: no model there (no config.json)");
        AssertOneLineError(Invoke("serve", "--model", "s3://b/model", "--port", "0"), "'b' is not an S3 bucket name");
    }

    private string TrainTinyModel()
    {
        var corpus = Path.Combine(directory, "corpus.txt");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("a sea of words and whales. ", 200)));
        var run = Path.Combine(directory, "run");
        AssertSuccess(Invoke("train", "--data", corpus, "--out", run, "--model-size", "tiny", "--steps", "3", "--batch-size", "2",
            "--seq-len", "32", "--checkpoint-every", "0", "--eval-tokens", "64", "--threads", "1"));
        return Path.Combine(run, "model");
    }

    /// <summary><c>nexus generate</c>'s greedy continuation of <see cref="Prompt"/> (it prints the prompt, the continuation, a newline).</summary>
    private static string GreedyContinuation(string model, int maxTokens)
    {
        var generated = Invoke("generate", "--model", model, "--prompt", Prompt, "--max-tokens", maxTokens.ToString(CultureInfo.InvariantCulture),
            "--temperature", "0", "--threads", "1");
        AssertSuccess(generated);
        var printed = generated.Out.TrimEnd('\n');
        Assert.StartsWith(Prompt, printed);
        return printed[Prompt.Length..];
    }

    private static async Task<(string Text, bool Done)> ReadStreamAsync(HttpResponseMessage response, Action? afterFirstChunk)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var text = new StringBuilder();
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line["data: ".Length..];
                if (data == "[DONE]") return (text.ToString(), true);
                using var chunk = JsonDocument.Parse(data);
                Assert.False(chunk.RootElement.TryGetProperty("error", out var error), $"the stream ended in an error: {error}");
                text.Append(chunk.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
                if (afterFirstChunk is not null)
                {
                    afterFirstChunk();
                    afterFirstChunk = null;
                }
            }
            return (text.ToString(), false);
        }
    }

    private ServeProcess Serve(string[] args, IReadOnlyDictionary<string, string>? environment = null) =>
        new(args, environment ?? new Dictionary<string, string>());

    /// <summary>A <c>dotnet nexus.dll serve</c> child process on a free loopback port, killed on dispose if still running.</summary>
    private sealed class ServeProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly Task<string> stdout;
        private readonly Task<string> stderr;

        public ServeProcess(string[] args, IReadOnlyDictionary<string, string> environment)
        {
            var port = FreePort();
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nexus.dll"));
            foreach (var argument in (string[])["serve", .. args, "--port", port.ToString(CultureInfo.InvariantCulture), "--threads", "1"])
                info.ArgumentList.Add(argument);
            foreach (var (name, value) in environment) info.Environment[name] = value;
            process = Process.Start(info)!;
            stdout = process.StandardOutput.ReadToEndAsync();
            stderr = process.StandardError.ReadToEndAsync();
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
            _ = WatchHealthAsync();
        }

        public HttpClient Http { get; }

        /// <summary>Whether /healthz answered 200 at least once while the process ran.</summary>
        public bool AnsweredHealth { get; private set; }

        private async Task WatchHealthAsync()
        {
            while (!process.HasExited && !AnsweredHealth)
            {
                try
                {
                    using var health = await Http.GetAsync("healthz");
                    AnsweredHealth = health.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or ObjectDisposedException)
                {
                }
                await Task.Delay(20);
            }
        }

        public async Task WaitUntilReadyAsync()
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (true)
            {
                if (process.HasExited) Assert.Fail($"nexus serve exited early ({process.ExitCode}): {await stderr}");
                try
                {
                    using var ready = await Http.GetAsync("readyz");
                    if (ready.StatusCode == HttpStatusCode.OK) return;
                }
                catch (HttpRequestException)
                {
                }
                Assert.True(DateTime.UtcNow < deadline, "nexus serve was not ready within 120 s");
                await Task.Delay(50);
            }
        }

        public Task<HttpResponseMessage> PostAsync(string body) =>
            Http.PostAsync("v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        public Task<HttpResponseMessage> PostStreamAsync(int maxTokens) =>
            Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = new StringContent($$"""{"prompt":"{{Prompt}}","max_tokens":{{maxTokens}},"temperature":0,"stream":true}""",
                    Encoding.UTF8, "application/json"),
            }, HttpCompletionOption.ResponseHeadersRead);

        public void Terminate() => Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

        public async Task<int> ExitCodeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode;
        }

        public Task<string> ErrorAsync() => stderr;

        public async Task<string> TerminateAndReadErrorAsync()
        {
            Terminate();
            var code = await ExitCodeAsync();
            Assert.True(code == 0, $"exit code {code}: {await stderr}");
            return await stderr;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await Task.WhenAll(stdout, stderr);
            Http.Dispose();
            process.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
