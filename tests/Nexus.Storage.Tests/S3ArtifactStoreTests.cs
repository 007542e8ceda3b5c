using Polly;
using Polly.Retry;

namespace Nexus.Storage.Tests;

/// <summary>One s3rver for the S3 tests of a class (each test uses its own prefix).</summary>
public sealed class S3rverFixture : IDisposable
{
    public S3rver Server { get; } = new();

    public void Dispose() => Server.Dispose();
}

public sealed class S3ArtifactStoreTests(S3rverFixture fixture) : ArtifactStoreContract, IClassFixture<S3rverFixture>
{
    private const string Bucket = "nexus-tests";

    /// <summary>Quick retries, so that a test of an outage takes seconds.</summary>
    private static RetryStrategyOptions Quick(int attempts = 3) => new()
    {
        MaxRetryAttempts = attempts, Delay = TimeSpan.FromMilliseconds(100), BackoffType = DelayBackoffType.Constant,
        ShouldHandle = S3ArtifactStore.DefaultRetry.ShouldHandle,
    };

    private S3ArtifactStore Store(string location, S3Settings? settings = null, RetryStrategyOptions? retry = null) =>
        new(ArtifactLocation.Parse(location), settings ?? fixture.Server.Settings, retry ?? Quick());

    protected override ArtifactStore NewStore()
    {
        var store = Store($"s3://{Bucket}/runs/{Guid.NewGuid():N}");
        store.EnsureBucketAsync().GetAwaiter().GetResult();
        return store;
    }

    protected override void Corrupt(ArtifactStore store, string key)
    {
        var parts = $"{store.Location.Path}/{key}".Split('/');
        var path = Path.Combine([fixture.Server.DataDirectory, Bucket, .. parts[..^1], $"{parts[^1]}._S3rver_object"]);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task AMissingBucketFailsAtOnceNamingEndpointAndBucket()
    {
        var store = Store("s3://no-such-bucket/models/seed", retry: Quick(attempts: 5));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.PublishAsync(WriteSource("source")));
        Assert.Contains("no-such-bucket", error.Message);
        Assert.Contains($"127.0.0.1:{fixture.Server.Port}", error.Message);
        Assert.DoesNotContain(fixture.Server.Settings.SecretKey, error.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}: a missing bucket is not worth retrying");
    }
}
