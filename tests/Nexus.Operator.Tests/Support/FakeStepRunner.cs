using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Local;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Operator.Tests.Support;

/// <summary>What the fake worker published for one Job: the step's output location and its result file (the one
/// <see cref="JobReadings.Result"/> reads) with the SHA-256 its manifest records.</summary>
public sealed record FakeStepOutput(string JobName, StepKind Kind, string OutputUri, string ResultPath, string Sha256);

/// <summary>
/// The worker of the operator's step Jobs, faked in-process: for a Job it publishes a small valid output of the Job's
/// step at the Job's <c>nexus.moe/output</c> — what <see cref="JobReadings.Result"/> accepts for that step: a train or
/// finetune run with <c>model/model.safetensors</c>, a model folder for import, upcycle, extend and remove, an
/// embedding or evaluation report file — then marks the Job succeeded through the server's Job simulator, as the Job
/// controller would after one pod. Tests that play the steps one by one call <see cref="SucceedAsync"/>;
/// <see cref="StartAsync"/> runs every new Job by itself (each once, by uid; suspended and finished Jobs are left
/// alone), and <see cref="FailJob"/> names a Job to fail instead.
/// </summary>
/// <remarks>It reads the server directly, not through the API, so its work never shows in the request log: a test
/// counting the operator's requests counts only the operator's.</remarks>
public sealed class FakeStepRunner(Server server, string stagingRoot, string ns) : IAsyncDisposable
{
    /// <summary>What every fake embedding holds.</summary>
    public static readonly double[] EmbeddingVector = [0.1, 0.2, 0.3];

    private readonly CancellationTokenSource _stopping = new();
    private readonly NewJobs _newJobs = new(server, ns);
    private readonly ConcurrentDictionary<string, (int ExitCode, string PodReason)> _toFail = new();
    private readonly ConcurrentQueue<FakeStepOutput> _published = new();
    private readonly ConcurrentQueue<string> _handled = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private Task? _watching;

    /// <summary>Names of the Jobs handled (succeeded or failed), in order.</summary>
    public IReadOnlyList<string> Handled => [.. _handled];

    /// <summary>Every output published, in order.</summary>
    public IReadOnlyList<FakeStepOutput> Published => [.. _published];

    /// <summary>Jobs the running loop could not handle, with why; a test waiting on a step can name them.</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    /// <summary>The latest output published for the Job named <paramref name="jobName"/>.</summary>
    public FakeStepOutput OutputOf(string jobName) =>
        _published.LastOrDefault(output => output.JobName == jobName) ?? throw new KeyNotFoundException($"No output was published for Job {jobName}.");

    /// <summary>The Job named <paramref name="jobName"/>, when it comes, fails (BackoffLimitExceeded, its pod's container
    /// terminated with <paramref name="podReason"/> and <paramref name="exitCode"/>) and publishes nothing.</summary>
    public void FailJob(string jobName, int exitCode = 1, string podReason = "Error") => _toFail[jobName] = (exitCode, podReason);

    /// <summary>Handles every new Job from now on, until disposed.</summary>
    public Task StartAsync()
    {
        _watching ??= Task.Run(() => WatchAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    /// <summary>Publishes what the Job's step would at its <c>nexus.moe/output</c>, then marks the Job succeeded; returns
    /// the SHA-256 of the step's result file (the weights, the embedding or the report).</summary>
    public async Task<string> SucceedAsync(string jobName, CancellationToken cancellationToken = default)
    {
        var job = ReadJob(jobName) ?? throw new InvalidOperationException($"Job {ns}/{jobName} does not exist.");
        var output = await PublishStepAsync(job, cancellationToken);
        server.Jobs.MarkSucceeded(ns, jobName);
        _handled.Enqueue(jobName);
        return output.Sha256;
    }

    /// <summary>Publishes <paramref name="files"/> as the artifact at <paramref name="uri"/>, as a step would; returns the
    /// SHA-256 the manifest records for <paramref name="result"/>.</summary>
    public async Task<string> PublishAsync(string uri, string result, IEnumerable<(string Path, string Content)> files, CancellationToken cancellationToken = default)
    {
        var staging = Path.Combine(stagingRoot, "staging", Guid.NewGuid().ToString("N"));
        foreach (var (path, content) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(staging, path))!);
            await File.WriteAllTextAsync(Path.Combine(staging, path), content, cancellationToken);
        }

        var store = ArtifactStores.Default(uri);
        try
        {
            var published = await store.PublishAsync(staging, cancellationToken);
            return published.Manifest.Files.Single(file => file.Path == result).Sha256;
        }
        finally
        {
            (store as IDisposable)?.Dispose();
            Directory.Delete(staging, recursive: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_watching is not null)
        {
            await _watching;
        }

        _stopping.Dispose();
    }

    /// <summary>The files a step publishes and which of them is its result.</summary>
    public static (string Result, IReadOnlyList<(string Path, string Content)> Files) OutputFor(V1Job job)
    {
        var name = job.Metadata.Name;
        var output = OutputUri(job);
        var file = output[(output.LastIndexOf('/') + 1)..];
        var weights = $"weights of {name}";
        var kind = KindOf(job);
        return kind switch
        {
            _ when kind is StepKind.Train or StepKind.Finetune || ArgumentAfter(job, "--finetune-out") is not null => ("model/model.safetensors",
                [("model/model.safetensors", weights), ("model/config.json", "{}"), ("metrics.jsonl", """{"step":1,"loss":2.5}""")]),
            StepKind.Embed => (file, [(file, Embedding(ArgumentAfter(job, "--name") ?? name))]),
            StepKind.Evaluate => (file, [(file, EvaluationReport(DomainsOf(job)))]),
            _ => ("model.safetensors", [("model.safetensors", weights), ("config.json", "{}")]),
        };
    }

    /// <summary>
    /// <c>nexus evaluate</c>'s report for <paramref name="domains"/> in router order: domain i has perplexity 10 + 3i,
    /// 4,096 tokens, and routes (9 − i)/10 of its tokens to its own expert, the rest evenly to the others.
    /// </summary>
    public static string EvaluationReport(IReadOnlyList<string> domains)
    {
        var rows = new JsonArray();
        for (var i = 0; i < domains.Count; i++)
        {
            var own = (9 - i) / 10.0;
            var shares = new JsonArray([.. Enumerable.Range(0, domains.Count)
                .Select(j => (JsonNode)JsonValue.Create(j == i ? own : domains.Count == 1 ? 0 : (1 - own) / (domains.Count - 1)))]);
            var perplexity = 10.0 + 3 * i;
            rows.Add(new JsonObject
            {
                ["domain"] = domains[i],
                ["loss"] = Math.Log(perplexity),
                ["perplexity"] = perplexity,
                ["tokens"] = 4096,
                ["routing"] = new JsonObject { ["per_layer"] = new JsonArray(shares.DeepClone()), ["average"] = shares, ["own_expert"] = own },
            });
        }

        return new JsonObject
        {
            ["model"] = "model",
            ["model_type"] = "moe",
            ["experts"] = new JsonArray([.. domains.Select(domain => (JsonNode)JsonValue.Create(domain))]),
            ["domains"] = rows,
            ["average_perplexity"] = domains.Count == 0 ? 0 : Enumerable.Range(0, domains.Count).Average(i => 10.0 + 3 * i),
        }.ToJsonString();
    }

    /// <summary>What an extension surgery that also finetunes publishes as its extended model at <c>--out</c>.</summary>
    public static string ExtendedWeights(string jobName) => $"extended by {jobName}";

    public static StepKind KindOf(V1Job job)
    {
        var component = job.Metadata.Labels?.TryGetValue(Labels.Component, out var value) == true ? value : null;
        var kinds = StepKinds.All.Where(kind => kind.CommandName() == component).ToList();
        return kinds.Count == 1
            ? kinds[0]
            : throw new ArgumentException($"Job {job.Metadata.Name} names no step in its {Labels.Component} label ('{component}').", nameof(job));
    }

    public static string OutputUri(V1Job job) =>
        job.Metadata.Annotations?.TryGetValue(Annotations.Output, out var uri) == true
            ? uri
            : throw new ArgumentException($"Job {job.Metadata.Name} has no {Annotations.Output} annotation.", nameof(job));

    private async Task<FakeStepOutput> PublishStepAsync(V1Job job, CancellationToken cancellationToken)
    {
        var (result, files) = OutputFor(job);
        var uri = OutputUri(job);
        if (KindOf(job) is StepKind.Extend or StepKind.Remove && ArgumentAfter(job, "--finetune-out") is not null)
        {
            // The surgery before its finetune: the extended model, published at --out beside the run.
            await PublishAsync(ArgumentAfter(job, "--out")!, "model.safetensors",
                [("model.safetensors", ExtendedWeights(job.Metadata.Name)), ("config.json", "{}")], cancellationToken);
        }

        var sha = await PublishAsync(uri, result, files, cancellationToken);
        var output = new FakeStepOutput(job.Metadata.Name, KindOf(job), uri, result, sha);
        _published.Enqueue(output);
        return output;
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                foreach (var job in await _newJobs.NextAsync(cancellationToken))
                {
                    try
                    {
                        await RunAsync(job, cancellationToken);
                    }
                    catch (Exception failure) when (failure is not OperationCanceledException)
                    {
                        _errors.Enqueue($"Job {job.Metadata.Name}: {failure.Message}");
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private async Task RunAsync(V1Job job, CancellationToken cancellationToken)
    {
        var name = job.Metadata.Name;
        if (_toFail.TryGetValue(name, out var failure))
        {
            server.Jobs.MarkFailed(ns, name, exitCode: failure.ExitCode, podReason: failure.PodReason);
        }
        else
        {
            await PublishStepAsync(job, cancellationToken);
            if (ReadJob(name)?.Metadata.Uid != job.Metadata.Uid)
            {
                return;
            }

            server.Jobs.MarkSucceeded(ns, name);
        }

        _handled.Enqueue(name);
    }

    private V1Job? ReadJob(string name) =>
        server.Get("batch/v1", "jobs", ns, name) is { } json ? KubernetesJson.Deserialize<V1Job>(json.ToJsonString()) : null;

    private static string Embedding(string name) => new JsonObject
    {
        ["format"] = "nexus.domain-embedding/v1",
        ["name"] = name,
        ["source"] = "fake",
        ["tokens"] = 0,
        ["vector"] = new JsonArray([.. EmbeddingVector.Select(value => (JsonNode)JsonValue.Create(value))]),
    }.ToJsonString();

    private static List<string> Arguments(V1Job job) => job.Spec?.Template?.Spec?.Containers?.FirstOrDefault()?.Args?.ToList() ?? [];

    private static string? ArgumentAfter(V1Job job, string flag)
    {
        var arguments = Arguments(job);
        var at = arguments.IndexOf(flag);
        return at >= 0 && at + 1 < arguments.Count ? arguments[at + 1] : null;
    }

    /// <summary>The names of the <c>--domain NAME=DATA</c> arguments, in order.</summary>
    private static List<string> DomainsOf(V1Job job)
    {
        var arguments = Arguments(job);
        return arguments.Select((argument, i) => (argument, i))
            .Where(pair => pair.argument == "--domain" && pair.i + 1 < arguments.Count)
            .Select(pair => arguments[pair.i + 1].Split('=', 2)[0])
            .ToList();
    }
}
