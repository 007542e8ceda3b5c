using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Nexus.Training.Data;

/// <summary>One regular file of a package, by its path inside the package (npm's leading <c>package/</c> removed).</summary>
public sealed record PackageFile(string Path, byte[] Content)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>The content as UTF-8 text (a byte-order mark dropped, invalid bytes as U+FFFD).</summary>
    public string Text => Utf8.GetString(Content).TrimStart('\uFEFF');
}

/// <summary>Reads npm package tarballs (gzip-compressed tar) in C#, streaming: nothing is unpacked to disk.</summary>
public static class PackageArchive
{
    /// <summary>The regular files whose package-relative path passes <paramref name="include"/>, in the tarball's order.</summary>
    public static IEnumerable<PackageFile> Read(string tarball, Func<string, bool> include)
    {
        using var file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        TarEntry? entry;
        while ((entry = Next(tar, tarball)) is not null)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            var path = PackagePath(entry.Name);
            if (path.Length == 0 || !include(path)) continue;
            using var content = new MemoryStream();
            entry.DataStream.CopyTo(content);
            yield return new PackageFile(path, content.ToArray());
        }
    }

    /// <summary>The <c>license</c> field of the package's package.json, as the package states it (null when absent).</summary>
    public static string? License(string tarball)
    {
        var manifest = Read(tarball, path => path == "package.json").FirstOrDefault();
        if (manifest is null) return null;
        try
        {
            using var json = JsonDocument.Parse(manifest.Content);
            if (!json.RootElement.TryGetProperty("license", out var license)) return null;
            return license.ValueKind switch
            {
                JsonValueKind.String => license.GetString(),
                JsonValueKind.Object when license.TryGetProperty("type", out var type) => type.GetString(),
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>npm tarballs put everything under one top folder (usually <c>package/</c>); paths here are relative to it.</summary>
    private static string PackagePath(string name)
    {
        var path = name.Replace('\\', '/').TrimStart('.', '/');
        var slash = path.IndexOf('/');
        return slash < 0 ? "" : path[(slash + 1)..];
    }

    private static TarEntry? Next(TarReader tar, string tarball)
    {
        try
        {
            return tar.GetNextEntry();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"{tarball} is not a readable npm tarball ({e.Message}); delete it and re-run `nexus data prepare` to fetch it again.", e);
        }
    }
}
