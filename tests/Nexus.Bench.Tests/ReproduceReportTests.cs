using Nexus.Training;

namespace Nexus.Bench.Tests;

public sealed class ReproduceReportTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "nexus-repro-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    private static readonly string[] Domains = ["news", "science", "books", "speeches", "code"];

    private void Write(int run, string model, double basePerplexity, IReadOnlyList<string>? experts = null, double own = 0.5, string? expertOf = null)
    {
        var names = experts ?? [];
        var domains = Domains.Select((d, i) =>
        {
            RoutingShares? routing = null;
            if (names.Count > 0)
            {
                var average = names.Select(e => e == d ? own : (1 - own) / Math.Max(1, names.Count - 1)).ToArray();
                routing = new RoutingShares([average], average, names.Contains(d) ? own : null);
            }
            var perplexity = basePerplexity + i - (d == expertOf ? 3 : 0);
            return new DomainEvaluation(d, Math.Log(perplexity), perplexity, 1000, routing);
        }).ToList();
        var directory = Path.Combine(root, $"run-{run}", "eval", model);
        Directory.CreateDirectory(directory);
        new EvaluationReport(model, names.Count > 0 ? "nexus_moe" : "llama", names, domains, domains.Average(d => d.Perplexity))
            .Save(Path.Combine(directory, "report.json"));
    }

    [Fact]
    public void TablesHoldPerplexitiesGainsRoutingSharesAndTheSpreadOverRuns()
    {
        string[] four = ["news", "science", "books", "speeches"], five = [.. four, "code"];
        foreach (var run in new[] { 1, 2 })
        {
            Write(run, "seed", 20 + run);
            foreach (var domain in Domains) Write(run, $"expert-{domain}", 15, expertOf: run == 2 && domain == "books" ? null : domain);
            Write(run, "linear", 10, four, 0.3);
            Write(run, "nexus", 9, four, 0.6);
            Write(run, "linear-extend-5", 10, five, 0.3);
            Write(run, "nexus-extend-5", run == 1 ? 8 : 9, five, 0.7);
        }

        var markdown = ReproduceReport.Build(root, out var runs);

        Assert.Equal(2, runs);
        // seed news: 21 and 22 → mean 21.50 with the spread.
        Assert.Contains("| seed | 21.50 (21.00–22.00) |", markdown);
        // code perplexity is base + 4: linear 14, Nexus 12 or 13 → gain 14.3% or 7.1%, mean 10.7%.
        Assert.Contains("| 5 | 14.00 | 12.50 (12.00–13.00) | 10.7% (7.1–14.3) |", markdown);
        Assert.Contains("| Nexus + finetune | 60.0% | 60.0% | 60.0% | 60.0% | — | 25.0% |", markdown);
        Assert.Contains("| Nexus, extended (5 steps) | 70.0% | 70.0% | 70.0% | 70.0% | 70.0% | 20.0% |", markdown);
        // news: every expert 15, its own 12; books' expert is no better than the others on books in run 2.
        Assert.Contains("| news | **12.00** | 16.00 | 17.00 | 18.00 | 19.00 | yes |", markdown);
        Assert.Contains("| books | 15.00 | 16.00 | **15.50 (14.00–17.00)** | 18.00 | 19.00 | no |", markdown);
        Assert.Contains("Forgetting = the average perplexity of the 4 initial domains", markdown);
        Assert.DoesNotContain("### Removal", markdown); // no nexus-remove-NAME report
        Assert.Contains("| dense parameter average of the experts | — | — | — | — | — |", markdown);
    }

    [Fact]
    public void AFolderWithoutRunsIsRefusedWithOneLine()
    {
        var error = Assert.Throws<ArgumentException>(() => ReproduceReport.Build(root, out _));
        Assert.Contains("run bench/reproduce.sh first", error.Message);
    }
}
