using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Nexus.Storage.Tests;

/// <summary>
/// A real S3-protocol server on loopback: the npm package s3rver (installed by scripts/ensure-s3rver.sh, which
/// <c>make test</c> runs), started on a free port with its own data folder. <see cref="Stop"/> and
/// <see cref="Start"/> simulate an outage; the data folder survives them.
/// </summary>
public sealed class S3rver : IDisposable
{
    private Process? process;

    public S3rver()
    {
        Directory.CreateDirectory(DataDirectory);
        Port = FreePort();
        Start();
    }

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "nexus-s3rver-" + Guid.NewGuid().ToString("N"));

    public int Port { get; }

    /// <summary>s3rver checks no signatures: any keys work. The secret is distinctive so tests can look for it in messages.</summary>
    public S3Settings Settings => SettingsFor(new Uri($"http://127.0.0.1:{Port}"));

    public static S3Settings SettingsFor(Uri endpoint) => new(endpoint, "us-east-1", "S3RVER", "s3rver-secret-do-not-print");

    public void Start()
    {
        var script = Script();
        var start = new ProcessStartInfo("node", [script, "-d", DataDirectory, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node for s3rver.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"s3rver exited at start with code {process.ExitCode}.");
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"s3rver did not listen on port {Port} within 20 s.");
    }

    public void Stop()
    {
        if (process is null) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
        process = null;
    }

    /// <summary>
    /// An HTTP handler for the MinIO client that corrects s3rver's one listing bug: it answers ListObjects in the XML
    /// namespace <c>http://doc.s3.amazonaws.com/2006-03-01/</c>, where S3 and MinIO use
    /// <c>http://s3.amazonaws.com/doc/2006-03-01/</c>, so the MinIO client reads no keys (DESIGN.md). Everything else
    /// passes through untouched.
    /// </summary>
    public HttpMessageHandler Http { get; } = new ListingNamespaceFix { InnerHandler = new HttpClientHandler() };

    public void Dispose()
    {
        Http.Dispose();
        Stop();
        if (Directory.Exists(DataDirectory)) Directory.Delete(DataDirectory, recursive: true);
    }

    private static string Script()
    {
        var explicitPath = Environment.GetEnvironmentVariable("NEXUS_S3RVER");
        if (!string.IsNullOrEmpty(explicitPath)) return explicitPath;
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, ".cache", "tools", "node_modules", "s3rver", "bin", "s3rver.js");
            if (File.Exists(candidate)) return candidate;
            if (File.Exists(Path.Combine(directory.FullName, "Nexus.Operator.sln")))
                throw new InvalidOperationException($"s3rver is not installed under {directory.FullName}/.cache/tools; run scripts/ensure-s3rver.sh (make test does).");
        }
        throw new InvalidOperationException("No repository above the test assembly; set NEXUS_S3RVER to s3rver's bin/s3rver.js.");
    }

    /// <summary>The store's retry policy with short constant delays, so that a test of an outage takes seconds.</summary>
    public static Polly.Retry.RetryStrategyOptions QuickRetry(int attempts = 3) => new()
    {
        MaxRetryAttempts = attempts, Delay = TimeSpan.FromMilliseconds(100), BackoffType = Polly.DelayBackoffType.Constant,
        ShouldHandle = S3ArtifactStore.DefaultRetry.ShouldHandle,
    };

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class ListingNamespaceFix : DelegatingHandler
    {
        private const string S3rverNamespace = "http://doc.s3.amazonaws.com/2006-03-01/";
        private const string S3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method != HttpMethod.Get || !response.IsSuccessStatusCode || request.RequestUri?.Query.Contains("list-type=", StringComparison.Ordinal) != true)
                return response;
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var fixedBody = new StringContent(body.Replace(S3rverNamespace, S3Namespace, StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/xml");
            response.Content.Dispose();
            response.Content = fixedBody;
            return response;
        }
    }
}
