using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Nexus.Bench;

/// <summary>
/// Load generator for a running <c>nexus serve</c> (its own process, so the two do not share a GC): waits for /readyz,
/// then for each concurrency runs a closed loop of streamed greedy completions (fixed prompt and max_tokens) for
/// --seconds, timing each SSE chunk's arrival; then one long generation up to the model's context, its inter-token
/// latency by position; then reads /metrics and checks the server's counters against what the client saw.
/// </summary>
public static class ServeLoad
{
    private const string PromptText = "The whale surfaced beside the boat, and the old captain counted the seconds before it dove. ";

    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        var url = arguments.Get("url", "http://127.0.0.1:8080").TrimEnd('/');
        var levels = arguments.Get("concurrency", "1,4,16").Split(',').Select(int.Parse).ToArray();
        var seconds = arguments.GetInt("seconds", 120);
        var promptTokens = arguments.GetInt("prompt-tokens", 64);
        var maxTokens = arguments.GetInt("max-tokens", 128);
        var context = arguments.GetInt("context", 1024);
        if (promptTokens < 2) throw new ArgumentException($"--prompt-tokens is {promptTokens}; give at least 2 (BOS and one byte).");
        if (promptTokens + maxTokens > context)
            throw new ArgumentException($"--prompt-tokens {promptTokens} plus --max-tokens {maxTokens} exceed --context {context}; lower one of them.");

        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(10),
        };
        var modelId = WaitReady(client, TimeSpan.FromSeconds(arguments.GetInt("ready-timeout", 600)));
        var totals = new ClientTotals();

        var results = new List<Dictionary<string, object>>();
        foreach (var concurrency in levels)
        {
            Console.Error.WriteLine($"{modelId}: concurrency {concurrency} for {seconds} s ...");
            var level = RunLevel(client, concurrency, TimeSpan.FromSeconds(seconds), promptTokens, maxTokens, totals);
            Console.Error.WriteLine($"{modelId}: concurrency {concurrency}: {JsonSerializer.Serialize(level)}");
            results.Add(level);
        }

        Dictionary<string, object>? longRun = null;
        if (!arguments.Flag("no-long"))
        {
            // A short prompt and every remaining position of the context.
            const int longPrompt = 16;
            Console.Error.WriteLine($"{modelId}: one generation of {context - longPrompt} tokens ...");
            longRun = LongGeneration(client, Prompt(longPrompt), longPrompt, context - longPrompt, arguments.GetInt("bucket", 128), totals);
        }

        var metrics = client.GetStringAsync("/metrics").GetAwaiter().GetResult();
        return new Dictionary<string, object>
        {
            ["model"] = modelId,
            ["url"] = url,
            ["seconds_per_level"] = seconds,
            ["prompt_tokens"] = promptTokens,
            ["max_tokens"] = maxTokens,
            ["temperature"] = 0,
            ["levels"] = results,
            ["long_generation"] = (object?)longRun ?? "skipped",
            ["metrics_check"] = CheckMetrics(metrics, totals),
        };
    }

    /// <summary>ASCII text of <paramref name="tokens"/> − 1 bytes: with the byte tokenizer's BOS, exactly that many prompt tokens.</summary>
    public static string Prompt(int tokens)
    {
        var text = new StringBuilder();
        while (text.Length < tokens - 1) text.Append(PromptText);
        return text.ToString(0, tokens - 1);
    }

    private static string WaitReady(HttpClient client, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var ready = client.GetAsync("/readyz").GetAwaiter().GetResult();
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    using var models = JsonDocument.Parse(client.GetStringAsync("/v1/models").GetAwaiter().GetResult());
                    return models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (clock.Elapsed > timeout) throw new TimeoutException($"{client.BaseAddress}readyz did not answer 200 within {timeout.TotalSeconds:F0} s; see the server's log.");
            Thread.Sleep(500);
        }
    }

    private static Dictionary<string, object> RunLevel(HttpClient client, int concurrency, TimeSpan duration, int promptTokens, int maxTokens, ClientTotals totals)
    {
        var prompt = Prompt(promptTokens);
        var outcomes = new List<StreamOutcome>();
        var clock = Stopwatch.StartNew();
        var windowEnd = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                var outcome = await StreamOne(client, prompt, maxTokens, windowEnd);
                lock (outcomes) outcomes.Add(outcome);
            }
        })).ToArray();
        Task.WaitAll(workers);
        var elapsed = clock.Elapsed.TotalSeconds;

        var ok = outcomes.Where(o => o.Error is null).ToList();
        foreach (var o in outcomes) totals.Add(o, promptTokens);
        var tokens = ok.Sum(o => o.Tokens);
        // Throughput over the fixed window only: the requests still running when it closes finish in a drain with a
        // shrinking batch, which would otherwise pull the figure down by a different amount at each concurrency.
        var windowTokens = outcomes.Sum(o => o.TokensInWindow);
        return new Dictionary<string, object>
        {
            ["concurrency"] = concurrency,
            ["elapsed_seconds"] = elapsed,
            ["completed"] = ok.Count,
            ["errors"] = outcomes.Count - ok.Count,
            ["error_kinds"] = outcomes.Where(o => o.Error is not null).GroupBy(o => o.Error!).ToDictionary(g => g.Key, g => g.Count()),
            ["output_tokens"] = tokens,
            ["window_seconds"] = duration.TotalSeconds,
            ["tokens_in_window"] = windowTokens,
            ["tokens_per_second"] = windowTokens / duration.TotalSeconds,
            ["ttft_p50_ms"] = ServeStatistics.Percentile(ok.Select(o => o.TimeToFirstToken).ToList(), 50) * 1000,
            ["ttft_p99_ms"] = ServeStatistics.Percentile(ok.Select(o => o.TimeToFirstToken).ToList(), 99) * 1000,
            ["itl_p50_ms"] = ServeStatistics.Percentile(ok.SelectMany(o => o.InterTokenLatencies).ToList(), 50) * 1000,
            ["itl_p99_ms"] = ServeStatistics.Percentile(ok.SelectMany(o => o.InterTokenLatencies).ToList(), 99) * 1000,
            ["finished_stop"] = ok.Count(o => o.FinishReason == "stop"),
            ["multi_token_chunks"] = ok.Sum(o => o.MultiTokenChunks),
        };
    }

    private static Dictionary<string, object> LongGeneration(HttpClient client, string prompt, int promptTokens, int maxTokens, int width, ClientTotals totals)
    {
        var outcome = StreamOne(client, prompt, maxTokens, long.MaxValue).GetAwaiter().GetResult();
        totals.Add(outcome, promptTokens);
        if (outcome.Error is not null) return new Dictionary<string, object> { ["error"] = outcome.Error };
        // The i-th latency ends the completion's (i+1)-th token, at position prompt + i + 1 (0-based, prompt first).
        var buckets = ServeStatistics.BucketByPosition(outcome.InterTokenLatencies.Select((l, i) => (promptTokens + i + 1, l)), width);
        return new Dictionary<string, object>
        {
            ["prompt_tokens"] = promptTokens,
            ["completion_tokens"] = outcome.Tokens,
            ["finish_reason"] = outcome.FinishReason ?? "",
            ["ttft_ms"] = outcome.TimeToFirstToken * 1000,
            ["buckets"] = buckets.Select(b => new Dictionary<string, object>
            {
                ["from"] = b.From, ["to"] = b.To, ["tokens"] = b.Latencies.Count,
                ["itl_p50_ms"] = b.Median * 1000, ["itl_p99_ms"] = ServeStatistics.Percentile(b.Latencies, 99) * 1000,
            }).ToList(),
            ["last_over_first"] = buckets.Count > 0 ? buckets[^1].Median / buckets[0].Median : double.NaN,
        };
    }

    /// <summary>One streamed greedy completion; never throws: a failure is the outcome's <see cref="StreamOutcome.Error"/>.</summary>
    private static async Task<StreamOutcome> StreamOne(HttpClient client, string prompt, int maxTokens, long windowEnd)
    {
        var body = JsonSerializer.Serialize(new { prompt, max_tokens = maxTokens, temperature = 0, stream = true });
        var started = Stopwatch.GetTimestamp();
        long? previous = null;
        double firstToken = 0;
        var latencies = new List<double>(maxTokens);
        int tokens = 0, multiToken = 0, inWindow = 0;
        string? finish = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.OK) return StreamOutcome.Failed($"HTTP {(int)response.StatusCode}");
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
            {
                var now = Stopwatch.GetTimestamp();
                switch (SseLine.Parse(line))
                {
                    case SseLine.Chunk chunk:
                        if (chunk.Text.Length > 0)
                        {
                            // Every token these models emit is one printable ASCII byte (ServeModels), so characters count tokens.
                            if (previous is null) firstToken = Stopwatch.GetElapsedTime(started, now).TotalSeconds;
                            else latencies.Add(Stopwatch.GetElapsedTime(previous.Value, now).TotalSeconds);
                            previous = now;
                            tokens += chunk.Text.Length;
                            if (now <= windowEnd) inWindow += chunk.Text.Length;
                            if (chunk.Text.Length > 1) multiToken++;
                        }
                        if (chunk.FinishReason is not null) finish = chunk.FinishReason;
                        break;
                    case SseLine.Done:
                        if (finish is not ("length" or "stop")) return StreamOutcome.Failed($"finish_reason {finish ?? "missing"}");
                        return new StreamOutcome(null, tokens, firstToken, latencies, finish, multiToken, inWindow);
                    case SseLine.Error error:
                        return StreamOutcome.Failed("error event: " + error.Message);
                }
            }
            return StreamOutcome.Failed("stream ended without [DONE]");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return StreamOutcome.Failed($"broken stream: {e.GetType().Name}");
        }
    }

    private static Dictionary<string, object> CheckMetrics(string metrics, ClientTotals totals)
    {
        var served200 = ServeStatistics.SumSamples(metrics, "nexus_serving_requests_total", "status=200");
        var servedAll = ServeStatistics.SumSamples(metrics, "nexus_serving_requests_total");
        var prompt = ServeStatistics.SumSamples(metrics, "nexus_serving_prompt_tokens_total");
        var completion = ServeStatistics.SumSamples(metrics, "nexus_serving_completion_tokens_total");
        var ttftCount = ServeStatistics.SumSamples(metrics, "nexus_serving_time_to_first_token_seconds_count");
        var itlCount = ServeStatistics.SumSamples(metrics, "nexus_serving_inter_token_latency_seconds_count");
        var findings = new List<string>();
        void Compare(string what, double server, double client)
        {
            if (server != client) findings.Add($"{what}: server {server:F0}, client {client:F0}");
        }
        Compare("completions answered 200 vs completed streams", served200, totals.Completed);
        Compare("all completions requests vs requests sent", servedAll, totals.Sent);
        Compare("prompt tokens", prompt, totals.PromptTokens);
        Compare("completion tokens", completion, totals.CompletionTokens);
        Compare("time-to-first-token observations vs streams with a first token", ttftCount, totals.Completed);
        Compare("inter-token latency observations vs chunk gaps seen", itlCount, totals.ChunkGaps);
        return new Dictionary<string, object>
        {
            ["server_requests_by_status"] = ServeStatistics.LabelValues(metrics, "nexus_serving_requests_total", "status")
                .ToDictionary(s => s, s => ServeStatistics.SumSamples(metrics, "nexus_serving_requests_total", "status=" + s)),
            ["server_prompt_tokens"] = prompt,
            ["server_completion_tokens"] = completion,
            ["client_requests_sent"] = totals.Sent,
            ["client_completed"] = totals.Completed,
            ["client_prompt_tokens"] = totals.PromptTokens,
            ["client_completion_tokens"] = totals.CompletionTokens,
            ["agree"] = findings.Count == 0,
            ["findings"] = findings,
        };
    }

    private sealed record StreamOutcome(string? Error, int Tokens, double TimeToFirstToken, IReadOnlyList<double> InterTokenLatencies,
        string? FinishReason, int MultiTokenChunks, int TokensInWindow)
    {
        public static StreamOutcome Failed(string error) => new(error, 0, 0, [], null, 0, 0);
    }

    /// <summary>What the client saw across the whole run, to hold against the server's counters.</summary>
    private sealed class ClientTotals
    {
        public long Sent, Completed, PromptTokens, CompletionTokens, ChunkGaps;

        public void Add(StreamOutcome outcome, int promptTokens)
        {
            Sent++;
            if (outcome.Error is not null) return;
            Completed++;
            PromptTokens += promptTokens;
            CompletionTokens += outcome.Tokens;
            ChunkGaps += outcome.InterTokenLatencies.Count;
        }
    }
}
