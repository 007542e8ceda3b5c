namespace Nexus.Serving.Engine;

/// <summary>How a <see cref="BatchingEngine"/> schedules: its batch, its context, its queue.</summary>
public sealed record EngineOptions
{
    /// <summary>The id <c>GET /v1/models</c> lists; <see cref="BatchingEngine.LoadAsync"/> uses the folder's name when null.</summary>
    public string? ModelId { get; init; }

    /// <summary>Sequences decoded together at most: the KV cache's slots.</summary>
    public int MaxBatchSize { get; init; } = 8;

    /// <summary>Tokens one sequence may hold (prompt plus completion); null for the model's
    /// <c>max_position_embeddings</c>, and never more than that.</summary>
    public int? ContextTokens { get; init; }

    /// <summary>Requests admitted and waiting for a slot at most; one more is refused with 429.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>What a 429 tells the client to wait before retrying.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Torch intra-op threads (process-wide); 0 leaves torch's default.</summary>
    public int Threads { get; init; }

    /// <summary>Throws naming the first option out of range.</summary>
    public void Validate()
    {
        if (ModelId is { Length: 0 }) throw new ArgumentException("EngineOptions.ModelId must not be empty; leave it null for the model folder's name.");
        if (MaxBatchSize < 1) throw new ArgumentException($"EngineOptions.MaxBatchSize must be at least 1 sequence (got {MaxBatchSize}).");
        if (ContextTokens is < 2) throw new ArgumentException($"EngineOptions.ContextTokens must be at least 2 tokens, or null for the model's context (got {ContextTokens}).");
        if (QueueCapacity < 1) throw new ArgumentException($"EngineOptions.QueueCapacity must be at least 1 request (got {QueueCapacity}).");
        if (RetryAfter < TimeSpan.Zero) throw new ArgumentException($"EngineOptions.RetryAfter must not be negative (got {RetryAfter}).");
        if (Threads < 0) throw new ArgumentException($"EngineOptions.Threads must be 0 (torch's default) or a positive thread count (got {Threads}).");
    }
}
