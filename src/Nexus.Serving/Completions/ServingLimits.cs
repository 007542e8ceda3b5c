namespace Nexus.Serving.Completions;

/// <summary>What one completions request may ask for, checked by <see cref="CompletionRequests.Parse(string?, ServingLimits)"/>
/// before anything reaches the engine. Prompt length is counted in characters (UTF-16 code units) here; the engine
/// applies the token limits (prompt plus completion within the model's context) once it has tokenized.</summary>
/// <param name="MaxPromptChars">Longest prompt accepted, in characters.</param>
/// <param name="MaxTokens">Largest <c>max_tokens</c> accepted, in tokens.</param>
/// <param name="MaxBodyBytes">Largest request body accepted, in bytes (answered 413 above it).</param>
/// <param name="MaxStopStrings">Most <c>stop</c> strings accepted (OpenAI allows 4).</param>
public sealed record ServingLimits(
    int MaxPromptChars = 32_768,
    int MaxTokens = 4_096,
    int MaxBodyBytes = 1_048_576,
    int MaxStopStrings = 4)
{
    /// <summary>The limits a server uses unless told otherwise.</summary>
    public static ServingLimits Default { get; } = new();

    /// <summary>Throws when a limit is not positive, naming the limit; run once at startup, never per request.</summary>
    public ServingLimits Validate()
    {
        Require(MaxPromptChars, nameof(MaxPromptChars));
        Require(MaxTokens, nameof(MaxTokens));
        Require(MaxBodyBytes, nameof(MaxBodyBytes));
        Require(MaxStopStrings, nameof(MaxStopStrings));
        return this;
    }

    private static void Require(int value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"ServingLimits.{name} must be at least 1; got {value}.");
    }
}
