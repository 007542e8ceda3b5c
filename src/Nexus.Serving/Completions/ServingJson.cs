using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nexus.Serving.Completions;

/// <summary>Writes the response types in OpenAI's JSON shape (snake_case names, nulls written where OpenAI writes them)
/// and frames streamed chunks as server-sent events.</summary>
public static class ServingJson
{
    /// <summary>The event that ends a stream.</summary>
    public const string DoneEvent = "data: [DONE]\n\n";

    /// <summary>A non-streaming completion as JSON.</summary>
    public static string Serialize(CompletionResponse response) => JsonSerializer.Serialize(response, ServingJsonContext.Default.CompletionResponse);

    /// <summary>One chunk as JSON (without the event framing).</summary>
    public static string Serialize(CompletionChunk chunk) => JsonSerializer.Serialize(chunk, ServingJsonContext.Default.CompletionChunk);

    /// <summary>The model list as JSON.</summary>
    public static string Serialize(ModelList models) => JsonSerializer.Serialize(models, ServingJsonContext.Default.ModelList);

    /// <summary>An error in the OpenAI error shape.</summary>
    public static string Serialize(ServingError error) => JsonSerializer.Serialize(error.ToResponse(), ServingJsonContext.Default.ErrorResponse);

    /// <summary>One chunk framed as a server-sent event: <c>data: {json}</c> and a blank line.</summary>
    public static string Event(CompletionChunk chunk) => $"data: {Serialize(chunk)}\n\n";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(CompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class ServingJsonContext : JsonSerializerContext;
