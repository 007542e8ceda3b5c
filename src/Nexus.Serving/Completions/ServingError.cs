using System.Text.Json.Serialization;

namespace Nexus.Serving.Completions;

/// <summary>A request the server refuses: the HTTP status and the OpenAI error fields. <see cref="Param"/> names the
/// request field at fault (null when the body as a whole is), and <see cref="Message"/> names it and says the fix.</summary>
/// <param name="StatusCode">HTTP status: 400, or 413 for a body over <see cref="ServingLimits.MaxBodyBytes"/>.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
/// <param name="Type">OpenAI error type, <c>invalid_request_error</c> for everything the parser refuses.</param>
/// <param name="Param">The field at fault, or null.</param>
/// <param name="Code">A stable machine-readable reason (see <see cref="ErrorCodes"/>).</param>
public sealed record ServingError(int StatusCode, string Message, string Type, string? Param, string? Code)
{
    /// <summary>The OpenAI body for this error: <c>{"error":{"message","type","param","code"}}</c>.</summary>
    public ErrorResponse ToResponse() => new(new ErrorBody(Message, Type, Param, Code));

    internal static ServingError Invalid(string? param, string code, string message) =>
        new(400, message, ErrorTypes.InvalidRequest, param, code);
}

/// <summary>OpenAI error types used by the server.</summary>
public static class ErrorTypes
{
    /// <summary>The client sent something the server will not take; fix the request and retry.</summary>
    public const string InvalidRequest = "invalid_request_error";
}

/// <summary>The <c>code</c> values the request parser reports.</summary>
public static class ErrorCodes
{
    /// <summary>The body does not parse as JSON (or is not UTF-8).</summary>
    public const string InvalidJson = "invalid_json";
    /// <summary>The body is JSON but not an object.</summary>
    public const string NotAnObject = "invalid_body";
    /// <summary>The body is larger than <see cref="ServingLimits.MaxBodyBytes"/>.</summary>
    public const string BodyTooLarge = "request_too_large";
    /// <summary>A field appears twice in the object.</summary>
    public const string DuplicateField = "duplicate_field";
    /// <summary>A required field is absent or null.</summary>
    public const string MissingField = "missing_required_parameter";
    /// <summary>A known field has the wrong JSON type.</summary>
    public const string InvalidType = "invalid_type";
    /// <summary>A known field has the right type but a value outside what is allowed.</summary>
    public const string InvalidValue = "invalid_value";
}

/// <summary>The body of an error response: <c>{"error": {...}}</c>.</summary>
public sealed record ErrorResponse(ErrorBody Error);

/// <summary>The inner object of an OpenAI error; <c>param</c> and <c>code</c> are written as null when absent.</summary>
public sealed record ErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);
