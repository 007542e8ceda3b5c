using System.CommandLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Nexus.Serving.Engine;
using Nexus.Serving.Server;

namespace Nexus.Cli.Commands;

/// <summary>
/// <c>nexus serve</c>: an OpenAI-compatible completions server (docs/serving.md) over one model revision, the command the
/// operator's serving Deployment runs. The server answers <c>/healthz</c> at once and <c>/readyz</c> only once the model
/// is fetched (an <c>s3://</c> model is verified against its manifest, as every step's input is), loaded and warmed up;
/// a SIGTERM while it loads cancels the load, and once serving drains in-flight requests.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var engineDefaults = new EngineOptions();
        var model = new Option<string>("--model") { Description = "Model folder or location (config.json, safetensors weights, tokenizer).", Required = true };
        var port = new Option<int>("--port") { Description = "TCP port for the API, /healthz, /readyz and /metrics.", DefaultValueFactory = _ => 8080 };
        var modelId = new Option<string?>("--model-id") { Description = "The id /v1/models lists (default: the model folder's name)." };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences decoded together at most (KV cache slots).", DefaultValueFactory = _ => engineDefaults.MaxBatchSize };
        var context = new Option<int?>("--context") { Description = "Tokens per sequence, prompt plus completion (default: the model's maximum)." };
        var queue = new Option<int>("--queue") { Description = "Requests waiting for a slot at most; one more is answered 429.", DefaultValueFactory = _ => engineDefaults.QueueCapacity };
        var timeout = new Option<int>("--request-timeout") { Description = "Seconds one completion may run.", DefaultValueFactory = _ => (int)ServerOptions.DefaultRequestTimeout.TotalSeconds };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };

        var command = new Command("serve", "Serve a model over an OpenAI-compatible completions API with continuous batching.")
        {
            model, port, modelId, maxBatch, context, queue, timeout, threads,
        };
        command.SetAction(async (parsed, cancellation) =>
        {
            var folder = parsed.GetValue(model)!;
            var engine = new EngineOptions
            {
                ModelId = parsed.GetValue(modelId),
                MaxBatchSize = parsed.GetValue(maxBatch),
                ContextTokens = parsed.GetValue(context),
                QueueCapacity = parsed.GetValue(queue),
                Threads = parsed.GetValue(threads),
            };
            engine.Validate();
            var seconds = parsed.GetValue(timeout);
            if (seconds < 1) throw new ArgumentException($"--request-timeout is {seconds}; give at least 1 second.");
            if (folder.Contains("://", StringComparison.Ordinal))
                Storage.ArtifactLocation.Parse(folder); // a malformed location is refused now; the model is fetched once the server is up
            else if (!File.Exists(Path.Combine(folder, "config.json")))
                throw new ArgumentException($"--model {folder}: no model there (no config.json); give a model folder or its s3:// location.");
            var server = new ServerOptions(Port: parsed.GetValue(port), RequestTimeout: TimeSpan.FromSeconds(seconds));

            using var shutdown = new ShutdownSignal();
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(shutdown.Token, cancellation);
            using var logging = StandardErrorLogging();
            return await ServingHost.RunAsync(server, token => LoadAsync(folder, engine, token), logging, stopping.Token);
        });
        return command;
    }

    /// <summary>One line per event on stderr (a pod's log), information and up; stdout stays empty.</summary>
    private static ILoggerFactory StandardErrorLogging() => LoggerFactory.Create(logging => logging
        .SetMinimumLevel(LogLevel.Information)
        .AddFilter("Microsoft", LogLevel.Warning)
        .AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.UseUtcTimestamp = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        })
        .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace));

    private static async Task<ICompletionEngine> LoadAsync(string model, EngineOptions options, CancellationToken cancellationToken)
    {
        var folder = await RemoteArtifacts.FetchInputAsync(model, cancellationToken);
        return await BatchingEngine.LoadAsync(folder, options, cancellationToken);
    }
}
