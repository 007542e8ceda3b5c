using System.Text.Json.Serialization;

namespace Nexus.Serving.Completions;

/// <summary>Why a completion stopped, as OpenAI's <c>finish_reason</c> says it: the engine reports it and the server
/// writes it as it is.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FinishReason>))]
public enum FinishReason
{
    /// <summary>A stop string or the end-of-sequence token ended the text.</summary>
    [JsonStringEnumMemberName("stop")] Stop,
    /// <summary>max_tokens, or the model's context, ended the text.</summary>
    [JsonStringEnumMemberName("length")] Length,
}

/// <summary>The non-streaming answer to <c>POST /v1/completions</c>, an OpenAI <c>text_completion</c> object.</summary>
/// <param name="Id">Request id, <c>cmpl-</c> followed by a unique suffix.</param>
/// <param name="Created">Unix time in seconds when the request was accepted.</param>
/// <param name="Model">The model that answered.</param>
/// <param name="Choices">One choice (n is always 1).</param>
/// <param name="Usage">Token counts.</param>
public sealed record CompletionResponse(string Id, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, Usage Usage)
{
    /// <summary>Always <c>text_completion</c>.</summary>
    public string Object => "text_completion";
}

/// <summary>One generated text; <c>logprobs</c> is always null (not supported).</summary>
public sealed record CompletionChoice(string Text, int Index, FinishReason FinishReason)
{
    /// <summary>Always null: log-probabilities are not returned.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? Logprobs => null;
}

/// <summary>Token counts of a completion.</summary>
public sealed record Usage(int PromptTokens, int CompletionTokens)
{
    /// <summary>Prompt plus completion tokens.</summary>
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>One server-sent event of a streamed completion: the text generated since the last chunk. The last chunk
/// carries the finish reason; <see cref="ServingJson.DoneEvent"/> follows it.</summary>
/// <param name="Id">The same id on every chunk of one request.</param>
/// <param name="Created">The same time on every chunk of one request, Unix seconds.</param>
/// <param name="Model">The model that answered.</param>
/// <param name="Choices">One choice with the new text.</param>
public sealed record CompletionChunk(string Id, long Created, string Model, IReadOnlyList<CompletionChunkChoice> Choices)
{
    /// <summary>Always <c>text_completion</c>, as OpenAI's streamed completions use.</summary>
    public string Object => "text_completion";
}

/// <summary>New text in a chunk; <c>finish_reason</c> is null until the last chunk.</summary>
public sealed record CompletionChunkChoice(
    string Text,
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] FinishReason? FinishReason)
{
    /// <summary>Always null: log-probabilities are not returned.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? Logprobs => null;
}

/// <summary>The answer to <c>GET /v1/models</c>: an OpenAI <c>list</c> of models.</summary>
public sealed record ModelList(IReadOnlyList<ModelCard> Data)
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object => "list";
}

/// <summary>One served model.</summary>
/// <param name="Id">The name clients pass as <c>model</c>.</param>
/// <param name="Created">Unix seconds when the model revision was built.</param>
/// <param name="OwnedBy">Who serves it (<c>nexus</c>).</param>
public sealed record ModelCard(string Id, long Created, string OwnedBy)
{
    /// <summary>Always <c>model</c>.</summary>
    public string Object => "model";
}
