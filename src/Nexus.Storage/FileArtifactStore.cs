namespace Nexus.Storage;

/// <summary>
/// An artifact in a local folder (<c>file://</c> or a plain path): the same layout as in a bucket, <c>manifest.json</c>
/// and <c>data/PUBLISH/…</c>. Every object is written to a temporary file and renamed into place.
/// </summary>
public sealed class FileArtifactStore : ArtifactStore
{
    public FileArtifactStore(ArtifactLocation location) : base(location)
    {
        if (location.IsS3) throw new ArgumentException($"{location} is not a local folder.", nameof(location));
    }

    /// <summary>Whether <paramref name="folder"/> holds a published artifact: <c>manifest.json</c> and <c>data/</c> both,
    /// so that some other program's manifest.json is not taken for an artifact's.</summary>
    public static bool HoldsArtifact(string folder) =>
        File.Exists(Path.Combine(folder, ArtifactManifest.FileName)) && Directory.Exists(Path.Combine(folder, "data"));

    private string PathOf(string key) => Path.Combine(Location.Path, key.Replace('/', Path.DirectorySeparatorChar));

    protected override async Task PutAsync(string key, Func<Stream> open, long length, CancellationToken cancellation)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            await using (var source = open())
            await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                await source.CopyToAsync(output, cancellation);
                await output.FlushAsync(cancellation);
                output.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    protected override async Task<bool> TryGetAsync(string key, Func<Stream, CancellationToken, Task> read, CancellationToken cancellation)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        await using (stream) await read(stream, cancellation);
        return true;
    }

    protected override Task<long?> SizeAsync(string key, CancellationToken cancellation)
    {
        var file = new FileInfo(PathOf(key));
        return Task.FromResult(file.Exists ? file.Length : (long?)null);
    }

    /// <summary>Deletes the location's folder whole, after its manifests.</summary>
    public override Task<int> RemoveAllAsync(CancellationToken cancellation = default)
    {
        var folder = new DirectoryInfo(Location.Path);
        if (!folder.Exists) return Task.FromResult(0);
        var files = folder.GetFiles("*", SearchOption.AllDirectories);
        foreach (var manifest in files.Where(file => IsManifest(Path.GetRelativePath(folder.FullName, file.FullName).Replace(Path.DirectorySeparatorChar, '/'))))
            manifest.Delete();
        folder.Delete(recursive: true);
        return Task.FromResult(files.Length);
    }

    protected override Task DeleteAsync(string key, CancellationToken cancellation)
    {
        var path = PathOf(key);
        File.Delete(path);
        // Remove the publish's folders as they empty, up to data/.
        var data = Path.Combine(Location.Path, "data");
        for (var folder = Path.GetDirectoryName(path); folder is not null && folder.Length > data.Length && Directory.Exists(folder)
             && !Directory.EnumerateFileSystemEntries(folder).Any(); folder = Path.GetDirectoryName(folder))
            Directory.Delete(folder);
        return Task.CompletedTask;
    }
}
