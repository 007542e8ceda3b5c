namespace Nexus.Local.Tests;

/// <summary><c>nexus run</c>'s settings: without S3, <c>s3://BUCKET/KEY</c> locations are folders under the local
/// buckets; the artifact root; each step's share of the cores.</summary>
public sealed class LocalClusterOptionsTests
{
    private static readonly LocalClusterOptions WithBuckets = new() { Root = "/run/root", NexusPath = "/bin/nexus", LocalBuckets = "/run/root/s3" };

    [Theory]
    [InlineData("s3://corpora/nexus-data/news", "file:///run/root/s3/corpora/nexus-data/news")]
    [InlineData("s3://models/runs/seed/model/", "file:///run/root/s3/models/runs/seed/model")]
    [InlineData("s3://bucket/a key with spaces", "file:///run/root/s3/bucket/a%20key%20with%20spaces")]
    [InlineData("file:///data/news", "file:///data/news")]
    [InlineData("/plain/folder", "/plain/folder")]
    public void AnS3LocationIsItsFolderUnderTheBuckets_OtherLocationsAreKept(string location, string expected) =>
        Assert.Equal(expected, WithBuckets.LocalBucketLocation(location));

    [Theory]
    [InlineData("s3://")]
    [InlineData("s3://bucket/../../etc")]
    [InlineData("s3://bucket//key")]
    [InlineData("s3://bucket/./key")]
    public void AnS3LocationThatWouldLeaveItsBucketIsRefusedNamingTheFix(string location)
    {
        var error = Assert.Throws<ArgumentException>(() => WithBuckets.LocalBucketLocation(location));
        Assert.Contains(location, error.Message);
        Assert.Contains("fix the URI", error.Message);
    }

    [Fact]
    public void WithoutLocalBuckets_S3LocationsAreLeftToS3() =>
        Assert.Equal("s3://corpora/news", (WithBuckets with { LocalBuckets = null }).LocalBucketLocation("s3://corpora/news"));

    [Fact]
    public void EachStepGetsItsShareOfTheCores_AtLeastOne()
    {
        Assert.Equal(Environment.ProcessorCount, WithBuckets.ThreadsPerStep);
        Assert.Equal(1, (WithBuckets with { Parallel = Environment.ProcessorCount * 4 }).ThreadsPerStep);
    }

    [Fact]
    public void TheArtifactRootIsRootArtifacts_OrWhereArtifactsSays_InTheLocalBucketsWithoutS3()
    {
        Assert.Equal("file:///run/root/artifacts", WithBuckets.ArtifactRoot);
        Assert.Equal("file:///run/root/s3/nexus-artifacts/run", (WithBuckets with { Artifacts = "s3://nexus-artifacts/run/" }).ArtifactRoot);
        Assert.Equal("file:///elsewhere", (WithBuckets with { Artifacts = "file:///elsewhere" }).ArtifactRoot);
        var s3 = new Nexus.Storage.S3Settings(new Uri("http://127.0.0.1:9000"), "us-east-1", "key", "secret");
        Assert.Equal("s3://nexus-artifacts/run", (WithBuckets with { LocalBuckets = null, S3 = s3, Artifacts = "s3://nexus-artifacts/run" }).ArtifactRoot);
    }

    [Theory]
    [InlineData("relative/folder", "give an s3://BUCKET[/PREFIX] or file:///ABSOLUTE/PATH location")]
    [InlineData("https://example.com/x", "give an s3://BUCKET[/PREFIX] or file:///ABSOLUTE/PATH location")]
    [InlineData("s3://nexus-artifacts", "no S3 is configured; set NEXUS_S3_ACCESS_KEY")]
    public void ABadArtifactRootIsRefusedNamingTheFlagAndTheFix(string artifacts, string fix)
    {
        var options = WithBuckets with { Artifacts = artifacts, LocalBuckets = null };
        var error = Assert.Throws<ArgumentException>(() => options.Validate());
        Assert.StartsWith($"--artifacts is {artifacts}", error.Message);
        Assert.Contains(fix, error.Message);
    }
}
