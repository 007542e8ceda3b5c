using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;
using Prometheus;

namespace Nexus.Serving.Server;

/// <summary>Answers every HTTP request of a <see cref="ServingHost"/>: the routes, their errors in the OpenAI shape, and
/// the completions themselves (parse, admit, generate, stream, measure).</summary>
internal sealed partial class ServingHandler(ServingHost host, ILogger<ServingHandler> logger)
{
    private const string JsonContentType = "application/json";

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        try
        {
            switch (request.Path.Value)
            {
                case "/healthz":
                    if (RequireGet(context, out var healthz))
                        await WriteTextAsync(context, 200, "ok\n");
                    else
                        await WriteErrorAsync(context, healthz!);
                    break;
                case "/readyz":
                    if (RequireGet(context, out var readyz))
                        await ReadyzAsync(context);
                    else
                        await WriteErrorAsync(context, readyz!);
                    break;
                case "/metrics":
                    if (RequireGet(context, out var metrics))
                        await MetricsAsync(context);
                    else
                        await WriteErrorAsync(context, metrics!);
                    break;
                case "/v1/models":
                    if (RequireGet(context, out var models))
                        await ModelsAsync(context);
                    else
                        await WriteErrorAsync(context, models!);
                    break;
                case "/v1/completions":
                    if (HttpMethods.IsPost(request.Method))
                        await CompletionsAsync(context);
                    else
                        await WriteErrorAsync(context, ServerErrors.MethodNotAllowed(request.Method, "/v1/completions", "POST"), allow: "POST");
                    break;
                default:
                    await WriteErrorAsync(context, ServerErrors.NotFound(request.Method, request.Path.Value ?? "/"));
                    break;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (BadHttpRequestException e)
        {
            // Malformed framing of the body (bad chunking, a body shorter than its Content-Length): the client's fault.
            if (!context.Response.HasStarted)
                await WriteErrorAsync(context, ServerErrors.BadHttp(e.StatusCode, e.Message));
        }
        catch (Exception e)
        {
            LogUnhandled(logger, e, request.Method, request.Path.Value);
            if (!context.Response.HasStarted)
                await WriteErrorAsync(context, ServerErrors.Internal());
            else
                context.Abort();
        }
    }

    private static bool RequireGet(HttpContext context, out ServingError? error)
    {
        var method = context.Request.Method;
        error = HttpMethods.IsGet(method) || HttpMethods.IsHead(method)
            ? null
            : ServerErrors.MethodNotAllowed(method, context.Request.Path.Value!, "GET");
        if (error is not null)
            context.Response.Headers.Allow = "GET, HEAD";
        return error is null;
    }

    private async Task ReadyzAsync(HttpContext context)
    {
        var (status, text) = host.State switch
        {
            ServingState.Ready => (200, "ready\n"),
            ServingState.Loading => (503, "loading: the model is loading and warming up\n"),
            ServingState.Failed => (503, $"failed: the model failed to load: {host.LoadError}\n"),
            _ => (503, "stopping: the server is shutting down\n"),
        };
        await WriteTextAsync(context, status, text);
    }

    private async Task MetricsAsync(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = PrometheusConstants.TextContentTypeWithVersionAndEncoding;
        await host.Metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
    }

    private async Task ModelsAsync(HttpContext context)
    {
        var engine = host.Engine;
        if (engine is null)
        {
            await WriteErrorAsync(context, NotTaking(host.State));
            return;
        }
        var list = new ModelList([new ModelCard(engine.ModelId, host.LoadedAt.ToUnixTimeSeconds(), "nexus")]);
        await WriteJsonAsync(context, 200, ServingJson.Serialize(list));
    }

    private ServingError NotTaking(ServingState state) => state switch
    {
        ServingState.Loading => ServerErrors.NotReady(),
        ServingState.Failed => ServerErrors.LoadFailed(host.LoadError ?? "unknown"),
        _ => ServerErrors.ShuttingDown(),
    };

    private async Task CompletionsAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var status = 500;
        try
        {
            status = await CompletionCoreAsync(context);
        }
        finally
        {
            host.Metrics.Answered(status, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Answers one completions request; returns the status sent (for the metrics).</summary>
    private async Task<int> CompletionCoreAsync(HttpContext context)
    {
        var limits = host.Options.EffectiveLimits;
        CompletionParseResult parsed;
        try
        {
            parsed = await ReadAndParseAsync(context, limits);
        }
        catch (BadHttpRequestException e)
        {
            return await WriteErrorAsync(context, ServerErrors.BadHttp(e.StatusCode, e.Message));
        }
        if (!parsed.IsValid)
            return await WriteErrorAsync(context, parsed.Error);

        if (!host.TryEnter(out var state))
        {
            if (state == ServingState.Loading)
                context.Response.Headers.RetryAfter = "5";
            return await WriteErrorAsync(context, NotTaking(state));
        }
        try
        {
            var engine = host.Engine!;
            var completion = parsed.Request;
            if (completion.Model is { } named && !string.Equals(named, engine.ModelId, StringComparison.Ordinal))
                return await WriteErrorAsync(context, ServerErrors.UnknownModel(named, engine.ModelId));

            var timeout = host.Options.EffectiveRequestTimeout;
            using var timer = new CancellationTokenSource(timeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, context.RequestAborted, host.AbortInFlight);
            var run = new Run(context, engine, completion, linked.Token, timer.Token, timeout);
            return await RunAsync(run);
        }
        finally
        {
            host.Exit();
        }
    }

    private sealed record Run(
        HttpContext Context,
        ICompletionEngine Engine,
        CompletionRequest Request,
        CancellationToken Token,
        CancellationToken TimedOut,
        TimeSpan Timeout)
    {
        public string Id { get; } = "cmpl-" + Guid.NewGuid().ToString("N");

        public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    private async Task<int> RunAsync(Run run)
    {
        var context = run.Context;
        var admitted = Stopwatch.GetTimestamp();
        var last = admitted;
        var first = true;
        var text = new System.Text.StringBuilder();
        GenerationFinished? finished = null;
        var streaming = false;

        try
        {
            await foreach (var generated in run.Engine.GenerateAsync(run.Request, run.Token).WithCancellation(run.Token))
            {
                switch (generated)
                {
                    case GenerationText piece:
                        var now = Stopwatch.GetTimestamp();
                        if (first)
                            host.Metrics.FirstText(Stopwatch.GetElapsedTime(admitted, now));
                        else
                            host.Metrics.NextText(Stopwatch.GetElapsedTime(last, now));
                        (first, last) = (false, now);
                        if (run.Request.Stream)
                        {
                            streaming = await StartStreamAsync(context, streaming);
                            await WriteEventAsync(context, ServingJson.Event(Chunk(run, piece.Text, null)), run.Token);
                        }
                        else
                        {
                            text.Append(piece.Text);
                        }
                        break;
                    case GenerationFinished end:
                        finished = end;
                        break;
                }
                if (finished is not null)
                    break;
            }
        }
        catch (GenerationRefusedException refusal) when (!streaming)
        {
            if (refusal.RetryAfter is { } retry)
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return await WriteErrorAsync(context, ServerErrors.Refused(refusal));
        }
        catch (OperationCanceledException) when (run.TimedOut.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return await FailAsync(run, streaming, ServerErrors.Timeout(run.Timeout));
        }
        catch (OperationCanceledException) when (host.AbortInFlight.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            return await FailAsync(run, streaming, ServerErrors.ShuttingDown());
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            LogClientGone(logger, run.Id);
            return 499;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogEngineFailed(logger, e, run.Id);
            return await FailAsync(run, streaming, ServerErrors.Internal());
        }

        if (finished is null)
        {
            LogNoFinish(logger, run.Id);
            return await FailAsync(run, streaming, ServerErrors.Internal());
        }
        host.Metrics.Finished(finished);
        var reason = finished.Reason;
        if (run.Request.Stream)
        {
            streaming = await StartStreamAsync(context, streaming);
            await WriteEventAsync(context, ServingJson.Event(Chunk(run, "", reason)), context.RequestAborted);
            await WriteEventAsync(context, ServingJson.DoneEvent, context.RequestAborted);
            return 200;
        }
        var response = new CompletionResponse(run.Id, run.Created, run.Engine.ModelId,
            [new CompletionChoice(text.ToString(), 0, reason)],
            new Usage(finished.PromptTokens, finished.CompletionTokens));
        return await WriteJsonAsync(context, 200, ServingJson.Serialize(response));
    }

    private static CompletionChunk Chunk(Run run, string text, FinishReason? reason) =>
        new(run.Id, run.Created, run.Engine.ModelId, [new CompletionChunkChoice(text, 0, reason)]);

    /// <summary>Answers a failure: the error as JSON before the stream began, or as a last event (no <c>[DONE]</c>) after.</summary>
    private static async Task<int> FailAsync(Run run, bool streaming, ServingError error)
    {
        if (!streaming)
            return await WriteErrorAsync(run.Context, error);
        await WriteEventAsync(run.Context, $"data: {ServingJson.Serialize(error)}\n\n", run.Context.RequestAborted);
        return 200;
    }

    /// <summary>Sends the event-stream headers once, before the first event.</summary>
    private static async Task<bool> StartStreamAsync(HttpContext context, bool started)
    {
        if (started)
            return true;
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(context.RequestAborted);
        return true;
    }

    private static async Task WriteEventAsync(HttpContext context, string framed, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync(framed, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Reads the body up to one byte past the limit (so the parser answers 413 without reading the rest).</summary>
    private static async Task<CompletionParseResult> ReadAndParseAsync(HttpContext context, ServingLimits limits)
    {
        if (context.Request.ContentLength > limits.MaxBodyBytes)
            return CompletionRequests.Parse(new byte[limits.MaxBodyBytes + 1], limits);
        var cap = limits.MaxBodyBytes + 1;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(cap, context.Request.ContentLength ?? 4096) + 1);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= cap)
                        break;
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(cap, buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await context.Request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, cap) - length), context.RequestAborted);
                if (read == 0)
                    break;
                length += read;
                if (length >= cap)
                    break;
            }
            return CompletionRequests.Parse(buffer.AsSpan(0, length), limits);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<int> WriteErrorAsync(HttpContext context, ServingError error, string? allow = null)
    {
        if (allow is not null)
            context.Response.Headers.Allow = allow;
        return await WriteJsonAsync(context, error.StatusCode, ServingJson.Serialize(error));
    }

    private static async Task<int> WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = JsonContentType;
        await context.Response.WriteAsync(json, context.RequestAborted);
        return status;
    }

    private static async Task WriteTextAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(text, context.RequestAborted);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure answering {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string? path);

    [LoggerMessage(Level = LogLevel.Error, Message = "The engine failed on completion {Id}")]
    private static partial void LogEngineFailed(ILogger logger, Exception exception, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "The engine ended completion {Id} without a finish event")]
    private static partial void LogNoFinish(ILogger logger, string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "The client of completion {Id} went away; cancelled")]
    private static partial void LogClientGone(ILogger logger, string id);
}
