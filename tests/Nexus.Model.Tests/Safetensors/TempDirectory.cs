namespace Nexus.Model.Tests.Safetensors;

/// <summary>A fresh directory per test, removed afterwards so tests never see each other's files.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nexus-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string[] ListFiles() =>
        Directory.GetFiles(Path, "*", SearchOption.AllDirectories)
            .Select(f => System.IO.Path.GetRelativePath(Path, f))
            .Order(StringComparer.Ordinal)
            .ToArray();

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
