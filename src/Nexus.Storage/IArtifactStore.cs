namespace Nexus.Storage;

/// <summary>
/// One artifact location and what can be done with it, whatever the back end: publish a folder (atomically, resumably),
/// read the manifest, fetch the folder back (verified), check for an object. <see cref="ArtifactStore"/> implements it
/// over a back end's put, get, size and delete.
/// </summary>
public interface IArtifactStore
{
    ArtifactLocation Location { get; }

    Task<ArtifactManifest?> GetManifestAsync(CancellationToken cancellation = default);

    Task<PublishResult> PublishAsync(string sourceDirectory, CancellationToken cancellation = default);

    Task<ArtifactManifest> FetchAsync(string targetDirectory, CancellationToken cancellation = default);

    Task<bool> ExistsAsync(string key, CancellationToken cancellation = default);

    /// <summary>Removes the published artifact (manifest first, so readers stop seeing it at once, then its files and
    /// any unfinished publish's plan); false when nothing was published here.</summary>
    Task<bool> RemoveAsync(CancellationToken cancellation = default);
}
