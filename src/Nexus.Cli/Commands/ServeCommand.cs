using System.CommandLine;
using Nexus.Serving.Engine;
using Nexus.Serving.Server;

namespace Nexus.Cli.Commands;

/// <summary>
/// <c>nexus serve</c>: an OpenAI-compatible completions server (docs/serving.md) over one model revision, the command the
/// operator's serving Deployment runs. An <c>s3://</c> model is fetched and verified against its manifest before the
/// server starts (as every step's input is); the server then answers <c>/healthz</c> at once and <c>/readyz</c> once the
/// model is loaded and warmed up. SIGTERM drains in-flight requests.
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
            var server = new ServerOptions(Port: parsed.GetValue(port), RequestTimeout: TimeSpan.FromSeconds(seconds));

            using var shutdown = new ShutdownSignal();
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(shutdown.Token, cancellation);
            return await ServingHost.RunAsync(server, token => LoadAsync(folder, engine, token), cancellationToken: stopping.Token);
        });
        return command;
    }

    private static async Task<ICompletionEngine> LoadAsync(string folder, EngineOptions options, CancellationToken cancellationToken) =>
        await BatchingEngine.LoadAsync(folder, options, cancellationToken);
}
