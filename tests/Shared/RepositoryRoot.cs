namespace Nexus.Testing;

/// <summary>The checkout the tests run from: the nearest folder above the test binaries holding Nexus.Operator.sln.
/// One source file, linked into every test project that reads the repository (crds/, examples/, the built binaries).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Nexus.Operator.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"No Nexus.Operator.sln above {AppContext.BaseDirectory}.");
    }
}
