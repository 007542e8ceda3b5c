using System.Net;
using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;
using Polly;
using Polly.Retry;

namespace Nexus.Storage;

/// <summary>
/// An artifact in an S3-compatible bucket, through the MinIO client. Needs only put, get and delete of whole objects
/// (no ranged reads, and no listing but to remove everything under a location: the manifest is the listing). Transient failures (connection errors, 5xx, timeouts)
/// are retried with exponential backoff; permanent ones (no such bucket, access denied) fail at once, naming the
/// endpoint, bucket and key.
/// </summary>
public sealed class S3ArtifactStore : ArtifactStore, IDisposable
{
    private readonly IMinioClient client;
    private readonly S3Settings settings;
    private readonly ResiliencePipeline retry;
    private readonly int retries;

    /// <summary>
    /// Files are stored in parts of 4 MiB, each its own object: under the MinIO client's 5 MiB multipart threshold, so each
    /// part is one PUT of a buffer the client allocates per part. With 16 MiB parts (multipart inside the client) a 256 MB
    /// upload peaked at 330 MiB RSS; with 4 MiB a 1 GB one peaks at 137 MiB (docs/benchmarks.md).
    /// </summary>
    public const long DefaultPartSize = 4L << 20;

    private readonly long partSize;

    /// <param name="handler">The HTTP handler the MinIO client sends through (left undisposed); null for the client's own.</param>
    public S3ArtifactStore(
        ArtifactLocation location, S3Settings settings, RetryStrategyOptions? retryOptions = null, long partSize = DefaultPartSize,
        HttpMessageHandler? handler = null)
        : base(location)
    {
        if (partSize < 1) throw new ArgumentOutOfRangeException(nameof(partSize), "A part holds at least one byte.");
        this.partSize = partSize;
        if (!location.IsS3) throw new ArgumentException($"{location} is not an s3:// location.", nameof(location));
        this.settings = settings;
        client = new MinioClient()
            .WithEndpoint(settings.Endpoint.Host, settings.Endpoint.Port)
            .WithSSL(settings.Endpoint.Scheme == "https")
            .WithRegion(settings.Region)
            .WithCredentials(settings.AccessKey, settings.SecretKey);
        if (handler is not null) client = client.WithHttpClient(new HttpClient(handler, disposeHandler: false), disposeHttpClient: true);
        client = client.Build();
        retryOptions ??= DefaultRetry;
        retries = retryOptions.MaxRetryAttempts;
        retry = new ResiliencePipelineBuilder().AddRetry(retryOptions).Build();
    }

    /// <summary>Five retries, 0.5 s doubling with jitter (about 15 s in all) on errors that a later attempt may not see.</summary>
    public static RetryStrategyOptions DefaultRetry => new()
    {
        MaxRetryAttempts = 5,
        Delay = TimeSpan.FromMilliseconds(500),
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
    };

    protected override long PartSize => partSize;

    private string Bucket => Location.Bucket!;

    private string Key(string key) => $"{Location.Path}/{key}";

    private string Name(string key) => $"{settings.Endpoint} bucket '{Bucket}' key '{Key(key)}'";

    /// <summary>Creates the bucket when it does not exist (tests and first-time set-up; a production bucket is made by its owner).</summary>
    public async Task EnsureBucketAsync(CancellationToken cancellation = default) =>
        await Run("", async token =>
        {
            if (!await client.BucketExistsAsync(new BucketExistsArgs().WithBucket(Bucket), token))
                await client.MakeBucketAsync(new MakeBucketArgs().WithBucket(Bucket), token);
        }, cancellation);

    protected override Task PutAsync(string key, Func<Stream> open, long length, CancellationToken cancellation) =>
        Run(key, async token =>
        {
            await using var stream = open();
            await client.PutObjectAsync(new PutObjectArgs().WithBucket(Bucket).WithObject(Key(key))
                .WithStreamData(stream).WithObjectSize(length).WithContentType("application/octet-stream"), token);
        }, cancellation);

    protected override async Task<bool> TryGetAsync(string key, Func<Stream, CancellationToken, Task> read, CancellationToken cancellation)
    {
        try
        {
            await Run(key, token => client.GetObjectAsync(new GetObjectArgs().WithBucket(Bucket).WithObject(Key(key)).WithCallbackStream(read), token), cancellation);
            return true;
        }
        catch (ArtifactStoreException e) when (e.InnerException is ObjectNotFoundException)
        {
            return false;
        }
    }

    protected override async Task<long?> SizeAsync(string key, CancellationToken cancellation)
    {
        long? size = null;
        try
        {
            await Run(key, async token => size = (await client.StatObjectAsync(new StatObjectArgs().WithBucket(Bucket).WithObject(Key(key)), token)).Size, cancellation);
        }
        catch (ArtifactStoreException e) when (e.InnerException is ObjectNotFoundException)
        {
            return null;
        }
        return size;
    }

    protected override Task DeleteAsync(string key, CancellationToken cancellation) =>
        Run(key, token => client.RemoveObjectAsync(new RemoveObjectArgs().WithBucket(Bucket).WithObject(Key(key)), token), cancellation);

    /// <summary>Lists the keys under <c>PREFIX/</c>, then deletes them one by one, the manifests first. One request per
    /// object: s3rver answered a bulk delete (DeleteObjects) of an artifact folder with a 500 InternalError, and a removal
    /// is rare.</summary>
    public override async Task<int> RemoveAllAsync(CancellationToken cancellation = default)
    {
        var folder = $"{Location.Path}/";
        var keys = new List<string>();
        await Run("", async token =>
        {
            keys.Clear(); // a retried listing starts again
            var listing = new ListObjectsArgs().WithBucket(Bucket).WithPrefix(folder).WithRecursive(true);
            await foreach (var item in client.ListObjectsEnumAsync(listing, token)) keys.Add(item.Key[folder.Length..]);
        }, cancellation);
        foreach (var key in keys.Where(IsManifest).Concat(keys.Where(key => !IsManifest(key))))
            await DeleteAsync(key, cancellation);
        return keys.Count;
    }

    /// <summary>Runs one S3 call under the retry policy and turns what still fails into an error that names where.</summary>
    private async Task Run(string key, Func<CancellationToken, Task> call, CancellationToken cancellation)
    {
        try
        {
            await retry.ExecuteAsync(async token => await call(token), cancellation);
        }
        catch (ArtifactIntegrityException)
        {
            throw;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new ArtifactStoreException(Describe(e, key), e);
        }
    }

    private string Describe(Exception e, string key) => e switch
    {
        BucketNotFoundException => $"{settings.Endpoint} has no bucket '{Bucket}'; create it or fix the location {Location}.",
        ObjectNotFoundException => $"{Name(key)} does not exist.",
        AccessDeniedException or AuthorizationException or ForbiddenException =>
            $"{Name(key)}: access denied; check the access key '{settings.AccessKey}' and its secret, and the bucket policy.",
        _ when IsTransient(e) => $"{Name(key)}: still failing after {retries} retries: {Scrub(e.Message)}",
        _ => $"{Name(key)}: {Scrub(e.Message)}",
    };

    /// <summary>The secret never leaves this class, even inside a server's or a client's message.</summary>
    private string Scrub(string message) => message.Replace(settings.SecretKey, "***", StringComparison.Ordinal);

    private static bool IsTransient(Exception e) => e switch
    {
        ArtifactIntegrityException => false,
        BucketNotFoundException or ObjectNotFoundException or AccessDeniedException or AuthorizationException or ForbiddenException => false,
        ConnectionException or InternalServerException or HttpRequestException or IOException or TimeoutException => true,
        TaskCanceledException => true, // an HttpClient timeout
        UnexpectedMinioException { ServerResponse.StatusCode: >= HttpStatusCode.InternalServerError } => true,
        _ when e.InnerException is not null => IsTransient(e.InnerException),
        _ => false,
    };

    public void Dispose() => (client as IDisposable)?.Dispose();
}
