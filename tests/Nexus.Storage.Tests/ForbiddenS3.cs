using System.Net;
using System.Text;

namespace Nexus.Storage.Tests;

/// <summary>
/// An S3 endpoint on loopback that refuses every request with 403 AccessDenied (S3's XML error body), recording each
/// request's path and Authorization header: where a client sends its requests, how it signs them, and that a 403 is
/// not retried. Shared with the operator's tests (linked into Nexus.Operator.Tests).
/// </summary>
public sealed class ForbiddenS3 : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly List<(string Path, string Authorization)> requests = [];

    public ForbiddenS3()
    {
        Endpoint = new Uri($"http://127.0.0.1:{S3rver.FreePort()}/");
        listener.Prefixes.Add(Endpoint.ToString());
        listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public Uri Endpoint { get; }

    /// <summary>Path and Authorization header of every request so far, in order.</summary>
    public IReadOnlyList<(string Path, string Authorization)> Requests
    {
        get
        {
            lock (requests)
            {
                return requests.ToArray();
            }
        }
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception) when (!listener.IsListening)
            {
                return;
            }

            lock (requests)
            {
                requests.Add((context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"] ?? ""));
            }

            var body = Encoding.UTF8.GetBytes(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>" +
                $"<Resource>{context.Request.Url.AbsolutePath}</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>");
            context.Response.StatusCode = 403;
            context.Response.ContentType = "application/xml";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
    }
}
