using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Nexus.Serving.Completions;

/// <summary>The outcome of parsing a completions request: a <see cref="CompletionRequest"/> or a <see cref="ServingError"/>, never both.</summary>
public sealed class CompletionParseResult
{
    private CompletionParseResult(CompletionRequest? request, ServingError? error) => (Request, Error) = (request, error);

    /// <summary>The validated request, when <see cref="IsValid"/>.</summary>
    public CompletionRequest? Request { get; }

    /// <summary>Why the request was refused, when not <see cref="IsValid"/>.</summary>
    public ServingError? Error { get; }

    /// <summary>True when the request parsed and passed every check.</summary>
    [MemberNotNullWhen(true, nameof(Request))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => Request is not null;

    internal static CompletionParseResult Valid(CompletionRequest request) => new(request, null);

    internal static CompletionParseResult Invalid(ServingError error) => new(null, error);
}

/// <summary>Parses and validates <c>POST /v1/completions</c> bodies. Never throws for any input: every refusal is a
/// <see cref="ServingError"/> naming the field and the fix.</summary>
/// <remarks>
/// Unknown fields are ignored, as OpenAI does (clients send <c>logprobs</c>, <c>echo</c>, <c>presence_penalty</c> and
/// the like); a known field of the wrong type is refused. JSON null for an optional field means its default. A field
/// given twice is refused rather than letting the last one silently win.
/// </remarks>
public static class CompletionRequests
{
    // Deep enough for any real request; deeper nesting (even in an ignored field) is refused as invalid JSON.
    private const int MaxDepth = 16;

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Parses a body given as text (measured as UTF-8 against <see cref="ServingLimits.MaxBodyBytes"/>).</summary>
    public static CompletionParseResult Parse(string? json, ServingLimits limits)
    {
        if (json is null)
            return CompletionParseResult.Invalid(EmptyBody());
        if (Encoding.UTF8.GetByteCount(json) > limits.MaxBodyBytes)
            return CompletionParseResult.Invalid(TooLarge(limits));
        return Parse(Encoding.UTF8.GetBytes(json), limits);
    }

    /// <summary>Parses a UTF-8 body as received.</summary>
    public static CompletionParseResult Parse(ReadOnlySpan<byte> utf8Json, ServingLimits limits)
    {
        if (utf8Json.Length > limits.MaxBodyBytes)
            return CompletionParseResult.Invalid(TooLarge(limits));
        if (utf8Json.StartsWith("\uFEFF"u8))
            utf8Json = utf8Json[3..];
        if (utf8Json.Trim(" \t\r\n"u8).IsEmpty)
            return CompletionParseResult.Invalid(EmptyBody());
        try
        {
            var reader = new Utf8JsonReader(utf8Json, ReaderOptions);
            return ReadBody(ref reader, limits);
        }
        catch (JsonException e)
        {
            return CompletionParseResult.Invalid(InvalidJson(e));
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader.GetString refuses strings that are not valid UTF-8.
            return CompletionParseResult.Invalid(ServingError.Invalid(null, ErrorCodes.InvalidJson,
                "The request body is not valid UTF-8 JSON. Send the body encoded as UTF-8 with Content-Type: application/json."));
        }
    }

    private static CompletionParseResult ReadBody(ref Utf8JsonReader reader, ServingLimits limits)
    {
        if (!reader.Read())
            return CompletionParseResult.Invalid(EmptyBody());
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            // Read to the end first, so a body that is not JSON at all is reported as invalid JSON.
            var first = reader.TokenType;
            reader.Skip();
            while (reader.Read()) { }
            return CompletionParseResult.Invalid(ServingError.Invalid(null, ErrorCodes.NotAnObject,
                $"The request body must be a JSON object; got {Describe(first)}. Send {{\"prompt\": \"...\", \"max_tokens\": 16}}."));
        }

        var fields = new Fields();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        ServingError? firstError = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (!seen.Add(name))
            {
                firstError ??= ServingError.Invalid(name, ErrorCodes.DuplicateField,
                    $"The field '{name}' appears more than once. Send each field once.");
                reader.Skip();
                continue;
            }
            // Keep reading after an error so that a malformed tail is still reported as invalid JSON first.
            var error = ReadField(name, ref reader, fields, limits);
            firstError ??= error;
        }
        // Anything after the object other than whitespace makes Read throw.
        while (reader.Read()) { }

        if (firstError is not null)
            return CompletionParseResult.Invalid(firstError);
        return Validate(fields, limits);
    }

    private sealed class Fields
    {
        public string? Model;
        public string? Prompt;
        public int? MaxTokens;
        public double? Temperature;
        public double? TopP;
        public List<string>? Stop;
        public long? Seed;
        public bool? Stream;
    }

    private static ServingError? ReadField(string name, ref Utf8JsonReader reader, Fields fields, ServingLimits limits)
    {
        switch (name)
        {
            case "model":
                return ReadOptionalString(name, ref reader, out fields.Model, "Send model as the served model's name (GET /v1/models), or leave it out.");
            case "user":
                return ReadOptionalString(name, ref reader, out _, "Send user as a string, or leave it out (it is ignored).");
            case "prompt":
                return ReadPrompt(ref reader, fields);
            case "max_tokens":
                return ReadMaxTokens(ref reader, fields, limits);
            case "temperature":
                return ReadNumber(name, ref reader, out fields.Temperature);
            case "top_p":
                return ReadNumber(name, ref reader, out fields.TopP);
            case "n":
                return ReadN(ref reader);
            case "seed":
                return ReadSeed(ref reader, fields);
            case "stream":
                return ReadStream(ref reader, fields);
            case "stop":
                return ReadStop(ref reader, fields, limits);
            default:
                reader.Skip();
                return null;
        }
    }

    private static ServingError? ReadOptionalString(string name, ref Utf8JsonReader reader, out string? value, string fix)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.String)
            return WrongType(name, "a string", ref reader, fix);
        value = reader.GetString();
        return null;
    }

    private static ServingError? ReadPrompt(ref Utf8JsonReader reader, Fields fields)
    {
        const string fix = "Send the prompt as a string, or as an array holding exactly one string.";
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                fields.Prompt = reader.GetString();
                return null;
            case JsonTokenType.StartArray:
                var items = 0;
                string? prompt = null;
                var allStrings = true;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items++;
                    if (reader.TokenType == JsonTokenType.String)
                        prompt = reader.GetString();
                    else
                        allStrings = false;
                    reader.Skip();
                }
                if (!allStrings)
                    return ServingError.Invalid("prompt", ErrorCodes.InvalidType,
                        $"prompt must hold strings; token-id prompts and nested arrays are not supported. {fix}");
                if (items != 1)
                    return ServingError.Invalid("prompt", ErrorCodes.InvalidValue,
                        $"prompt as an array must hold exactly one string (one completion per request); got {items}. {fix}");
                fields.Prompt = prompt;
                return null;
            default:
                return WrongType("prompt", "a string or an array of one string", ref reader, fix);
        }
    }

    private static ServingError? ReadMaxTokens(ref Utf8JsonReader reader, Fields fields, ServingLimits limits)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        var fix = $"Send max_tokens as a whole number from 1 to {limits.MaxTokens}.";
        if (reader.TokenType != JsonTokenType.Number)
            return WrongType("max_tokens", "an integer", ref reader, fix);
        if (reader.TryGetInt64(out var value))
        {
            if (value < 1)
                return ServingError.Invalid("max_tokens", ErrorCodes.InvalidValue, $"max_tokens must be at least 1; got {value}. {fix}");
            if (value > limits.MaxTokens)
                return ServingError.Invalid("max_tokens", ErrorCodes.InvalidValue,
                    $"max_tokens {value} is above this server's limit of {limits.MaxTokens}. {fix}");
            fields.MaxTokens = (int)value;
            return null;
        }
        var text = RawNumber(ref reader);
        // A whole number too big for 64 bits (or written with an exponent) is still a size, so name the limit.
        if (reader.TryGetDouble(out var d) && double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) >= long.MaxValue)
            return ServingError.Invalid("max_tokens", ErrorCodes.InvalidValue,
                d > 0 ? $"max_tokens {text} is above this server's limit of {limits.MaxTokens}. {fix}" : $"max_tokens must be at least 1; got {text}. {fix}");
        return ServingError.Invalid("max_tokens", ErrorCodes.InvalidType, $"max_tokens must be an integer; got {text}. {fix}");
    }

    private static ServingError? ReadNumber(string name, ref Utf8JsonReader reader, out double? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.Number)
            return WrongType(name, "a number", ref reader, RangeFix(name));
        if (!reader.TryGetDouble(out var d) || !double.IsFinite(d))
            return ServingError.Invalid(name, ErrorCodes.InvalidValue, $"{name} {RawNumber(ref reader)} is not a finite number. {RangeFix(name)}");
        value = d;
        return null;
    }

    private static ServingError? ReadN(ref Utf8JsonReader reader)
    {
        const string fix = "Send n as 1 or leave it out; send separate requests for more completions.";
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.Number)
            return WrongType("n", "an integer", ref reader, fix);
        if (reader.TryGetInt64(out var n) && n == 1)
            return null;
        return ServingError.Invalid("n", ErrorCodes.InvalidValue, $"n must be 1 (one completion per request); got {RawNumber(ref reader)}. {fix}");
    }

    private static ServingError? ReadSeed(ref Utf8JsonReader reader, Fields fields)
    {
        const string fix = "Send seed as a whole number that fits in 64 bits, or leave it out.";
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.Number)
            return WrongType("seed", "an integer", ref reader, fix);
        if (!reader.TryGetInt64(out var seed))
            return ServingError.Invalid("seed", ErrorCodes.InvalidType, $"seed must be a 64-bit integer; got {RawNumber(ref reader)}. {fix}");
        fields.Seed = seed;
        return null;
    }

    private static ServingError? ReadStream(ref Utf8JsonReader reader, Fields fields)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.True or JsonTokenType.False:
                fields.Stream = reader.GetBoolean();
                return null;
            default:
                return WrongType("stream", "a boolean", ref reader, "Send stream as true or false.");
        }
    }

    private static ServingError? ReadStop(ref Utf8JsonReader reader, Fields fields, ServingLimits limits)
    {
        var fix = $"Send stop as a non-empty string or an array of up to {limits.MaxStopStrings} non-empty strings.";
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                var single = reader.GetString()!;
                if (single.Length == 0)
                    return ServingError.Invalid("stop", ErrorCodes.InvalidValue, $"stop must not be an empty string. {fix}");
                fields.Stop = [single];
                return null;
            case JsonTokenType.StartArray:
                var stops = new List<string>();
                ServingError? error = null;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String)
                        error ??= ServingError.Invalid("stop", ErrorCodes.InvalidType,
                            $"stop[{stops.Count}] must be a string; got {Describe(reader.TokenType)}. {fix}");
                    else if (reader.GetString() is { Length: > 0 } stop)
                        stops.Add(stop);
                    else
                        error ??= ServingError.Invalid("stop", ErrorCodes.InvalidValue, $"stop[{stops.Count}] is an empty string. {fix}");
                    reader.Skip();
                }
                if (error is not null)
                    return error;
                if (stops.Count > limits.MaxStopStrings)
                    return ServingError.Invalid("stop", ErrorCodes.InvalidValue,
                        $"stop holds {stops.Count} strings; at most {limits.MaxStopStrings} are allowed. {fix}");
                fields.Stop = stops;
                return null;
            default:
                return WrongType("stop", "a string or an array of strings", ref reader, fix);
        }
    }

    private static CompletionParseResult Validate(Fields fields, ServingLimits limits)
    {
        if (fields.Prompt is null)
            return CompletionParseResult.Invalid(ServingError.Invalid("prompt", ErrorCodes.MissingField,
                "prompt is required. Send \"prompt\": \"your text\"."));
        if (fields.Prompt.Length == 0)
            return CompletionParseResult.Invalid(ServingError.Invalid("prompt", ErrorCodes.InvalidValue,
                "prompt must not be empty. Send at least one character of text."));
        if (fields.Prompt.Length > limits.MaxPromptChars)
            return CompletionParseResult.Invalid(ServingError.Invalid("prompt", ErrorCodes.InvalidValue,
                $"prompt is {fields.Prompt.Length} characters; this server accepts at most {limits.MaxPromptChars}. Shorten the prompt."));
        if (fields.Temperature is { } t && t is < 0 or > 2)
            return CompletionParseResult.Invalid(ServingError.Invalid("temperature", ErrorCodes.InvalidValue,
                $"temperature must be between 0 and 2; got {t.ToString(System.Globalization.CultureInfo.InvariantCulture)}. {RangeFix("temperature")}"));
        if (fields.TopP is { } p && (p <= 0 || p > 1))
            return CompletionParseResult.Invalid(ServingError.Invalid("top_p", ErrorCodes.InvalidValue,
                $"top_p must be greater than 0 and at most 1; got {p.ToString(System.Globalization.CultureInfo.InvariantCulture)}. {RangeFix("top_p")}"));

        return CompletionParseResult.Valid(new CompletionRequest(
            Model: fields.Model,
            Prompt: fields.Prompt,
            MaxTokens: fields.MaxTokens ?? CompletionRequest.DefaultMaxTokens,
            Temperature: fields.Temperature ?? CompletionRequest.DefaultTemperature,
            TopP: fields.TopP ?? CompletionRequest.DefaultTopP,
            Stop: fields.Stop ?? [],
            Seed: fields.Seed,
            Stream: fields.Stream ?? false));
    }

    private static string RangeFix(string name) => name switch
    {
        "temperature" => "Send temperature as a number from 0 (greedy) to 2.",
        _ => "Send top_p as a number greater than 0 and at most 1.",
    };

    private static ServingError WrongType(string name, string expected, ref Utf8JsonReader reader, string fix)
    {
        var got = Describe(reader.TokenType);
        reader.Skip();
        return ServingError.Invalid(name, ErrorCodes.InvalidType,
            $"{name} must be {expected}; got {got}. {fix}");
    }

    private static string RawNumber(ref Utf8JsonReader reader)
    {
        var raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray();
        var text = Encoding.UTF8.GetString(raw);
        return text.Length > 40 ? text[..40] + "…" : text;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "nothing",
    };

    private static ServingError EmptyBody() => ServingError.Invalid(null, ErrorCodes.InvalidJson,
        "The request body is empty. Send a JSON object such as {\"prompt\": \"...\", \"max_tokens\": 16}.");

    private static ServingError TooLarge(ServingLimits limits) => new(413,
        $"The request body is larger than this server's limit of {limits.MaxBodyBytes} bytes. Shorten the prompt.",
        ErrorTypes.InvalidRequest, null, ErrorCodes.BodyTooLarge);

    private static ServingError InvalidJson(JsonException e)
    {
        // The reader's own message ends with "LineNumber: 0 | BytePositionInLine: 7."; state the position once, 1-based.
        var reason = e.Message;
        var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut > 0)
            reason = reason[..cut];
        // Advice meant for the programmer holding the reader, not for the client.
        reason = reason.Replace(" Change the reader options.", "", StringComparison.Ordinal);
        var where = e.LineNumber is { } line && e.BytePositionInLine is { } column
            ? $" at line {line + 1}, byte {column + 1}"
            : "";
        return ServingError.Invalid(null, ErrorCodes.InvalidJson,
            $"The request body is not valid JSON{where}: {reason.TrimEnd('.')}. Send a JSON object such as {{\"prompt\": \"...\", \"max_tokens\": 16}}.");
    }
}
