using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>Opens the artifact store of one location (<c>s3://</c> or <c>file://</c>); the caller disposes it when it is
/// disposable.</summary>
public delegate IArtifactStore ArtifactStoreFactory(string uri);

public static class ArtifactStores
{
    /// <summary>file:// as a local folder; s3:// with the credentials of the operator's environment (docs/storage.md),
    /// read when an S3 location is first opened.</summary>
    public static ArtifactStoreFactory Default { get; } = uri =>
    {
        var location = ArtifactLocation.Parse(uri);
        return location.IsS3 ? new S3ArtifactStore(location, S3Settings.FromEnvironment()) : new FileArtifactStore(location);
    };
}
