namespace Nexus.Local.Tests;

/// <summary><c>nexus run</c> without S3: <c>s3://BUCKET/KEY</c> locations are folders under the local buckets.</summary>
public sealed class LocalBucketsTests
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
}
