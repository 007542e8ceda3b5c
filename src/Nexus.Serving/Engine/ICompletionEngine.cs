using Nexus.Serving.Completions;

namespace Nexus.Serving.Engine;

/// <summary>What the engine yields for one completion, in order: text as it becomes final, then one
/// <see cref="GenerationFinished"/>.</summary>
public abstract record GenerationEvent;

/// <summary>Completion text that is final: text that could still turn out to begin a stop string is held back until it
/// cannot, and a stop string itself is never yielded.</summary>
public sealed record GenerationText(string Text) : GenerationEvent;

/// <summary>The end of a completion, with its token counts (usage).</summary>
public sealed record GenerationFinished(FinishReason Reason, int PromptTokens, int CompletionTokens) : GenerationEvent;

/// <summary>
/// A request the engine will not take: the queue is full (429 with <see cref="RetryAfter"/>), or the prompt is too
/// long in tokens for the model's context (400, <see cref="Param"/> "prompt"). The server answers it in the OpenAI
/// error shape; nothing of the request ran.
/// </summary>
public sealed class GenerationRefusedException(int status, string message, string? param = null, TimeSpan? retryAfter = null)
    : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Generates completions for the server. Implementations batch concurrent requests (issue 8: continuous batching over
/// a slot KV cache); the server only admits, streams and measures.
/// </summary>
public interface ICompletionEngine : IAsyncDisposable
{
    /// <summary>The id <c>GET /v1/models</c> lists and completions answer with.</summary>
    string ModelId { get; }

    /// <summary>Requests admitted but not yet decoding.</summary>
    int QueueDepth { get; }

    /// <summary>Sequences in the running batch.</summary>
    int BatchSize { get; }

    /// <summary>Tokens routed to each expert, per MoE layer, since the start ([layer][expert]); empty for a dense model.</summary>
    IReadOnlyList<IReadOnlyList<long>> RoutedTokens { get; }

    /// <summary>
    /// Runs one completion. Throws <see cref="GenerationRefusedException"/> before yielding anything when the request
    /// cannot be taken. Cancelling <paramref name="cancellationToken"/> (the client went away, the request timed out)
    /// ends it and frees its place in the batch at once.
    /// </summary>
    IAsyncEnumerable<GenerationEvent> GenerateAsync(CompletionRequest request, CancellationToken cancellationToken);
}
