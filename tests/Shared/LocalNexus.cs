namespace Nexus.Testing;

/// <summary>Where the <c>nexus</c> binary of this checkout is: <c>src/Nexus.Cli/bin/CONFIGURATION/net10.0/linux-x64/nexus</c>
/// (built by <c>make build</c>, or <c>dotnet build src/Nexus.Cli -c Release</c>).</summary>
internal static class LocalNexus
{
    public static string Path
    {
        get
        {
            var root = RepositoryRoot.Path;
            var configuration = AppContext.BaseDirectory.Contains($"{System.IO.Path.DirectorySeparatorChar}Debug{System.IO.Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                ? "Debug"
                : "Release";
            return System.IO.Path.Combine(root, "src", "Nexus.Cli", "bin", configuration, "net10.0", "linux-x64", "nexus");
        }
    }

    /// <summary>Fails with the command that builds the binary when it is missing.</summary>
    public static string Require()
    {
        var path = Path;
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The nexus binary is not built: {path}. Run `dotnet build src/Nexus.Cli -c Release` (or `make build`).", path);
    }

}
