using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Controllers;

/// <summary>Opens the artifact store of one location (<c>s3://</c> or <c>file://</c>); the caller disposes it when it is
/// disposable.</summary>
public delegate IArtifactStore ArtifactStoreFactory(string uri);

public static class ArtifactStores
{
    /// <summary>file:// as a local folder; s3:// with the endpoint, region and credentials of the operator's environment
    /// (docs/storage.md), read when an S3 location is first opened.</summary>
    public static ArtifactStoreFactory Default { get; } = For(() => S3Settings.FromEnvironment());

    /// <summary>file:// as a local folder; s3:// with the settings <paramref name="s3"/> gives, asked when an S3 location
    /// is opened.</summary>
    public static ArtifactStoreFactory For(Func<S3Settings> s3) => uri =>
    {
        var location = ArtifactLocation.Parse(uri);
        return location.IsS3 ? new S3ArtifactStore(location, s3()) : new FileArtifactStore(location);
    };

    /// <summary>
    /// file:// as a local folder; s3:// at the endpoint and region of <paramref name="settings"/>, the ones the Jobs
    /// write to, so the operator reads their manifests where they were published. Only the credentials come from the
    /// environment (<c>NEXUS_S3_ACCESS_KEY[_FILE]</c>, <c>NEXUS_S3_SECRET_KEY[_FILE]</c> or the AWS variables), read when
    /// an S3 location is first opened.
    /// </summary>
    /// <param name="settings">The operator's settings.</param>
    /// <param name="environment">Reads an environment variable; the process's environment when null.</param>
    public static ArtifactStoreFactory For(OperatorSettings settings, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? Variable(string name) => name switch
        {
            "NEXUS_S3_ENDPOINT" => settings.S3Endpoint,
            "NEXUS_S3_REGION" => settings.S3Region,
            "NEXUS_S3_ENDPOINT_FILE" or "NEXUS_S3_REGION_FILE" => null,
            _ => environment(name),
        };

        return For(() => S3Settings.FromEnvironment(Variable));
    }
}
