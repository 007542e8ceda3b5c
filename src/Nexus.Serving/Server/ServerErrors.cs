using Nexus.Serving.Completions;

namespace Nexus.Serving.Server;

/// <summary>The errors the server itself answers (the parser's own are in <see cref="CompletionRequests"/>), all in the
/// OpenAI error shape.</summary>
public static class ServerErrors
{
    /// <summary>The OpenAI type for 429.</summary>
    public const string RateLimitType = "rate_limit_error";

    /// <summary>The OpenAI type for failures on the server's side (5xx).</summary>
    public const string ServerErrorType = "server_error";

    /// <summary>The model is still loading: retry once <c>/readyz</c> answers 200.</summary>
    public static ServingError NotReady() => new(503,
        "The model is still loading. Retry once GET /readyz answers 200.", ServerErrorType, null, "model_loading");

    /// <summary>The model failed to load; the server is exiting.</summary>
    public static ServingError LoadFailed(string reason) => new(503,
        $"The model failed to load: {reason}. The server is exiting; check the model revision and the artifact store.",
        ServerErrorType, null, "model_load_failed");

    /// <summary>The server is shutting down and takes no new requests.</summary>
    public static ServingError ShuttingDown() => new(503,
        "The server is shutting down and takes no new requests. Retry; another replica will answer.", ServerErrorType, null, "shutting_down");

    /// <summary>The request named a model this server does not serve.</summary>
    public static ServingError UnknownModel(string requested, string served) => new(404,
        $"The model '{requested}' is not served here; this server serves '{served}'. Send \"model\": \"{served}\" or leave model out.",
        ErrorTypes.InvalidRequest, "model", "model_not_found");

    /// <summary>No route at this path.</summary>
    public static ServingError NotFound(string method, string path) => new(404,
        $"There is no route {method} {path}. This server answers POST /v1/completions, GET /v1/models, GET /healthz, GET /readyz and GET /metrics.",
        ErrorTypes.InvalidRequest, null, "not_found");

    /// <summary>The path exists but not for this method.</summary>
    public static ServingError MethodNotAllowed(string method, string path, string allowed) => new(405,
        $"{path} does not accept {method}. Use {allowed} {path}.", ErrorTypes.InvalidRequest, null, "method_not_allowed");

    /// <summary>The HTTP framing of the request was malformed (Kestrel's own refusal, such as bad chunked encoding).</summary>
    public static ServingError BadHttp(int status, string reason) => new(status,
        $"The HTTP request is malformed: {reason.TrimEnd('.')}. Send a well-formed HTTP/1.1 request with a JSON body.",
        ErrorTypes.InvalidRequest, null, "bad_request");

    /// <summary>The completion ran longer than the request timeout.</summary>
    public static ServingError Timeout(TimeSpan timeout) => new(504,
        $"The completion did not finish within this server's request timeout of {timeout.TotalSeconds:0.###} seconds. Ask for fewer max_tokens or retry.",
        ServerErrorType, null, "timeout");

    /// <summary>Something failed on the server's side; the request may be retried.</summary>
    public static ServingError Internal() => new(500,
        "The server failed while answering this request; it has been logged. Retry the request.", ServerErrorType, null, "internal_error");

    /// <summary>The engine refused the request: 429 when its queue is full, 400 when the prompt is too long in tokens.</summary>
    public static ServingError Refused(Engine.GenerationRefusedException refusal) => new(
        refusal.Status,
        refusal.Message,
        refusal.Status == 429 ? RateLimitType : refusal.Status >= 500 ? ServerErrorType : ErrorTypes.InvalidRequest,
        refusal.Param,
        refusal.Status == 429 ? "queue_full" : refusal.Status >= 500 ? "engine_unavailable" : ErrorCodes.InvalidValue);
}
