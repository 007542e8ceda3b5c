namespace Nexus.Api.Crds;

/// <summary>Whole-file writes that a concurrent reader never sees half done.</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> beside <paramref name="path"/>, then renames it into place (a rename
    /// within one folder is atomic), creating the folder when it is missing.</summary>
    public static void WriteAllText(string path, string text)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        var partial = path + ".partial";
        File.WriteAllText(partial, text);
        File.Move(partial, path, overwrite: true);
    }
}
