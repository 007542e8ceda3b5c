using System.Security.Cryptography;

namespace Nexus.Storage;

/// <summary>
/// Publishes a local folder as an artifact and fetches it back, verified, on top of three object operations
/// that each back end provides (put, get, delete). Publishing uploads every file under a fresh
/// <c>data/PUBLISH/</c> prefix and writes the manifest last, so a reader sees the old artifact or the new one,
/// never half of one; fetching streams each file through SHA-256 into a staging folder that is renamed into place
/// only when every file matched. Files are streamed in both directions: memory holds a buffer, not an artifact.
/// </summary>
public abstract class ArtifactStore : IArtifactStore
{
    private const int BufferSize = 1 << 20;

    protected ArtifactStore(ArtifactLocation location) => Location = location;

    public ArtifactLocation Location { get; }

    /// <summary>Bytes per stored part of a file; 0 stores each file whole (a local folder needs no parts).</summary>
    protected virtual long PartSize => 0;

    /// <summary>Stores the bytes <paramref name="open"/> gives at <paramref name="key"/> (relative to the location); may call it again to retry.</summary>
    protected abstract Task PutAsync(string key, Func<Stream> open, long length, CancellationToken cancellation);

    /// <summary>Streams the object at <paramref name="key"/> to <paramref name="read"/>; false when there is none.</summary>
    protected abstract Task<bool> TryGetAsync(string key, Func<Stream, CancellationToken, Task> read, CancellationToken cancellation);

    protected abstract Task DeleteAsync(string key, CancellationToken cancellation);

    /// <summary>The size of the object at <paramref name="key"/>, or null when there is none.</summary>
    protected abstract Task<long?> SizeAsync(string key, CancellationToken cancellation);

    private const string UploadFile = "upload.json";

    /// <summary>Whether an object is stored at <paramref name="key"/> (relative to the location).</summary>
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellation = default) =>
        await SizeAsync(key, cancellation) is not null;

    /// <summary>The published manifest, or null when nothing was ever published here.</summary>
    public async Task<ArtifactManifest?> GetManifestAsync(CancellationToken cancellation = default) =>
        await TryReadSmallAsync(ArtifactManifest.FileName, cancellation) is { } json
            ? ArtifactManifest.Parse(json, $"{Location}/{ArtifactManifest.FileName}")
            : null;

    /// <summary>A small object's bytes (a manifest, a plan), or null when there is none.</summary>
    private async Task<byte[]?> TryReadSmallAsync(string key, CancellationToken cancellation)
    {
        byte[]? bytes = null;
        var found = await TryGetAsync(key, async (stream, token) =>
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, token);
            bytes = copy.ToArray();
        }, cancellation);
        return found ? bytes : null;
    }

    /// <summary>
    /// Publishes every file under <paramref name="sourceDirectory"/>; the previous publish's files are removed afterwards.
    /// The planned publish (its id and file list) is stored first as <c>upload.json</c>, so that publishing the same
    /// files again after an interruption resumes it: parts already stored with the right size are not sent again.
    /// </summary>
    public async Task<PublishResult> PublishAsync(string sourceDirectory, CancellationToken cancellation = default)
    {
        if (!Directory.Exists(sourceDirectory))
            throw new DirectoryNotFoundException($"Cannot publish {sourceDirectory}: no such folder.");
        var previous = await GetManifestAsync(cancellation);
        var paths = Directory.GetFiles(sourceDirectory, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(sourceDirectory, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToList();
        var files = new List<ArtifactFile>(paths.Count);
        foreach (var relative in paths)
        {
            ArtifactManifest.CheckRelativePath(relative, sourceDirectory);
            var full = Path.Combine(sourceDirectory, relative);
            files.Add(new ArtifactFile(relative, new FileInfo(full).Length, await HashFileAsync(full, cancellation)));
        }

        var pending = await ReadPendingAsync(cancellation);
        var resuming = pending is not null && pending.PartSize == PartSize && pending.Files.SequenceEqual(files) && pending.Publish != previous?.Publish;
        var plan = resuming ? pending! with { Created = DateTimeOffset.UtcNow }
            : new ArtifactManifest(ArtifactManifest.FormatName, ArtifactManifest.NewPublishId(), DateTimeOffset.UtcNow, PartSize, files);
        if (!resuming) await PutBytesAsync(UploadFile, plan.ToJson(), cancellation);

        long uploaded = 0, resumed = 0;
        foreach (var file in files)
        {
            var full = Path.Combine(sourceDirectory, file.Path);
            foreach (var (key, offset, length) in plan.Objects(file))
            {
                if (resuming && await SizeAsync(key, cancellation) == length)
                {
                    resumed += length;
                    continue;
                }
                await PutAsync(key, () => new FileSlice(OpenRead(full), offset, length), length, cancellation);
                uploaded += length;
            }
        }
        await PutBytesAsync(ArtifactManifest.FileName, plan.ToJson(), cancellation);
        await DeleteAsync(UploadFile, cancellation);

        if (previous is not null && previous.Publish != plan.Publish)
            foreach (var old in previous.Files)
            foreach (var (key, _, _) in previous.Objects(old))
                await DeleteAsync(key, cancellation);
        return new PublishResult(plan, uploaded, resumed);
    }

    /// <summary>
    /// Removes the artifact: the manifest first (the one step that makes it invisible), then the files it lists, then a
    /// pending publish's plan and the parts it names. Parts of an interrupted publish whose plan was replaced stay
    /// unreferenced, as after any interrupted publish.
    /// </summary>
    public async Task<bool> RemoveAsync(CancellationToken cancellation = default)
    {
        var manifest = await GetManifestAsync(cancellation);
        var pending = await ReadPendingAsync(cancellation);
        if (manifest is null && pending is null) return false;
        if (manifest is not null) await DeleteAsync(ArtifactManifest.FileName, cancellation);
        foreach (var listing in new[] { manifest, pending }.OfType<ArtifactManifest>())
        foreach (var file in listing.Files)
        foreach (var (key, _, _) in listing.Objects(file))
            if (await SizeAsync(key, cancellation) is not null)
                await DeleteAsync(key, cancellation);
        if (pending is not null) await DeleteAsync(UploadFile, cancellation);
        return manifest is not null;
    }

    /// <summary>Removes every object under the location as a folder, manifests first; the back end lists them (the one
    /// operation that needs a listing: a location's artifacts are not known to it in advance).</summary>
    public abstract Task<int> RemoveAllAsync(CancellationToken cancellation = default);

    /// <summary>Whether <paramref name="key"/> (relative to the location) is the manifest of an artifact at or under it.</summary>
    protected static bool IsManifest(string key) =>
        key == ArtifactManifest.FileName || key.EndsWith("/" + ArtifactManifest.FileName, StringComparison.Ordinal);

    private Task PutBytesAsync(string key, byte[] bytes, CancellationToken cancellation) =>
        PutAsync(key, () => new MemoryStream(bytes, writable: false), bytes.Length, cancellation);

    /// <summary>The plan of a publish that did not finish, if one is stored and readable.</summary>
    private async Task<ArtifactManifest?> ReadPendingAsync(CancellationToken cancellation)
    {
        if (await TryReadSmallAsync(UploadFile, cancellation) is not { } json) return null;
        try
        {
            return ArtifactManifest.Parse(json, $"{Location}/{UploadFile}");
        }
        catch (ArtifactIntegrityException)
        {
            return null; // a broken plan is just not resumed
        }
    }

    /// <summary>
    /// Downloads the published artifact into <paramref name="targetDirectory"/> (created, or replaced as a whole), checking every
    /// file's size and SHA-256 against the manifest. On any failure the target is left as it was.
    /// </summary>
    public async Task<ArtifactManifest> FetchAsync(string targetDirectory, CancellationToken cancellation = default)
    {
        var manifest = await GetManifestAsync(cancellation)
            ?? throw new ArtifactNotFoundException($"{Location} holds no published artifact (no {ArtifactManifest.FileName}).");
        var target = Path.GetFullPath(targetDirectory).TrimEnd(Path.DirectorySeparatorChar);
        var staging = $"{target}.partial-{manifest.Publish}";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        try
        {
            var part = manifest.PartSize > 0 ? new byte[manifest.PartSize] : null;
            foreach (var file in manifest.Files)
            {
                var path = Path.Combine(staging, file.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await FetchFileAsync(manifest, file, path, part, cancellation);
            }
            Directory.CreateDirectory(staging); // an artifact of no files is an empty folder
            Replace(staging, target);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
        return manifest;
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellation)
    {
        await using var stream = OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellation));
    }

    /// <summary>
    /// Writes one file from its object or parts, hashing as it goes, then checks size and SHA-256. A part is read whole into
    /// <paramref name="part"/> before it is written, so a retried GET never writes its bytes twice; a whole-file object
    /// (a local store, which does not retry) is streamed.
    /// </summary>
    private async Task FetchFileAsync(ArtifactManifest manifest, ArtifactFile file, string path, byte[]? part, CancellationToken cancellation)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        var name = $"{Location}/data/{manifest.Publish}/{file.Path}";
        await using (var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous))
        {
            async Task Append(ReadOnlyMemory<byte> bytes)
            {
                size += bytes.Length;
                if (size > file.Size) throw new ArtifactIntegrityException($"{name}: more than the {file.Size} bytes the manifest says.");
                hash.AppendData(bytes.Span);
                await output.WriteAsync(bytes, cancellation);
            }
            foreach (var (key, _, length) in manifest.Objects(file))
            {
                var filled = 0;
                var found = await TryGetAsync(key, async (stream, token) =>
                {
                    if (part is null)
                    {
                        var buffer = new byte[BufferSize];
                        int read;
                        while ((read = await stream.ReadAsync(buffer, token)) > 0) await Append(buffer.AsMemory(0, read));
                        return;
                    }
                    filled = 0; // a retry starts the part again
                    int n;
                    while (filled < part.Length && (n = await stream.ReadAsync(part.AsMemory(filled), token)) > 0) filled += n;
                    if (filled == part.Length && await stream.ReadAsync(new byte[1], token) > 0)
                        throw new ArtifactIntegrityException($"{Location}/{key}: longer than the manifest's part size {part.Length}.");
                }, cancellation);
                if (!found) throw new ArtifactIntegrityException($"{Location}/{key} is missing, but the manifest lists it.");
                if (part is not null)
                {
                    if (filled != length) throw new ArtifactIntegrityException($"{Location}/{key}: {filled} bytes where the manifest implies {length}.");
                    await Append(part.AsMemory(0, filled));
                }
            }
        }
        if (size != file.Size)
            throw new ArtifactIntegrityException($"{name}: {size.ToString(System.Globalization.CultureInfo.InvariantCulture)} bytes where the manifest says {file.Size}.");
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != file.Sha256)
            throw new ArtifactIntegrityException($"{name}: SHA-256 {actual} where the manifest says {file.Sha256}; the object is corrupt or was changed.");
    }

    /// <summary>Puts <paramref name="staging"/> where <paramref name="target"/> was: a rename, with the old folder moved aside first.</summary>
    private static void Replace(string staging, string target)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(staging, target);
            return;
        }
        var aside = $"{target}.old-{Guid.NewGuid():N}";
        Directory.Move(target, aside);
        Directory.Move(staging, target);
        Directory.Delete(aside, recursive: true);
    }
}
