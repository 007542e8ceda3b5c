using System.Globalization;

namespace Nexus.Operator.Bench;

/// <summary>Settings of <c>Nexus.Operator.Bench scale</c>, with their defaults and validation in one place.</summary>
public sealed record ScaleOptions
{
    public const string Usage = """
        Nexus.Operator.Bench scale [options]
          Starts the test API server in a child process, then an operator host with the real Expert reconciler in this
          one; creates N Experts at once and measures the time until every one is reconciled, the operator's API requests
          per Expert and its RSS; then restarts the operator with a short resync period and measures an idle stretch.
          Prints one JSON line, then a Markdown table.

          --experts N               Experts created at once (objects; default 1000)
          --create-concurrency N    creates in flight at once (requests; default 32)
          --workers N               the Expert controller's workers (reconciles at once; default 4)
          --warmup N                Experts created and reconciled before the measurement, to warm up JIT and
                                    connections (objects; default 20)
          --resync DURATION         informer resync period during the idle phase, standing in for the production 10m
                                    (default 1s: ten resyncs in the default idle time)
          --idle DURATION           length of the idle phase (default 10s)
          --timeout DURATION        limit on each wait: creates, reconciles, settling (default 5m)
          --crds DIR                CustomResourceDefinitions to install (default crds)
          --expert PATH             the Expert manifest every created Expert copies (default examples/expert-news.yaml)
          --apiserver-gc            run the test API server's garbage collector (off by default: nothing is deleted,
                                    and it rescans the whole store after each write, taking CPU from the operator)
        DURATION is a number with a unit: 500ms, 10s, 2m.

        Nexus.Operator.Bench apiserver --crds DIR --expert PATH [--event-history N] [--garbage-collector]
          The child process `scale` starts: serves the test API server, prints its URL, then answers control commands on
          stdin (namespace, load, mark, requests, quit) with one line each on stdout. Exits when stdin closes.
        """;

    public int Experts { get; init; } = 1000;

    public int CreateConcurrency { get; init; } = 32;

    public int Workers { get; init; } = 4;

    public int Warmup { get; init; } = 20;

    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Idle { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public string CrdDirectory { get; init; } = "crds";

    public string ExpertManifest { get; init; } = "examples/expert-news.yaml";

    public bool ApiServerGarbageCollector { get; init; }

    public static ScaleOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ScaleOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value.");
            options = name switch
            {
                "--experts" => options with { Experts = ParseCount(name, Value()) },
                "--create-concurrency" => options with { CreateConcurrency = ParseCount(name, Value()) },
                "--workers" => options with { Workers = ParseCount(name, Value()) },
                "--warmup" => options with { Warmup = ParseCount(name, Value()) },
                "--resync" => options with { Resync = ParseDuration(name, Value()) },
                "--idle" => options with { Idle = ParseDuration(name, Value()) },
                "--timeout" => options with { Timeout = ParseDuration(name, Value()) },
                "--crds" => options with { CrdDirectory = Value() },
                "--expert" => options with { ExpertManifest = Value() },
                "--apiserver-gc" => options with { ApiServerGarbageCollector = true },
                _ => throw new FormatException($"Unknown option '{name}'."),
            };
        }

        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (Experts < 1 || CreateConcurrency < 1 || Workers < 1 || Warmup < 0)
        {
            throw new FormatException("--experts, --create-concurrency and --workers must be at least 1, --warmup at least 0.");
        }

        if (Resync <= TimeSpan.Zero || Idle <= TimeSpan.Zero || Timeout <= TimeSpan.Zero)
        {
            throw new FormatException("--resync, --idle and --timeout must be positive.");
        }

        if (!Directory.Exists(CrdDirectory))
        {
            throw new FormatException($"No CRD folder at '{Path.GetFullPath(CrdDirectory)}': run from the repository root or pass --crds.");
        }

        if (!File.Exists(ExpertManifest))
        {
            throw new FormatException($"No Expert manifest at '{Path.GetFullPath(ExpertManifest)}': run from the repository root or pass --expert.");
        }
    }

    /// <summary>"500ms", "10s", "2m" or "1h".</summary>
    public static TimeSpan ParseDuration(string name, string text)
    {
        (string Suffix, Func<double, TimeSpan> Make)[] units =
            [("ms", TimeSpan.FromMilliseconds), ("s", TimeSpan.FromSeconds), ("m", TimeSpan.FromMinutes), ("h", TimeSpan.FromHours)];
        foreach (var (suffix, make) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
            {
                return make(amount);
            }
        }

        throw new FormatException($"{name} takes a duration with a unit (500ms, 10s, 2m), not '{text}'.");
    }

    private static int ParseCount(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count
            : throw new FormatException($"{name} takes a whole number, not '{text}'.");
}
