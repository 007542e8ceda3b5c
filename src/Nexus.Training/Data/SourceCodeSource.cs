namespace Nexus.Training.Data;

/// <summary>
/// Program source from a package: files under the given folders ("" meaning the package root's own files, not its
/// subfolders) with the given extensions, one document per
/// file, its path first as a comment line (<c>// lodash/debounce.js</c>). Minified or generated files
/// (<c>*.min.js</c>, source maps, lines over 1,000 characters) are left out: they are not code people write.
/// </summary>
public sealed class SourceCodeSource(NpmPackage package, IReadOnlyList<string> folders, IReadOnlyList<string> extensions,
    IReadOnlyList<string>? excluded = null) : IDocumentSource
{
    private const int LongestLine = 1000;
    private readonly IReadOnlyList<string> excluded = excluded ?? [];

    public NpmPackage Package { get; } = package;

    public string Selection =>
        $"{string.Join(", ", extensions.Select(e => "*" + e))} {string.Join(", ", folders.Select(f => f.Length == 0 ? "at the package root" : $"under {f}/"))}" +
        (excluded.Count > 0 ? $" except {string.Join(", ", excluded)}" : "") + ", one document per file";

    public IEnumerable<SourceDocument> Read(string tarball) =>
        PackageArchive.Read(tarball, Includes)
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .Select(file => (file.Path, file.Text))
            .Where(file => !file.Text.Split('\n').Any(line => line.Length > LongestLine))
            .Select(file => new SourceDocument($"{Package.Spec}:{file.Path}", $"// {Package.Name}/{file.Path}\n{file.Text}"));

    private bool Includes(string path)
    {
        if (!extensions.Any(e => path.EndsWith(e, StringComparison.Ordinal))) return false;
        if (path.EndsWith(".min.js", StringComparison.Ordinal) || excluded.Contains(path)) return false;
        var folder = path.Contains('/') ? path[..path.LastIndexOf('/')] : "";
        return folders.Any(f => f.Length == 0 ? folder.Length == 0 : folder == f || folder.StartsWith(f + "/", StringComparison.Ordinal));
    }
}
