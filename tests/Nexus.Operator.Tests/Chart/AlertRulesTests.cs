using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nexus.Api.Validation;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Chart;

/// <summary>
/// The chart's alerts (files/alerts.yaml, the PrometheusRule's spec) and the serving PodMonitor: every metric an alert
/// reads is one the code exports, every alert is documented in docs/operations.md under its own heading, and the
/// PodMonitor selects the pods and port the serving Deployment creates.
/// </summary>
public sealed partial class AlertRulesTests
{
    private static readonly string Operations = Path.Combine(RepositoryRoot.Path, "docs", "operations.md");

    public static TheoryData<string> Alerts() => [.. Rules().Select(rule => rule["alert"]!.GetValue<string>())];

    [Theory]
    [MemberData(nameof(Alerts))]
    public void EveryMetricAnAlertReads_IsExportedByTheCode(string alert)
    {
        var expression = Rule(alert)["expr"]!.GetValue<string>();
        var read = MetricName().Matches(expression).Select(match => match.Value).Distinct().ToList();
        Assert.NotEmpty(read);
        var exported = ExportedMetrics();
        foreach (var metric in read)
        {
            // A histogram is exported as NAME and read as NAME_bucket, NAME_sum and NAME_count.
            var family = HistogramSeries().Replace(metric, "");
            Assert.True(exported.Contains(metric) || exported.Contains(family),
                $"{alert} reads {metric}, which no code under src/ exports (exported: {string.Join(", ", exported.Order())})");
        }
    }

    [Theory]
    [MemberData(nameof(Alerts))]
    public void EveryAlert_HasASeverity_ASummary_AndARunbookSectionThatExists(string alert)
    {
        var rule = Rule(alert);
        Assert.Contains(rule["labels"]!["severity"]!.GetValue<string>(), new[] { "warning", "critical" });
        Assert.False(string.IsNullOrWhiteSpace(rule["annotations"]!["summary"]?.GetValue<string>()), $"{alert} has no summary");
        Assert.False(string.IsNullOrWhiteSpace(rule["annotations"]!["description"]?.GetValue<string>()), $"{alert} has no description");
        Assert.Matches("^[0-9]+[smh]$", rule["for"]!.GetValue<string>());
        var runbook = rule["annotations"]!["runbook_url"]!.GetValue<string>();
        Assert.EndsWith($"docs/operations.md#{alert.ToLowerInvariant()}", runbook);
        var headings = File.ReadAllLines(Operations).Where(line => line.StartsWith("### ", StringComparison.Ordinal)).Select(line => line[4..].Trim());
        Assert.Contains(alert, headings);
    }

    [Fact]
    public void AlertNames_AreUnique()
    {
        var names = Rules().Select(rule => rule["alert"]!.GetValue<string>()).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.True(names.Count >= 10, $"only {names.Count} alerts");
    }

    [Fact]
    public void TheServingPodMonitor_SelectsTheServingDeploymentsPods_AndTheirHttpPort()
    {
        var text = File.ReadAllText(Path.Combine(ChartFiles.Chart, "templates", "podmonitor-serving.yaml"));
        Assert.Contains($"{Labels.Name}: {Labels.NameValue}", text);
        Assert.Contains($"{Labels.Component}: {Labels.ServingComponent}", text);
        Assert.Contains($"- port: {ServingDeployment.PortName}", text);
        Assert.Contains("path: /metrics", text);
    }

    /// <summary>The metric names the code declares: every <c>"nexus_…"</c> string literal under src/.</summary>
    private static HashSet<string> ExportedMetrics() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "src"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => QuotedMetricName().Matches(File.ReadAllText(file)).Select(match => match.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

    private static JsonObject Rule(string alert) => Rules().Single(rule => rule["alert"]!.GetValue<string>() == alert);

    private static IEnumerable<JsonObject> Rules()
    {
        var spec = YamlToJson.Convert(File.ReadAllText(Path.Combine(ChartFiles.Chart, "files", "alerts.yaml")))!;
        return spec["groups"]!.AsArray().SelectMany(group => group!["rules"]!.AsArray()).Cast<JsonObject>();
    }

    [GeneratedRegex("nexus_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex("\"(nexus_[a-z_]+)\"")]
    private static partial Regex QuotedMetricName();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();
}
