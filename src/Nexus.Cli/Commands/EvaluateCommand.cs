using System.CommandLine;
using Nexus.Model;
using Nexus.Training;
using Nexus.Training.Reports;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus evaluate</c>: per-domain validation perplexity and, for an MoE, where each domain's tokens are routed.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The model folder (dense or MoE).", Required = true };
        var domains = new DomainOptionSet("A domain's text as NAME=PATH (repeat); its held-out tail is evaluated.");
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per evaluation window.", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 16 };
        var tokens = new Option<long>("--eval-tokens") { Description = "Validation tokens per domain (at most).", DefaultValueFactory = _ => 65_536 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Where to write the JSON report.", Required = true };
        var plots = new Option<string?>("--plots") { Description = "Folder for the routing heat maps (PNG; MoE only). Default: the report's folder." };

        var command = new Command("evaluate", "Per-domain validation perplexity and routing statistics (JSON, and PNG heat maps for an MoE).")
        {
            model, seqLen, batch, tokens, threads, output, plots,
        };
        domains.AddTo(command);
        command.SetAction(parsed =>
        {
            CliHost.ConfigureThreads(parsed.GetValue(threads));
            var folder = parsed.GetValue(model)!;
            var (loaded, tokenizer) = ModelCheckpoint.Load(folder);
            using var _ = loaded;
            loaded.PrepareForInference();
            var sequenceLength = parsed.GetValue(seqLen);
            if (sequenceLength < 1 || sequenceLength > loaded.Config.MaxPositionEmbeddings)
                throw new ArgumentException($"--seq-len must be between 1 and the model's max_position_embeddings ({loaded.Config.MaxPositionEmbeddings}); got {sequenceLength}.");
            if (parsed.GetValue(batch) < 1) throw new ArgumentException($"--batch-size must be positive (got {parsed.GetValue(batch)}).");
            if (parsed.GetValue(tokens) < 1) throw new ArgumentException($"--eval-tokens must be positive (got {parsed.GetValue(tokens)}).");

            var report = ModelEvaluation.Run(loaded, Path.GetFullPath(folder), domains.Read(parsed, tokenizer), sequenceLength,
                parsed.GetValue(batch), parsed.GetValue(tokens));
            var target = parsed.GetValue(output)!;
            report.Save(target);
            Console.Write(ReportTable.Format(report));
            Console.WriteLine($"Report written to {target}");
            if (report.Experts.Count > 0)
            {
                var plotFolder = parsed.GetValue(plots) ?? Path.GetDirectoryName(Path.GetFullPath(target))!;
                var written = RoutingPlots.Save(report, plotFolder);
                Console.WriteLine($"Routing heat maps: {written[0]} and {written.Count - 1} per layer");
            }
            return CliHost.Success;
        });
        return command;
    }
}

/// <summary>The report as a Markdown table: perplexity per domain, and for an MoE the layer-averaged routing shares.</summary>
public static class ReportTable
{
    public static string Format(EvaluationReport report)
    {
        var text = new System.Text.StringBuilder();
        var experts = report.Experts;
        text.Append("| domain | perplexity | tokens |");
        foreach (var expert in experts) text.Append($" → {expert} |");
        text.AppendLine();
        text.Append("|---|---:|---:|").Append(string.Concat(experts.Select(_ => "---:|"))).AppendLine();
        foreach (var domain in report.Domains)
        {
            text.Append($"| {domain.Domain} | {domain.Perplexity:F2} | {domain.Tokens:N0} |");
            for (var e = 0; e < experts.Count; e++)
            {
                var share = domain.Routing!.Average[e] * 100;
                text.Append(experts[e] == domain.Domain ? $" **{share:F1}%** |" : $" {share:F1}% |");
            }
            text.AppendLine();
        }
        text.AppendLine($"| average | {report.AveragePerplexity:F2} | |{string.Concat(experts.Select(_ => " |"))}");
        return text.ToString();
    }
}

/// <summary>The routing heat maps of a report: the layer average and one per layer.</summary>
public static class RoutingPlots
{
    public static IReadOnlyList<string> Save(EvaluationReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var rows = report.Domains.Select(d => d.Domain).ToList();
        var layers = report.Domains[0].Routing!.PerLayer.Length;
        var written = new List<string> { Path.Combine(folder, "routing.png") };
        HeatMap.Save(written[0], $"Token routing, mean of {layers} layers", rows, report.Experts, report.AverageRouting());
        for (var layer = 0; layer < layers; layer++)
        {
            var path = Path.Combine(folder, $"routing-layer-{layer:D2}.png");
            HeatMap.Save(path, $"Token routing, layer {layer}", rows, report.Experts, report.LayerRouting(layer));
            written.Add(path);
        }
        return written;
    }
}
