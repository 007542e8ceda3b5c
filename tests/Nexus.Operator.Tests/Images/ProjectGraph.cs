using System.Xml.Linq;

namespace Nexus.Operator.Tests.Images;

/// <summary>
/// The MSBuild project graph read from the files themselves: a project's ProjectReferences, followed transitively, and
/// the PackageReferences each project (and each file it imports, e.g. build/TorchSharp.props) declares. Conditions are
/// ignored on purpose: a package named under any backend counts as reached.
/// </summary>
internal static class ProjectGraph
{
    /// <summary>Full paths of <paramref name="project"/> and every project it references, directly or not.</summary>
    public static IReadOnlySet<string> Closure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var current))
        {
            Assert.True(File.Exists(current), $"ProjectReference to a missing project: {current}");
            if (!seen.Add(current))
                continue;
            foreach (var reference in Elements(current, "ProjectReference"))
                pending.Push(Resolve(current, reference.Attribute("Include")!.Value));
        }
        return seen;
    }

    /// <summary>The files a project imports (Import Project="..."), recursively, including the repository's
    /// Directory.Build.props, .targets and (central package versions) Directory.Packages.props, which the SDK imports
    /// into every project; plus the source files of inline tasks (Code Source="...").</summary>
    public static IReadOnlySet<string> Imports(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([
            Path.GetFullPath(project),
            RepositoryRoot.Combine("Directory.Build.props"),
            RepositoryRoot.Combine("Directory.Build.targets"),
            RepositoryRoot.Combine("Directory.Packages.props"),
        ]);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current))
                continue;
            foreach (var import in Elements(current, "Import"))
                pending.Push(Resolve(current, import.Attribute("Project")!.Value));
            foreach (var code in Elements(current, "Code").Where(c => c.Attribute("Source") is not null))
                seen.Add(Resolve(current, code.Attribute("Source")!.Value));
        }
        seen.Remove(Path.GetFullPath(project));
        return seen;
    }

    /// <summary>Package ids the project names itself or through the files it imports.</summary>
    public static IReadOnlySet<string> Packages(string project) =>
        Imports(project).Append(Path.GetFullPath(project))
            .Where(file => file.EndsWith("proj", StringComparison.Ordinal) || file.EndsWith(".props", StringComparison.Ordinal) || file.EndsWith(".targets", StringComparison.Ordinal))
            .SelectMany(file => Elements(file, "PackageReference"))
            .Select(reference => reference.Attribute("Include")!.Value)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The value of a property set in the project file itself (AssemblyName, ...), or null.</summary>
    public static string? Property(string project, string name) =>
        Elements(project, name).Select(e => e.Value.Trim()).LastOrDefault();

    private static IEnumerable<XElement> Elements(string file, string name) =>
        XDocument.Load(file).Descendants().Where(e => e.Name.LocalName == name);

    private static string Resolve(string from, string reference)
    {
        var directory = Path.GetDirectoryName(from)! + Path.DirectorySeparatorChar;
        var path = reference.Replace("$(MSBuildThisFileDirectory)", directory, StringComparison.Ordinal)
            .Replace("$(MSBuildProjectDirectory)", directory, StringComparison.Ordinal)
            .Replace('\\', '/');
        Assert.DoesNotContain("$(", path);
        return Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(directory, path));
    }
}
