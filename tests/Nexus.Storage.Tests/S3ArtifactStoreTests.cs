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

    /// <summary>Parts of 1 MiB, so that the 3 MB file of the contract tests is stored as four.</summary>
    private S3ArtifactStore Store(string location, RetryStrategyOptions? retry = null) =>
        new(ArtifactLocation.Parse(location), fixture.Server.Settings, retry ?? S3rver.QuickRetry(), partSize: 1 << 20, handler: fixture.Server.Http);

    protected override ArtifactStore NewStore()
    {
        var store = Store($"s3://{Bucket}/runs/{Guid.NewGuid():N}");
        store.EnsureBucketAsync().GetAwaiter().GetResult();
        return store;
    }

    protected override ArtifactStore StoreAt(string location) => Store(location);

    protected override void Corrupt(ArtifactStore store, string key)
    {
        var parts = $"{store.Location.Path}/{key}".Split('/');
        var path = Path.Combine([fixture.Server.DataDirectory, Bucket, .. parts[..^1], $"{parts[^1]}._S3rver_object"]);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task LargeFilesAreStoredInPartsAndComeBackWhole()
    {
        var store = (S3ArtifactStore)NewStore();
        var manifest = (await store.PublishAsync(WriteSource("source"))).Manifest;

        var weights = manifest.Files.Single(f => f.Path == "model.safetensors");
        Assert.Equal(1 << 20, manifest.PartSize);
        Assert.Equal([1 << 20, 1 << 20, 1 << 20, 17], manifest.Objects(weights).Select(o => o.Length));
        Assert.EndsWith("model.safetensors.part-00003", manifest.Objects(weights)[^1].Key);
        Assert.Single(manifest.Objects(manifest.Files.Single(f => f.Path == "empty.txt")));
        await store.FetchAsync(Temp["copy"]);
        Assert.Equal(File.ReadAllBytes(Temp["source/model.safetensors"]), File.ReadAllBytes(Temp["copy/model.safetensors"]));
    }

    [Fact]
    public async Task AMissingBucketFailsAtOnceNamingEndpointAndBucket()
    {
        var store = Store("s3://no-such-bucket/models/seed", retry: S3rver.QuickRetry(attempts: 5));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.PublishAsync(WriteSource("source")));
        Assert.Contains("no-such-bucket", error.Message);
        Assert.Contains($"127.0.0.1:{fixture.Server.Port}", error.Message);
        Assert.DoesNotContain(fixture.Server.Settings.SecretKey, error.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}: a missing bucket is not worth retrying");
    }
}
