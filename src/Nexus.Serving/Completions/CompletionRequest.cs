namespace Nexus.Serving.Completions;

/// <summary>A validated <c>POST /v1/completions</c> request with the defaults applied (max_tokens 16, temperature 1,
/// top_p 1, no stop strings, no seed, not streamed). Only <see cref="CompletionRequests"/> builds one, so every value
/// here is within <see cref="ServingLimits"/>.</summary>
/// <param name="Model">The model the client named, or null when it named none (the server answers with its own).</param>
/// <param name="Prompt">The prompt text, non-empty.</param>
/// <param name="MaxTokens">Most tokens to generate, at least 1.</param>
/// <param name="Temperature">Sampling temperature in [0, 2]; 0 is greedy.</param>
/// <param name="TopP">Nucleus sampling mass in (0, 1].</param>
/// <param name="Stop">Strings that end the completion (not included in the text); empty for none.</param>
/// <param name="Seed">Sampling seed, or null for a random one.</param>
/// <param name="Stream">Whether to answer with server-sent events.</param>
public sealed record CompletionRequest(
    string? Model,
    string Prompt,
    int MaxTokens,
    double Temperature,
    double TopP,
    IReadOnlyList<string> Stop,
    long? Seed,
    bool Stream)
{
    /// <summary>max_tokens when the request leaves it out.</summary>
    public const int DefaultMaxTokens = 16;

    /// <summary>temperature when the request leaves it out.</summary>
    public const double DefaultTemperature = 1.0;

    /// <summary>top_p when the request leaves it out.</summary>
    public const double DefaultTopP = 1.0;
}
