using System.Net;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Registry;

/// <summary>A request the API server refuses, carrying the metav1.Status body it answers with.</summary>
internal sealed class ApiException(int code, JsonObject status) : Exception(ObjectStatusMessage(status))
{
    public int Code { get; } = code;

    public JsonObject Status { get; } = status;

    /// <summary>Extra response headers (Retry-After on 429).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    private static string ObjectStatusMessage(JsonObject status) => status["message"]?.GetValue<string>() ?? "API error";
}

/// <summary>One field error, as k8s.io/apimachinery's field.Error: the path, the error type ("Invalid value",
/// "Required value", "Forbidden", ...) and the detail that follows it.</summary>
internal sealed record FieldViolation(string Field, string Type, string Detail)
{
    /// <summary>The cause's message, the field error's text without its path.</summary>
    public string Body => Detail.Length == 0 ? Type : $"{Type}: {Detail}";

    /// <summary>metav1.CauseType for the error type, as the API server maps them.</summary>
    public string Reason => Type switch
    {
        "Required value" => "FieldValueRequired",
        "Unsupported value" => "FieldValueNotSupported",
        "Forbidden" => "FieldValueForbidden",
        "Too long" => "FieldValueTooLong",
        "Too many" => "FieldValueTooMany",
        "Duplicate value" => "FieldValueDuplicate",
        "Not found" => "FieldValueNotFound",
        "Internal error" => "InternalError",
        _ => "FieldValueInvalid",
    };

    public override string ToString() => Field.Length == 0 ? Body : $"{Field}: {Body}";

    public static FieldViolation Invalid(string field, string value, string detail) => new(field, "Invalid value", $"{value}: {detail}");

    public static FieldViolation Required(string field, string detail = "") => new(field, "Required value", detail);

    public static FieldViolation Forbidden(string field, string detail) => new(field, "Forbidden", detail);

    public static FieldViolation Immutable(string field, string value) => Invalid(field, value, "field is immutable");

    private static readonly string[] KnownTypes =
    [
        "Required value", "Invalid value", "Unsupported value", "Forbidden", "Too long", "Too many",
        "Duplicate value", "Not found", "Internal error",
    ];

    /// <summary>Reads a field error back from its text (<c>spec.x: Invalid value: 9: must be less than 8</c>), the
    /// shape admission hooks return.</summary>
    public static FieldViolation Parse(string text)
    {
        foreach (var type in KnownTypes)
        {
            var at = text.IndexOf(": " + type, StringComparison.Ordinal);
            var field = at >= 0 ? text[..at] : text.StartsWith(type, StringComparison.Ordinal) ? string.Empty : null;
            if (field is null)
            {
                continue;
            }

            var rest = text[(field.Length == 0 ? type.Length : at + 2 + type.Length)..];
            return new FieldViolation(field, type, rest.StartsWith(": ", StringComparison.Ordinal) ? rest[2..] : rest.TrimStart(':', ' '));
        }

        var colon = text.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0
            ? new FieldViolation(text[..colon], "Invalid value", text[(colon + 2)..])
            : new FieldViolation(string.Empty, "Invalid value", text);
    }
}

/// <summary>The metav1.Status failures the real API server answers with, message for message.</summary>
internal static class ApiErrors
{
    public static ApiException NotFound(ResourceDefinition definition, string name) =>
        Make(HttpStatusCode.NotFound, "NotFound", $"{definition.QualifiedResource} \"{name}\" not found", Details(definition, name));

    public static ApiException NamespaceNotFound(string name) =>
        Make(HttpStatusCode.NotFound, "NotFound", $"namespaces \"{name}\" not found", new JsonObject { ["name"] = name, ["kind"] = "namespaces" });

    public static ApiException PathNotFound() =>
        Make(HttpStatusCode.NotFound, "NotFound", "the server could not find the requested resource", new JsonObject());

    public static ApiException AlreadyExists(ResourceDefinition definition, string name) =>
        Make(HttpStatusCode.Conflict, "AlreadyExists", $"{definition.QualifiedResource} \"{name}\" already exists", Details(definition, name));

    public static ApiException Conflict(ResourceDefinition definition, string name, string reason) =>
        Make(
            HttpStatusCode.Conflict,
            "Conflict",
            $"Operation cannot be fulfilled on {definition.QualifiedResource} \"{name}\": {reason}",
            Details(definition, name));

    public const string StaleObject = "the object has been modified; please apply your changes to the latest version and try again";

    public static ApiException Invalid(ResourceDefinition definition, string name, IReadOnlyList<FieldViolation> violations)
    {
        var summary = violations.Count == 1 ? violations[0].ToString() : $"[{string.Join(", ", violations)}]";
        var causes = new JsonArray();
        foreach (var violation in violations)
        {
            causes.Add(new JsonObject { ["reason"] = violation.Reason, ["message"] = violation.Body, ["field"] = violation.Field });
        }

        var details = new JsonObject { ["name"] = name, ["group"] = definition.Group, ["kind"] = definition.Kind, ["causes"] = causes };
        return Make(HttpStatusCode.UnprocessableEntity, "Invalid", $"{definition.QualifiedKind} \"{name}\" is invalid: {summary}", details);
    }

    public static ApiException Forbidden(ResourceDefinition definition, string name, string reason) =>
        Make(HttpStatusCode.Forbidden, "Forbidden", $"{definition.QualifiedResource} \"{name}\" is forbidden: {reason}", Details(definition, name));

    public static ApiException BadRequest(string message) => Make(HttpStatusCode.BadRequest, "BadRequest", message, null);

    public static ApiException Expired(string message) => Make(HttpStatusCode.Gone, "Expired", message, null);

    public static ApiException TooOldResourceVersion(long requested, long compacted) =>
        Expired($"too old resource version: {requested} ({compacted})");

    public static ApiException MethodNotSupported(ResourceDefinition? definition, string method) =>
        Make(
            HttpStatusCode.MethodNotAllowed,
            "MethodNotAllowed",
            $"{method} is not supported on resources of kind \"{definition?.QualifiedResource ?? "unknown"}\"",
            null);

    public static ApiException UnsupportedMediaType(string contentType, IEnumerable<string> accepted, string? explanation = null) =>
        Make(
            HttpStatusCode.UnsupportedMediaType,
            "UnsupportedMediaType",
            $"{(explanation is null ? string.Empty : explanation + "; ")}the body of the request was in an unknown format ({contentType}) - accepted media types include: {string.Join(", ", accepted)}",
            null);

    /// <summary>A JSON patch whose test failed or whose path does not apply: the API server answers 422 with no
    /// field causes.</summary>
    public static ApiException PatchFailed(string message) => Make(HttpStatusCode.UnprocessableEntity, "Invalid", message, null);

    public static ApiException Injected(int code, string message)
    {
        var reason = code switch
        {
            429 => "TooManyRequests",
            409 => "Conflict",
            410 => "Expired",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            404 => "NotFound",
            403 => "Forbidden",
            401 => "Unauthorized",
            400 => "BadRequest",
            _ => "InternalError",
        };
        return Make((HttpStatusCode)code, reason, message, null);
    }

    public static JsonObject StatusObject(string status, int code, string? reason, string message, JsonObject? details)
    {
        var result = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = status,
            ["message"] = message,
        };
        if (reason is not null)
        {
            result["reason"] = reason;
        }

        if (details is not null)
        {
            result["details"] = details;
        }

        result["code"] = code;
        return result;
    }

    private static ApiException Make(HttpStatusCode code, string reason, string message, JsonObject? details) =>
        new((int)code, StatusObject("Failure", (int)code, reason, message, details));

    private static JsonObject Details(ResourceDefinition definition, string name)
    {
        var details = new JsonObject { ["name"] = name };
        if (definition.Group.Length > 0)
        {
            details["group"] = definition.Group;
        }

        details["kind"] = definition.Plural;
        return details;
    }
}
