namespace Nexus.Storage;

/// <summary>
/// One artifact location and what can be done with it, whatever the back end: publish a folder (atomically, resumably),
/// read the manifest, fetch the folder back (verified), check for an object, remove it, or remove everything under the
/// location. <see cref="ArtifactStore"/> implements it over a back end's put, get, size and delete.
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

    /// <summary>Removes every object under the location as a folder: the artifact published here, every artifact
    /// published beneath it and any unfinished publish, manifests first (so readers stop seeing those artifacts at once).
    /// A location that merely starts with the same characters (<c>r1</c> and <c>r10</c>) is left alone. Returns the
    /// number of objects removed; 0 when there was nothing.</summary>
    Task<int> RemoveAllAsync(CancellationToken cancellation = default);
}
