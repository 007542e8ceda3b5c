using System.Net;
using System.Text;

namespace Nexus.Storage.Tests;

/// <summary>What goes wrong with a real S3 service: an outage mid-upload and rejected credentials.</summary>
public sealed class S3FaultTests : IDisposable
{
    private readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task AnOutageMidUploadFailsCleanlyLeavesNoArtifactAndARetryResumesIt()
    {
        using var server = new S3rver();
        var location = ArtifactLocation.Parse("s3://nexus-faults/models/seed");
        var store = new S3ArtifactStore(location, server.Settings, S3rver.QuickRetry(attempts: 2));
        await store.EnsureBucketAsync();
        var source = temp["source"];
        Directory.CreateDirectory(source);
        var weights = new byte[96 * 1024 * 1024];
        new Random(3).NextBytes(weights);
        File.WriteAllBytes(Path.Combine(source, "a-weights.bin"), weights);
        File.WriteAllText(Path.Combine(source, "z-config.json"), "{}");

        // Stop the server once three of the file's 24 parts are stored.
        var publish = store.PublishAsync(source);
        while (!publish.IsCompleted && Directory.GetFiles(server.DataDirectory, "*.part-*._S3rver_object", SearchOption.AllDirectories).Length < 3)
            await Task.Delay(5);
        Assert.False(publish.IsCompleted, "the upload finished before the outage could start");
        server.Stop();

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => publish);
        Assert.Contains($"127.0.0.1:{server.Port}", error.Message);
        Assert.Contains("nexus-faults", error.Message);
        Assert.DoesNotContain(server.Settings.SecretKey, error.ToString());

        server.Start();
        Assert.Null(await store.GetManifestAsync()); // nothing half-published is visible
        var retried = await store.PublishAsync(source);
        // The retry resumed the interrupted publish: the parts stored before the outage were not sent again.
        Assert.True(retried.ResumedBytes > 0, "nothing was resumed");
        Assert.Equal(weights.Length + 2, retried.ResumedBytes + retried.UploadedBytes);
        Assert.False(await store.ExistsAsync("upload.json"));
        await store.FetchAsync(temp["copy"]);
        Assert.Equal(weights, File.ReadAllBytes(temp["copy/a-weights.bin"]));
    }

    [Fact]
    public async Task RejectedCredentialsFailAtOnceNamingWhereButNotTheSecret()
    {
        using var stub = new ForbiddenS3();
        var settings = new S3Settings(stub.Endpoint, "us-east-1", "AKIAEXAMPLE", "wJalrXUtnFEMI-very-secret");
        var store = new S3ArtifactStore(ArtifactLocation.Parse("s3://models/team-a/seed"), settings, S3rver.QuickRetry(attempts: 5));

        var error = await Assert.ThrowsAsync<ArtifactStoreException>(() => store.FetchAsync(temp["copy"]));

        Assert.Contains("access denied", error.Message);
        Assert.Contains(stub.Endpoint.Authority, error.Message);
        Assert.Contains("bucket 'models' key 'team-a/seed/manifest.json'", error.Message);
        Assert.Contains("AKIAEXAMPLE", error.Message); // which key was refused helps; the secret never appears
        Assert.DoesNotContain(settings.SecretKey, error.ToString());
        Assert.DoesNotContain(settings.SecretKey, settings.ToString());
        Assert.Single(stub.Requests); // a 403 is not retried
        Assert.False(Directory.Exists(temp["copy"]));
    }
}
