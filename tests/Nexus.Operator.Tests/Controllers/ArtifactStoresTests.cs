using System.Net;
using System.Net.Sockets;
using System.Text;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

public class ArtifactStoresTests
{
    [Fact]
    public async Task For_ReadsS3AtTheSettingsEndpointAndRegion_WithTheEnvironmentsCredentials()
    {
        using var s3 = new RecordingS3();
        var settings = new OperatorSettings { S3Endpoint = s3.Endpoint.ToString(), S3Region = "eu-west-3" };
        var environment = new Dictionary<string, string>
        {
            // The operator's own variables name another endpoint and region: the settings, which the Jobs use, win.
            ["NEXUS_S3_ENDPOINT"] = "http://127.0.0.1:9/",
            ["NEXUS_S3_REGION"] = "us-west-2",
            ["NEXUS_S3_ACCESS_KEY"] = "operator-access-key",
            ["NEXUS_S3_SECRET_KEY"] = "operator-secret-key",
        };

        var store = ArtifactStores.For(settings, name => environment.GetValueOrDefault(name))("s3://nexus-artifacts/ml/experts/news/run");
        try
        {
            var denied = await Assert.ThrowsAnyAsync<ArtifactStoreException>(() => store.GetManifestAsync());
            Assert.Contains(s3.Endpoint.Authority, denied.Message, StringComparison.Ordinal);
        }
        finally
        {
            (store as IDisposable)?.Dispose();
        }

        var request = Assert.Single(s3.Requests);
        Assert.StartsWith("/nexus-artifacts/", request.Path, StringComparison.Ordinal);
        Assert.Contains("Credential=operator-access-key/", request.Authorization, StringComparison.Ordinal);
        Assert.Contains("/eu-west-3/s3/aws4_request", request.Authorization, StringComparison.Ordinal);
    }

    [Fact]
    public void For_OpensAFileLocationAsAFolder()
    {
        var store = ArtifactStores.For(new OperatorSettings(), _ => null)("file:///srv/artifacts/ml");

        Assert.IsType<FileArtifactStore>(store);
        Assert.Equal("/srv/artifacts/ml", store.Location.Path);
    }

    /// <summary>A loopback S3 that records each request and denies it (403 AccessDenied: one request, no retries).</summary>
    private sealed class RecordingS3 : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly List<(string Path, string Authorization)> requests = [];

        public RecordingS3()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Endpoint = new Uri($"http://127.0.0.1:{port}/");
            listener.Prefixes.Add(Endpoint.ToString());
            listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public Uri Endpoint { get; }

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
                    $"<Resource>{context.Request.Url.AbsolutePath}</Resource><RequestId>1</RequestId></Error>");
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
}
