using System.Diagnostics;
using System.Text.Json;

namespace Nexus.Training.Tests.Export;

/// <summary>What tests/reference/hf_moe_reference.py computed: logits [B, T, V] flattened, and per layer the experts of each token.</summary>
internal sealed record ReferenceForward(float[] Logits, long[] Shape, int[][][] Experts);

/// <summary>
/// Runs the independent Python reference forward on Debian's python3 with its python3-torch (not the python3 first
/// on PATH, which has no torch). `make test` installs python3-torch when apt can; without it these tests skip.
/// </summary>
internal static class PythonReference
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> unavailable = new(Probe);

    /// <summary>Null when the reference can run; otherwise why not (the skip message).</summary>
    public static string? WhyUnavailable => unavailable.Value;

    public static string Script { get; } = FindScript();

    public static ReferenceForward Run(string modelDirectory, long[][] ids, string workDirectory)
    {
        var idsPath = Path.Combine(workDirectory, $"ids-{Guid.NewGuid():N}.json");
        var outPath = Path.Combine(workDirectory, $"reference-{Guid.NewGuid():N}.json");
        File.WriteAllText(idsPath, JsonSerializer.Serialize(ids));
        var (code, _, error) = Execute(Script, modelDirectory, "--ids", idsPath, "--out", outPath);
        if (code != 0) throw new InvalidOperationException($"{Script} failed with exit code {code}: {error}");

        using var document = JsonDocument.Parse(File.ReadAllText(outPath));
        var logits = document.RootElement.GetProperty("logits");
        var shape = new long[] { logits.GetArrayLength(), logits[0].GetArrayLength(), logits[0][0].GetArrayLength() };
        var values = logits.EnumerateArray().SelectMany(s => s.EnumerateArray()).SelectMany(t => t.EnumerateArray())
            .Select(v => (float)v.GetDouble()).ToArray(); // float32 values written as exact doubles
        var experts = document.RootElement.GetProperty("experts").EnumerateArray()
            .Select(layer => layer.EnumerateArray().Select(token => token.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray())
            .ToArray();
        return new ReferenceForward(values, shape, experts);
    }

    /// <summary>Where Debian's python3-torch puts the package.</summary>
    public const string DebianTorch = "/usr/lib/python3/dist-packages/torch/__init__.py";

    /// <summary>
    /// Looks for the files rather than running Python: this runs at test discovery, and a child process started
    /// then, before the other collections, perturbs the native-memory measurement of MemoryTests. A torch that is
    /// installed but broken fails the comparison with Python's own error instead of skipping it.
    /// </summary>
    private static string? Probe() =>
        File.Exists(Python) && File.Exists(DebianTorch)
            ? null
            : $"Debian's python3-torch is not installed ({Python} with {DebianTorch}); `make test` installs it through apt " +
              "where it can. Without it the Hugging Face reference forward cannot run.";

    private static (int Code, string Output, string Error) Execute(params string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Python}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Python} {string.Join(' ', arguments)} did not finish in 2 minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "reference", "hf_moe_reference.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"tests/reference/hf_moe_reference.py not found above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A theory that runs only where the Python reference can (xunit 2 has no runtime skip; the attribute decides at discovery).</summary>
internal sealed class PythonReferenceTheoryAttribute : TheoryAttribute
{
    public PythonReferenceTheoryAttribute()
    {
        if (PythonReference.WhyUnavailable is { } reason) Skip = reason;
    }
}
