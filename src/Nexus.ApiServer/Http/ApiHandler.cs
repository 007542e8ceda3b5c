using Nexus.Api.Validation;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Nexus.ApiServer.Faults;
using Nexus.ApiServer.Instrumentation;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;
using Nexus.ApiServer.Watch;

namespace Nexus.ApiServer.Http;

/// <summary>The one endpoint: classifies a request as the API server's RequestInfoFactory does, applies injected
/// faults, dispatches the verb to the registry or a watch stream, logs it, and writes the answer.</summary>
internal sealed partial class ApiHandler(
    ResourceRegistry registry,
    FaultInjector faults,
    RequestLog log,
    LocalApiServerOptions options,
    ILogger logger,
    Func<Uri> baseUri,
    CancellationToken shutdown)
{
    private static readonly string[] PatchMediaTypes =
        ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

    private static readonly byte[] NewLine = "\n"u8.ToArray();

    /// <summary>Serves one request; a client frozen by <see cref="FaultInjector.FreezeAfterWrites"/> gets 503 once its
    /// last allowed write has landed, and its writes are let in one at a time until then.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var path = context.Request.Path.Value ?? "/";
        var route = ApiRoute.Parse(path, registry.Catalog);
        var info = RequestInfo.Of(route, method, context.Request.Query);
        if (faults.FreezeOf(UserAgentOf(context)) is not { } freeze)
        {
            await ServeAsync(context, route, info);
            return;
        }

        var write = info.IsWrite;
        if (write)
        {
            try
            {
                await freeze.WriteGate.WaitAsync(context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        try
        {
            if (freeze.IsFrozen)
            {
                freeze.CountRefused();
                var refused = ApiErrors.Injected(503, $"injected fault: client {freeze.UserAgent} is frozen after its write {freeze.AllowedWrites} (a crashed process)");
                await RespondAsync(context, info, refused.Code, refused.Status, injected: true);
                return;
            }

            await ServeAsync(context, route, info);
            if (write && context.Response.StatusCode is >= 200 and < 300 && context.Request.Query["dryRun"].Count == 0)
            {
                freeze.CountWrite();
            }
        }
        finally
        {
            if (write)
            {
                freeze.WriteGate.Release();
            }
        }
    }

    private async Task ServeAsync(HttpContext context, ApiRoute route, RequestInfo info)
    {
        var method = context.Request.Method;
        var path = context.Request.Path.Value ?? "/";
        try
        {
            var delay = faults.TakeDelay(method, path);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, context.RequestAborted);
            }

            if (faults.TakeFailure(method, path) is { } failure)
            {
                var injected = ApiErrors.Injected(failure.StatusCode, $"injected fault: the server answered {failure.StatusCode} for {method} {path}");
                var headers = failure.RetryAfter is { } retry
                    ? new Dictionary<string, string> { ["Retry-After"] = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture) }
                    : null;
                await RespondAsync(context, info, injected.Code, injected.Status, injected: true, headers);
                return;
            }

            switch (route)
            {
                case ApiRoute.Discovery { Kind: "healthz" or "readyz" or "livez" }:
                    Record(info, context, 200, injected: false);
                    context.Response.ContentType = "text/plain";
                    await context.Response.WriteAsync("ok", context.RequestAborted);
                    return;
                case ApiRoute.Discovery discovery:
                    var document = Discovery.Document(discovery, registry.Catalog, baseUri()) ?? throw ApiErrors.PathNotFound();
                    await RespondAsync(context, info, 200, document);
                    return;
                case ApiRoute.Resource resource:
                    await ServeResourceAsync(context, resource, info);
                    return;
                default:
                    throw ApiErrors.PathNotFound();
            }
        }
        catch (ApiException e)
        {
            await RespondAsync(context, info, e.Code, e.Status, injected: false, e.Headers);
        }
        catch (JsonException e)
        {
            var error = ApiErrors.BadRequest($"the request body is not valid JSON: {e.Message}");
            await RespondAsync(context, info, error.Code, error.Status);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested || shutdown.IsCancellationRequested)
        {
            // The client went away (or the server is stopping); there is no one to answer.
        }
    }

    private async Task ServeResourceAsync(HttpContext context, ApiRoute.Resource route, RequestInfo info)
    {
        var definition = route.Definition;
        var query = context.Request.Query;
        if (route.Subresource is { } subresource && !(subresource == "status" && definition.HasStatusSubresource))
        {
            throw ApiErrors.PathNotFound();
        }

        var statusOnly = route.Subresource == "status";
        var dryRun = query["dryRun"].Count > 0;
        var ns = route.Namespace;
        ApiResponse response;
        switch (context.Request.Method)
        {
            case "GET" when route.Name is null && IsTrue(query["watch"]):
                await ServeWatchAsync(context, definition, ns, info);
                return;
            case "GET" when route.Name is null:
                response = registry.List(definition, ns, new ListOptions(
                    query["labelSelector"], query["fieldSelector"], ParseLimit(query["limit"]), query["continue"], query["resourceVersion"], query["resourceVersionMatch"]));
                break;
            case "GET":
                response = registry.Get(definition, ns, route.Name);
                break;
            case "POST" when route.Name is null && (ns is not null || !definition.Namespaced):
                var created = await ReadObjectAsync(context) ?? throw ApiErrors.BadRequest("the request body is empty");
                info.Name = ObjectJson.MetadataString(created, "name");
                response = registry.Create(definition, ns, created, dryRun);
                info.Name ??= ObjectJson.MetadataString(response.Body, "name");
                break;
            case "PUT" when route.Name is not null:
                response = registry.Update(definition, ns, route.Name, await ReadObjectAsync(context) ?? throw ApiErrors.BadRequest("the request body is empty"), statusOnly, dryRun);
                break;
            case "PATCH" when route.Name is not null:
                var format = PatchFormatOf(definition, context.Request.ContentType);
                var patch = await ReadTextAsync(context);
                response = registry.Patch(definition, ns, route.Name, format, patch, statusOnly, dryRun);
                break;
            case "DELETE":
                var fromQuery = new DeleteOptions(
                    query["propagationPolicy"].Count > 0 ? query["propagationPolicy"].ToString() : null,
                    query["orphanDependents"].Count > 0 ? IsTrue(query["orphanDependents"]) : null,
                    DryRun: dryRun);
                var deleteOptions = DeleteOptions.FromJson(await ReadObjectAsync(context), fromQuery);
                response = route.Name is null
                    ? registry.DeleteCollection(definition, ns, new ListOptions(query["labelSelector"], query["fieldSelector"]), deleteOptions)
                    : registry.Delete(definition, ns, route.Name, deleteOptions);
                break;
            default:
                throw ApiErrors.MethodNotSupported(definition, context.Request.Method);
        }

        await RespondAsync(context, info, response.Code, response.Body);
    }

    /// <summary>Streams watch events as newline-delimited JSON, flushing each line. A resourceVersion older than the
    /// compacted history is answered as the real server does: HTTP 200, one ERROR event carrying a 410 Status, end.</summary>
    private async Task ServeWatchAsync(HttpContext context, ResourceDefinition definition, string? ns, RequestInfo info)
    {
        var query = context.Request.Query;
        var labels = ResourceRegistry.ParseLabels(query["labelSelector"]);
        var fields = ResourceRegistry.ParseFields(definition, query["fieldSelector"]);
        var requested = ResourceRegistry.ParseResourceVersion(query["resourceVersion"]);
        var bookmarks = IsTrue(query["allowWatchBookmarks"]);
        var sendInitialEvents = IsTrue(query["sendInitialEvents"]);
        if (sendInitialEvents && (!bookmarks || query["resourceVersionMatch"] != "NotOlderThan"))
        {
            throw ApiErrors.Invalid(definition, string.Empty, [FieldViolation.Forbidden(
                "sendInitialEvents", "sendInitialEvents requires setting allowWatchBookmarks to true and resourceVersionMatch to NotOlderThan")]);
        }

        var timeout = query["timeoutSeconds"].Count > 0 && int.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : options.DefaultWatchTimeout;
        var watch = new WatchSubscription(definition, ns, labels, fields, bookmarks);

        // resourceVersion unset or "0" starts with synthetic ADDED events for the current state; sendInitialEvents
        // does the same (ending with a bookmark) whatever the version.
        var from = requested is null or 0 || sendInitialEvents ? (long?)null : requested;
        JsonObject? expired = null;
        try
        {
            registry.Store.Transact(tx =>
            {
                tx.Subscribe(watch, from, sendInitialEvents);
                return 0;
            });
        }
        catch (ApiException e) when (e.Code == 410)
        {
            expired = e.Status;
        }

        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        Record(info, context, 200, injected: false);
        if (expired is not null)
        {
            await WriteLineAsync(response, $"{{\"type\":\"ERROR\",\"object\":{expired.ToJsonString(ObjectJson.Compact)}}}", context.RequestAborted);
            return;
        }

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, shutdown);
        if (timeout is { } limit)
        {
            lifetime.CancelAfter(limit);
        }

        watch.OnAbort(context.Abort);
        LogWatchOpened(logger, definition.ToString(), ns ?? "*", from ?? 0);
        try
        {
            // Headers go out at once, as the real server flushes them when a watch starts: a client sees the watch
            // established before the first event.
            await response.StartAsync(lifetime.Token);
            await response.Body.FlushAsync(lifetime.Token);
            await foreach (var item in watch.Reader.ReadAllAsync(lifetime.Token))
            {
                await WriteLineAsync(response, Render(definition, item), lifetime.Token);
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // Timeout, client gone or server stopping: the stream simply ends.
        }
        catch (IOException)
        {
            // The connection was cut (DropWatches or the client).
        }
        finally
        {
            registry.Store.Unsubscribe(watch);
            LogWatchClosed(logger, definition.ToString(), ns ?? "*");
        }
    }

    private static string Render(ResourceDefinition definition, WatchItem item)
    {
        string payload;
        if (item.Type == "BOOKMARK")
        {
            var metadata = new JsonObject { ["resourceVersion"] = item.Revision.ToString(CultureInfo.InvariantCulture) };
            if (item.InitialEventsEnd)
            {
                metadata["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
            }

            payload = new JsonObject { ["kind"] = definition.Kind, ["apiVersion"] = definition.ApiVersion, ["metadata"] = metadata }.ToJsonString(ObjectJson.Compact);
        }
        else if (item.Object is { } stored)
        {
            payload = stored.Definition.ApiVersion == definition.ApiVersion
                ? stored.Json
                : ResourceRegistry.Present(definition, stored).ToJsonString(ObjectJson.Compact);
        }
        else
        {
            payload = item.Status?.ToJsonString(ObjectJson.Compact) ?? "null";
        }

        return $"{{\"type\":\"{item.Type}\",\"object\":{payload}}}";
    }

    private static async Task WriteLineAsync(HttpResponse response, string line, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken);
        await response.Body.WriteAsync(NewLine, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private async Task RespondAsync(
        HttpContext context, RequestInfo info, int code, JsonObject body, bool injected = false, IReadOnlyDictionary<string, string>? headers = null)
    {
        Record(info, context, code, injected);
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        await context.Response.WriteAsync(body.ToJsonString(ObjectJson.Compact), context.RequestAborted);
    }

    private void Record(RequestInfo info, HttpContext context, int code, bool injected)
    {
        var record = log.Add(sequence => new RequestRecord(
            sequence,
            DateTimeOffset.UtcNow,
            context.Request.Method,
            context.Request.Path.Value ?? "/",
            context.Request.QueryString.HasValue ? context.Request.QueryString.Value![1..] : string.Empty,
            info.Verb,
            info.Group,
            info.Version,
            info.Resource,
            info.Subresource,
            info.Namespace,
            info.Name,
            code,
            injected)
        {
            UserAgent = UserAgentOf(context),
        });
        LogRequest(logger, record.Method, record.Path, record.StatusCode, record.Verb);
    }

    private static string? UserAgentOf(HttpContext context) =>
        context.Request.Headers.UserAgent.Count > 0 ? context.Request.Headers.UserAgent.ToString() : null;

    private static PatchFormat PatchFormatOf(ResourceDefinition definition, string? contentType)
    {
        var mediaType = (contentType ?? string.Empty).Split(';')[0].Trim().ToLowerInvariant();
        return mediaType switch
        {
            "application/merge-patch+json" => PatchFormat.Merge,
            "application/json-patch+json" => PatchFormat.Json,
            "application/strategic-merge-patch+json" when !definition.IsCustomResource => PatchFormat.StrategicMerge,
            "application/apply-patch+yaml" or "application/apply-patch+cbor" => throw ApiErrors.UnsupportedMediaType(
                mediaType,
                PatchMediaTypes,
                "server-side apply is not implemented by the test API server, deliberately: use a merge or JSON patch"),
            _ => throw ApiErrors.UnsupportedMediaType(
                mediaType,
                definition.IsCustomResource ? PatchMediaTypes[..2] : PatchMediaTypes),
        };
    }

    private static async Task<JsonObject?> ReadObjectAsync(HttpContext context)
    {
        var text = await ReadTextAsync(context);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var mediaType = (context.Request.ContentType ?? string.Empty).Split(';')[0].Trim();
        if (mediaType is "application/yaml" or "application/x-yaml")
        {
            return YamlToJson.ConvertAll(text).OfType<JsonObject>().FirstOrDefault() ?? throw ApiErrors.BadRequest("the request body holds no object");
        }

        return JsonNode.Parse(text) as JsonObject ?? throw ApiErrors.BadRequest("the request body is not a JSON object");
    }

    private static async Task<string> ReadTextAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(context.RequestAborted);
    }

    private static int ParseLimit(StringValues value)
    {
        if (value.Count == 0)
        {
            return 0;
        }

        return long.TryParse(value, CultureInfo.InvariantCulture, out var limit) && limit > 0
            ? (int)Math.Min(limit, int.MaxValue)
            : 0;
    }

    /// <summary>Go's strconv.ParseBool, which the API server uses for boolean query parameters.</summary>
    private static bool IsTrue(StringValues value) => value.ToString() is "1" or "t" or "T" or "true" or "TRUE" or "True";

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Path} answered {StatusCode} ({Verb})")]
    private static partial void LogRequest(ILogger logger, string method, string path, int statusCode, string verb);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Watch opened on {Resource} in {Namespace} from revision {Revision}")]
    private static partial void LogWatchOpened(ILogger logger, string resource, string @namespace, long revision);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Watch closed on {Resource} in {Namespace}")]
    private static partial void LogWatchClosed(ILogger logger, string resource, string @namespace);

    /// <summary>The request's classification, as recorded in the request log.</summary>
    private sealed record RequestInfo(string Verb, string? Group, string? Version, string? Resource, string? Subresource, string? Namespace, string? Name)
    {
        /// <summary>The object's name: the path's, or for a create the created object's, as the audit log's objectRef
        /// names it.</summary>
        public string? Name { get; set; } = Name;

        public bool IsWrite => Verb is "create" or "update" or "patch" or "delete" or "deletecollection";

        public static RequestInfo Of(ApiRoute route, string method, IQueryCollection query)
        {
            switch (route)
            {
                case ApiRoute.Resource r:
                    var verb = (method, r.Name) switch
                    {
                        ("GET", null) => IsTrue(query["watch"]) ? "watch" : "list",
                        ("GET", _) => "get",
                        ("POST", _) => "create",
                        ("PUT", _) => "update",
                        ("PATCH", _) => "patch",
                        ("DELETE", null) => "deletecollection",
                        ("DELETE", _) => "delete",
                        _ => method.ToLowerInvariant(),
                    };
                    return new RequestInfo(verb, r.Definition.Group, r.Definition.Version, r.Definition.Plural, r.Subresource, r.Namespace, r.Name);
                case ApiRoute.Discovery:
                    return new RequestInfo("discovery", null, null, null, null, null, null);
                case ApiRoute.Unknown u:
                    return new RequestInfo("unknown", u.Group, u.Version, u.Plural, null, null, null);
                default:
                    return new RequestInfo("unknown", null, null, null, null, null, null);
            }
        }
    }
}
