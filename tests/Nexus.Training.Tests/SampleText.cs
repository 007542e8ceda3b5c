namespace Nexus.Training.Tests;

/// <summary>A small English text with enough structure for a tiny model to learn quickly.</summary>
internal static class SampleText
{
    private static readonly string[] Sentences =
    [
        "The river runs past the old mill and under the stone bridge.",
        "A heron waits in the reeds while the water moves slowly south.",
        "In the morning the baker opens the shop and the street smells of bread.",
        "Children walk to school along the river, counting the boats.",
        "The miller repairs the wheel every spring before the rains come.",
        "At night the lamps on the bridge shine on the dark water.",
    ];

    public static string Build(int paragraphs, int seed = 0)
    {
        var random = new Random(seed);
        var lines = new List<string>();
        for (var p = 0; p < paragraphs; p++)
            lines.Add(string.Join(" ", Enumerable.Range(0, 4).Select(_ => Sentences[random.Next(Sentences.Length)])));
        return string.Join("\n\n", lines) + "\n";
    }

    public static string WriteFile(string directory, int paragraphs = 80, string name = "river.txt", int seed = 0)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, Build(paragraphs, seed));
        return path;
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nexus-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
