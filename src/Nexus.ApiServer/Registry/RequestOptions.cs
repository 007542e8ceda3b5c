using System.Text.Json.Nodes;

namespace Nexus.ApiServer.Registry;

/// <summary>A successful answer: the HTTP status and its body (an object, a list or a Status).</summary>
internal sealed record ApiResponse(int Code, JsonObject Body);

/// <summary>The list parameters the registry honours.</summary>
internal sealed record ListOptions(
    string? LabelSelector = null,
    string? FieldSelector = null,
    int Limit = 0,
    string? Continue = null,
    string? ResourceVersion = null,
    string? ResourceVersionMatch = null);

/// <summary>metav1.DeleteOptions as the registry honours them.</summary>
internal sealed record DeleteOptions(
    string? PropagationPolicy = null,
    bool? OrphanDependents = null,
    string? PreconditionUid = null,
    string? PreconditionResourceVersion = null,
    bool DryRun = false)
{
    public static DeleteOptions FromJson(JsonObject? body, DeleteOptions fromQuery)
    {
        if (body is null)
        {
            return fromQuery;
        }

        return new DeleteOptions(
            body["propagationPolicy"]?.GetValue<string>() ?? fromQuery.PropagationPolicy,
            body["orphanDependents"] is JsonValue orphan && orphan.TryGetValue<bool>(out var o) ? o : fromQuery.OrphanDependents,
            body["preconditions"]?["uid"]?.GetValue<string>() ?? fromQuery.PreconditionUid,
            body["preconditions"]?["resourceVersion"]?.GetValue<string>() ?? fromQuery.PreconditionResourceVersion,
            fromQuery.DryRun || body["dryRun"] is JsonArray { Count: > 0 });
    }
}

/// <summary>The patch formats of the PATCH verb, by Content-Type.</summary>
internal enum PatchFormat
{
    Merge,
    Json,
    StrategicMerge,
    Apply,
}
