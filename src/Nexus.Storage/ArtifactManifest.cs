using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nexus.Storage;

/// <summary>What a publish did: the manifest it wrote, and the bytes it sent and those an interrupted earlier attempt had already stored.</summary>
public sealed record PublishResult(ArtifactManifest Manifest, long UploadedBytes, long ResumedBytes);

/// <summary>One file of an artifact: its path inside the artifact ('/'-separated), size in bytes and SHA-256 (lower-case hex).</summary>
public sealed record ArtifactFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>
/// The listing of a published artifact, written last: a reader trusts nothing the manifest does not name. The files of
/// publish <see cref="Publish"/> live under <c>data/PUBLISH/</c> next to it, so a new publish never touches the files
/// an older manifest names, and swapping the manifest is the one step that makes it visible. With a
/// <see cref="PartSize"/>, each file is stored as parts of that many bytes (<c>PATH.part-00000</c>, …; the last may
/// be shorter), so that no single transfer holds more than one part and an interrupted upload can resume by part.
/// </summary>
public sealed record ArtifactManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("publish")] string Publish,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("part_size")] long PartSize,
    [property: JsonPropertyName("files")] IReadOnlyList<ArtifactFile> Files)
{
    public const string FormatName = "nexus.artifact/v1";
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public long TotalSize => Files.Sum(f => f.Size);

    /// <summary>Equal when every field is, the file lists compared entry by entry.</summary>
    public bool Equals(ArtifactManifest? other) =>
        other is not null && Format == other.Format && Publish == other.Publish && Created == other.Created && PartSize == other.PartSize
        && Files.SequenceEqual(other.Files);

    public override int GetHashCode() => HashCode.Combine(Format, Publish, Created, Files.Count);

    /// <summary>Where a file of this publish is stored, relative to the artifact's location: one key, or one per part.</summary>
    public IReadOnlyList<(string Key, long Offset, long Length)> Objects(ArtifactFile file) => Objects(Publish, PartSize, file.Path, file.Size);

    internal static IReadOnlyList<(string Key, long Offset, long Length)> Objects(string publish, long partSize, string path, long size)
    {
        if (partSize <= 0) return [($"data/{publish}/{path}", 0, size)];
        var parts = Math.Max(1, (size + partSize - 1) / partSize);
        return [.. Enumerable.Range(0, (int)parts).Select(p =>
            ($"data/{publish}/{path}.part-{p:D5}", p * partSize, Math.Min(partSize, size - p * partSize)))];
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses and checks a manifest; <paramref name="source"/> names it in errors.</summary>
    public static ArtifactManifest Parse(ReadOnlySpan<byte> json, string source)
    {
        ArtifactManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ArtifactManifest>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ArtifactIntegrityException($"{source} is not a valid artifact manifest: {e.Message}");
        }
        if (manifest is null || manifest.Format != FormatName)
            throw new ArtifactIntegrityException($"{source} is not a {FormatName} manifest (format '{manifest?.Format}').");
        if (string.IsNullOrEmpty(manifest.Publish) || manifest.Publish.Contains('/') || manifest.Files is null || manifest.PartSize < 0)
            throw new ArtifactIntegrityException($"{source} has no valid publish id or file list.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            CheckRelativePath(file.Path, source);
            if (!seen.Add(file.Path)) throw new ArtifactIntegrityException($"{source} lists '{file.Path}' twice.");
            if (file.Size < 0 || file.Sha256 is not { Length: 64 } || !file.Sha256.All(char.IsAsciiHexDigitLower))
                throw new ArtifactIntegrityException($"{source}: '{file.Path}' has an invalid size or sha256.");
        }
        return manifest;
    }

    /// <summary>A new publish id: sortable by time, unique across writers.</summary>
    public static string NewPublishId() => $"{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmss'Z'}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    internal static void CheckRelativePath(string path, string source)
    {
        if (string.IsNullOrEmpty(path) || path.StartsWith('/') || path.Contains('\\') || path.Split('/').Any(part => part is "" or "." or ".."))
            throw new ArtifactIntegrityException($"{source}: '{path}' is not a relative '/'-separated path inside the artifact.");
    }
}
