using System.Globalization;
using System.Text;
using Nexus.Training;
using Nexus.Training.Reports;

namespace Nexus.Bench;

/// <summary>
/// <c>Nexus.Bench reproduce-report --runs DIR [--out FILE]</c>: reads the evaluate reports that
/// bench/reproduce.sh leaves in DIR/run-*/eval/NAME/report.json and writes the Markdown tables of
/// docs/reproduction.md (mean over runs, with the min–max spread when there is more than one run),
/// and copies run-1's heat maps next to the Markdown file. The domains are read from the reports: the
/// upcycled models' experts are the initial ones, the expert an extension adds is the extension's, and
/// the <c>nexus-remove-NAME</c> report names the removed one.
/// </summary>
public static class ReproduceReport
{
    public static object Run(BenchArguments arguments)
    {
        var runsDirectory = arguments.Get("runs", "runs/reproduce");
        var output = arguments.Get("out", "bench/results/reproduction.md");
        var (runs, reports) = LoadRuns(runsDirectory);
        var markdown = Build(runsDirectory, runs, reports);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, markdown);
        var plots = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, "reproduction-plots");
        var copied = CopyHeatMaps(runsDirectory, plots);
        var charts = SaveExtensionCharts(reports, plots);
        return new { command = "reproduce-report", runs = runs.Count, output, heat_maps = copied, charts };
    }

    /// <summary>The Markdown for every run folder under <paramref name="runsDirectory"/>; missing reports show as "—".</summary>
    public static string Build(string runsDirectory, out int runCount)
    {
        var (runs, reports) = LoadRuns(runsDirectory);
        runCount = runs.Count;
        return Build(runsDirectory, runs, reports);
    }

    /// <summary>The run-* folders under <paramref name="runsDirectory"/> and, for each, its evaluate reports by model name.</summary>
    private static (List<string> Runs, List<Dictionary<string, EvaluationReport>> Reports) LoadRuns(string runsDirectory)
    {
        var runs = Directory.Exists(runsDirectory)
            ? Directory.GetDirectories(runsDirectory, "run-*").OrderBy(d => d, StringComparer.Ordinal).ToList()
            : [];
        if (runs.Count == 0) throw new ArgumentException($"{runsDirectory} holds no run-* folders; run bench/reproduce.sh first.");
        return (runs, runs.Select(run => LoadReports(Path.Combine(run, "eval"))).ToList());
    }

    private static string Build(string runsDirectory, List<string> runs, List<Dictionary<string, EvaluationReport>> reports)
    {
        var (initial, extension, removed) = Domains(reports);
        var budgets = reports.SelectMany(r => r.Keys).Where(k => k.StartsWith("nexus-extend-", StringComparison.Ordinal))
            .Select(k => long.Parse(k["nexus-extend-".Length..], CultureInfo.InvariantCulture)).Distinct().Order().ToList();

        double? Ppl(Dictionary<string, EvaluationReport> r, string model, string domain) =>
            r.TryGetValue(model, out var report) ? report.Domains.FirstOrDefault(d => d.Domain == domain)?.Perplexity : null;
        double? Mean(Dictionary<string, EvaluationReport> r, string model, IEnumerable<string> domains)
        {
            var values = domains.Select(d => Ppl(r, model, d)).ToList();
            return values.Any(v => v is null) ? null : values.Average(v => v!.Value);
        }
        string Cell(Func<Dictionary<string, EvaluationReport>, double?> pick, string format = "F2", double factor = 1, string suffix = "")
        {
            var values = reports.Select(pick).Where(v => v is not null).Select(v => v!.Value * factor).ToList();
            if (values.Count == 0) return "—";
            var mean = values.Average().ToString(format, CultureInfo.InvariantCulture) + suffix;
            return values.Count == 1 || values.Min() == values.Max() ? mean
                : $"{mean} ({values.Min().ToString(format, CultureInfo.InvariantCulture)}–{values.Max().ToString(format, CultureInfo.InvariantCulture)})";
        }

        var text = new StringBuilder();
        text.AppendLine($"Runs: {runs.Count} ({string.Join(", ", runs.Select(Path.GetFileName))}). " +
                        (runs.Count > 1 ? "Cells: mean over runs (min–max)." : "Cells: one run."));
        var settings = Path.Combine(runsDirectory, "settings.txt");
        if (File.Exists(settings)) text.AppendLine().AppendLine("```").Append(File.ReadAllText(settings)).AppendLine("```");

        IReadOnlyList<string> all = extension is null ? initial : [.. initial, extension];
        text.AppendLine().AppendLine("### Branching: each dense expert's validation perplexity on every domain").AppendLine();
        text.AppendLine("The expert's own domain in bold; *specialised* when it is the best expert on its own domain in every run.").AppendLine();
        text.AppendLine($"| expert | {string.Join(" | ", all)} | specialised |");
        text.AppendLine($"|---|{string.Concat(all.Select(_ => "---:|"))}---|");
        foreach (var expert in all)
        {
            var cells = all.Select(d => Cell(r => Ppl(r, $"expert-{expert}", d))).Select((cell, i) => all[i] == expert ? $"**{cell}**" : cell);
            var best = reports.Select(r => all.Select(e => (Expert: e, Ppl: Ppl(r, $"expert-{e}", expert))).ToList()).Where(row => row.All(x => x.Ppl is not null)).ToList();
            var verdict = best.Count == 0 ? "—" : best.All(row => row.MinBy(x => x.Ppl)!.Expert == expert) ? "yes" : "no";
            text.AppendLine($"| {expert} | {string.Join(" | ", cells)} | {verdict} |");
        }

        text.AppendLine().AppendLine("### Upcycling: validation perplexity on the initial domains (lower is better)").AppendLine();
        text.AppendLine($"| model | {string.Join(" | ", initial)} | average |");
        text.AppendLine($"|---|{string.Concat(initial.Select(_ => "---:|"))}---:|");
        foreach (var (model, label) in new[]
                 {
                     ("seed", "seed"), ("seed-continued", "seed, trained on with the same compute"), ("dense-average", "dense parameter average of the experts"),
                     ("linear", "MoE, linear router + finetune"), ("nexus", "Nexus MoE + finetune"),
                 })
            text.AppendLine($"| {label} | {string.Join(" | ", initial.Select(d => Cell(r => Ppl(r, model, d))))} | {Cell(r => Mean(r, model, initial))} |");

        if (extension is not null)
        {
            text.AppendLine().AppendLine($"### Extension with a `{extension}` expert: perplexity after `nexus extend --steps N`").AppendLine();
            text.AppendLine($"Forgetting = the average perplexity of the {initial.Count} initial domains; gain = (linear − Nexus) / linear on {extension} perplexity.").AppendLine();
            text.AppendLine($"| extension steps | {extension}: linear | {extension}: Nexus | Nexus gain on {extension} | initial avg: linear | initial avg: Nexus |");
            text.AppendLine("|---:|---:|---:|---:|---:|---:|");
            text.AppendLine($"| before ({initial.Count} experts) | {Cell(r => Ppl(r, "linear", extension))} | {Cell(r => Ppl(r, "nexus", extension))} | " +
                            $"{Cell(r => Gain(Ppl(r, "linear", extension), Ppl(r, "nexus", extension)), "F1", 100, "%")} | {Cell(r => Mean(r, "linear", initial))} | {Cell(r => Mean(r, "nexus", initial))} |");
            foreach (var steps in budgets)
            {
                string linear = $"linear-extend-{steps}", nexus = $"nexus-extend-{steps}";
                text.AppendLine($"| {steps} | {Cell(r => Ppl(r, linear, extension))} | {Cell(r => Ppl(r, nexus, extension))} | " +
                                $"{Cell(r => Gain(Ppl(r, linear, extension), Ppl(r, nexus, extension)), "F1", 100, "%")} | {Cell(r => Mean(r, linear, initial))} | {Cell(r => Mean(r, nexus, initial))} |");
            }
        }

        text.AppendLine().AppendLine("### Routing: share of a domain's tokens sent to its own expert (averaged over layers)").AppendLine();
        var routed = new List<(string Model, string Label)> { ("linear", "linear + finetune"), ("nexus", "Nexus + finetune") };
        if (budgets.Count > 0)
        {
            routed.Add(($"linear-extend-{budgets[^1]}", $"linear, extended ({budgets[^1]} steps)"));
            routed.Add(($"nexus-extend-{budgets[^1]}", $"Nexus, extended ({budgets[^1]} steps)"));
        }
        text.AppendLine($"| model | {string.Join(" | ", all)} | uniform |");
        text.AppendLine($"|---|{string.Concat(all.Select(_ => "---:|"))}---:|");
        foreach (var (model, label) in routed)
        {
            var experts = reports.Select(r => r.TryGetValue(model, out var x) ? x.Experts.Count : 0).Max();
            text.AppendLine($"| {label} | {string.Join(" | ", all.Select(d => Cell(r => Own(r, model, d), "F1", 100, "%")))} | " +
                            $"{(experts > 0 ? (100.0 / experts).ToString("F1", CultureInfo.InvariantCulture) + "%" : "—")} |");
        }

        if (removed is not null)
        {
            text.AppendLine().AppendLine($"### Removal: `nexus remove --expert {removed}` from the finetuned Nexus model, no further training").AppendLine();
            text.AppendLine("| domain | before | after |").AppendLine("|---|---:|---:|");
            foreach (var d in all)
                text.AppendLine($"| {d} | {Cell(r => Ppl(r, "nexus", d))} | {Cell(r => Ppl(r, $"nexus-remove-{removed}", d))} |");
        }

        text.AppendLine().AppendLine("### Wall-clock time per step (run-1, seconds)").AppendLine();
        var timings = Path.Combine(runs[0], "timings.tsv");
        if (File.Exists(timings))
        {
            var rows = File.ReadAllLines(timings).Select(l => l.Split('\t')).Where(p => p.Length == 2).ToList();
            text.AppendLine("| output | seconds |").AppendLine("|---|---:|");
            foreach (var p in rows) text.AppendLine($"| {Path.GetRelativePath(runs[0], p[0])} | {p[1]} |");
            text.AppendLine($"| **total** | {rows.Sum(p => long.Parse(p[1], CultureInfo.InvariantCulture))} |");
        }
        else text.AppendLine("(no timings.tsv)");
        return text.ToString();
    }

    /// <summary>
    /// The initial domains (the upcycled models' experts), the extension's domain (the expert an extended model adds)
    /// and the removed one (from the <c>nexus-remove-NAME</c> report), as the runs' reports show them.
    /// </summary>
    private static (IReadOnlyList<string> Initial, string? Extension, string? Removed) Domains(IReadOnlyList<Dictionary<string, EvaluationReport>> reports)
    {
        var upcycled = reports.SelectMany(r => new[] { "nexus", "linear" }.Select(m => r.GetValueOrDefault(m))).FirstOrDefault(r => r is not null)
            ?? throw new ArgumentException("No run has evaluated an upcycled model (eval/nexus or eval/linear) yet; the tables start from those.");
        var initial = upcycled.Experts;
        var extension = reports.SelectMany(r => r.Where(kv => kv.Key.Contains("-extend-", StringComparison.Ordinal)))
            .SelectMany(kv => kv.Value.Experts).FirstOrDefault(e => !initial.Contains(e));
        const string removal = "nexus-remove-";
        var removed = reports.SelectMany(r => r.Keys).FirstOrDefault(k => k.StartsWith(removal, StringComparison.Ordinal))?[removal.Length..];
        return (initial, extension, removed);
    }

    private static double? Gain(double? linear, double? nexus) => linear is null || nexus is null ? null : (linear - nexus) / linear;

    private static double? Own(Dictionary<string, EvaluationReport> reports, string model, string domain) =>
        reports.TryGetValue(model, out var report) ? report.Domains.FirstOrDefault(d => d.Domain == domain)?.Routing?.OwnExpert : null;

    private static Dictionary<string, EvaluationReport> LoadReports(string evalDirectory)
    {
        var reports = new Dictionary<string, EvaluationReport>();
        if (!Directory.Exists(evalDirectory)) return reports;
        foreach (var directory in Directory.GetDirectories(evalDirectory))
        {
            var path = Path.Combine(directory, "report.json");
            if (File.Exists(path)) reports[Path.GetFileName(directory)] = EvaluationReport.Load(path);
        }
        return reports;
    }

    /// <summary>
    /// extension-code.png (the extension domain's perplexity) and extension-forgetting.png (the initial domains'
    /// average) against the extension's finetune steps, linear and Nexus, mean over runs with min–max bars.
    /// </summary>
    private static int SaveExtensionCharts(IReadOnlyList<Dictionary<string, EvaluationReport>> reports, string target)
    {
        var (initial, extension, _) = Domains(reports);
        if (extension is null) return 0;
        Directory.CreateDirectory(target);
        var charts = 0;
        foreach (var (file, title, label, domains) in new[]
                 {
                     ("extension-code.png", $"Extension: {extension} perplexity", $"{extension} validation perplexity", new[] { extension }),
                     ("extension-forgetting.png", "Extension: the initial domains (forgetting)", "initial domains' mean perplexity", initial.ToArray()),
                 })
        {
            var series = new List<LineSeries>();
            foreach (var (router, name) in new[] { ("linear", "linear router"), ("nexus", "Nexus") })
            {
                var points = reports.SelectMany(r => r.Keys).Where(k => k.StartsWith($"{router}-extend-", StringComparison.Ordinal))
                    .Select(k => long.Parse(k[$"{router}-extend-".Length..], CultureInfo.InvariantCulture)).Distinct().Order()
                    .Select(steps => (Steps: steps, Values: reports.Where(r => r.ContainsKey($"{router}-extend-{steps}"))
                        .Select(r => domains.Average(d => r[$"{router}-extend-{steps}"].Domains.Single(x => x.Domain == d).Perplexity)).ToList()))
                    .Where(p => p.Values.Count > 0).ToList();
                if (points.Count == 0) continue;
                series.Add(new LineSeries(name, [.. points.Select(p => (double)p.Steps)], [.. points.Select(p => p.Values.Average())],
                    [.. points.Select(p => p.Values.Min())], [.. points.Select(p => p.Values.Max())]));
            }
            if (series.Count == 0) continue;
            LineChart.Save(Path.Combine(target, file), title, "finetune steps after nexus extend", label, series);
            charts++;
        }
        return charts;
    }

    private static int CopyHeatMaps(string runsDirectory, string target)
    {
        var eval = Path.Combine(runsDirectory, "run-1", "eval");
        if (!Directory.Exists(eval)) return 0;
        Directory.CreateDirectory(target);
        var count = 0;
        foreach (var directory in Directory.GetDirectories(eval))
        foreach (var png in Directory.GetFiles(directory, "*.png"))
        {
            File.Copy(png, Path.Combine(target, $"{Path.GetFileName(directory)}-{Path.GetFileName(png)}"), overwrite: true);
            count++;
        }
        return count;
    }
}
