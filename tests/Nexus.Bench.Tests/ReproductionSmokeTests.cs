using System.Diagnostics;
using Nexus.Training;

namespace Nexus.Bench.Tests;

/// <summary>
/// <c>make reproduce</c>'s pipeline end to end (bench/reproduce.sh --smoke: the same script and `nexus` binary, a tiny
/// model and budgets) on the synthetic corpus of <see cref="SyntheticDomains"/>: every step runs, the experts
/// specialise, the MoEs beat the dense average, the extension takes in its domain, removal keeps the rest.
/// </summary>
public sealed class ReproductionSmokeTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "nexus-smoke-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void TheReproductionPipelineRunsEndToEndAndItsExpertsSpecialise()
    {
        var data = Path.Combine(root, "data");
        var output = Path.Combine(root, "runs");
        SyntheticDomains.Write(data);
        string[] initial = SyntheticDomains.Initial, all = [.. initial, SyntheticDomains.Extension];

        var (exitCode, log) = RunScript(new Dictionary<string, string>
        {
            ["DATA"] = data, ["OUT"] = output, ["REPORT"] = Path.Combine(root, "reproduction.md"), ["THREADS"] = "1",
            ["INITIAL"] = string.Join(' ', initial), ["EXTENSION"] = SyntheticDomains.Extension, ["REMOVED"] = SyntheticDomains.Removed,
        });
        Assert.True(exitCode == 0, $"bench/reproduce.sh --smoke exited {exitCode}:\n{log}");

        var eval = Path.Combine(output, "run-1", "eval");
        EvaluationReport Report(string model) => EvaluationReport.Load(Path.Combine(eval, model, "report.json"));
        double Ppl(string model, string domain) => Report(model).Domains.Single(d => d.Domain == domain).Perplexity;
        double Average(string model, IEnumerable<string> domains) => domains.Average(d => Ppl(model, d));

        // Branching: on every domain, its own expert is the best of the five.
        foreach (var domain in all)
        {
            var own = Ppl($"expert-{domain}", domain);
            foreach (var other in all.Where(e => e != domain))
                Assert.True(own < Ppl($"expert-{other}", domain), $"expert-{domain} ({own:F2}) is not better than expert-{other} on {domain}.");
        }

        // Upcycling: both finetuned MoEs beat the seed and the experts' parameter average on the initial domains.
        foreach (var moe in new[] { "linear", "nexus" })
        {
            Assert.True(Average(moe, initial) < Average("seed", initial), $"{moe}: {Average(moe, initial):F2} vs seed {Average("seed", initial):F2}");
            Assert.True(Average(moe, initial) < Average("dense-average", initial), $"{moe}: {Average(moe, initial):F2} vs dense average {Average("dense-average", initial):F2}");
        }

        // Routing: Nexus sends each domain's tokens to its own expert more often than a uniform router would, on average.
        var nexus = Report("nexus");
        Assert.Equal(initial, nexus.Experts);
        var ownShare = initial.Average(d => nexus.Domains.Single(x => x.Domain == d).Routing!.OwnExpert!.Value);
        Assert.True(ownShare > 1.0 / initial.Length, $"Nexus own-expert share {ownShare:P1} is not above uniform ({1.0 / initial.Length:P1}).");

        // Extension: the code expert is in, and a dozen finetune steps take code perplexity down by an order of magnitude.
        var extended = Report("nexus-extend-12");
        Assert.Equal(all, extended.Experts);
        Assert.True(Ppl("nexus-extend-12", SyntheticDomains.Extension) * 10 < Ppl("nexus", SyntheticDomains.Extension));

        // Removal: the expert is gone and, with no training, the remaining domains stay close to where they were.
        var kept = initial.Where(d => d != SyntheticDomains.Removed).ToArray();
        var removed = $"nexus-remove-{SyntheticDomains.Removed}";
        Assert.Equal(kept, Report(removed).Experts);
        Assert.True(Average(removed, kept) < 1.5 * Average("nexus", kept), $"after removal {Average(removed, kept):F2} vs before {Average("nexus", kept):F2}");

        // The summary the script ends with: every table, the experts' verdicts included.
        var markdown = File.ReadAllText(Path.Combine(root, "reproduction.md"));
        foreach (var heading in new[] { "### Branching", "### Upcycling", "### Extension with a `code` expert", "### Routing", "### Removal: `nexus remove --expert genome`" })
            Assert.Contains(heading, markdown);
        foreach (var chart in new[] { "extension-code.png", "extension-forgetting.png", "nexus-routing.png" })
            Assert.True(File.Exists(Path.Combine(root, "reproduction-plots", chart)), $"{chart} is missing");
        Assert.Equal(all.Length, markdown.Split('\n').Count(line => line.StartsWith("| ", StringComparison.Ordinal) && line.EndsWith("| yes |", StringComparison.Ordinal)));
    }

    /// <summary>Runs <c>bench/reproduce.sh --smoke</c> from the repository with the binaries of this build's configuration.</summary>
    private static (int ExitCode, string Log) RunScript(IReadOnlyDictionary<string, string> environment)
    {
        var repository = RepositoryRoot.Path;
        var start = new ProcessStartInfo("bash", ["bench/reproduce.sh", "--smoke"])
        {
            WorkingDirectory = repository, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment["CONFIGURATION"] = AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out after 10 minutes\n" + stdout.Result + stderr.Result);
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

}
