using System.CommandLine;
using System.CommandLine.Parsing;

namespace Nexus.Operator.Hosting;

/// <summary>The options of <c>nexus-operator run</c> (also the default command), parsed by System.CommandLine.</summary>
public sealed record OperatorCommandLine
{
    public string? Namespace { get; init; }

    public int MetricsPort { get; init; } = 8080;

    public bool LeaderElect { get; init; } = true;

    public string? LeaseNamespace { get; init; }

    public string LeaseName { get; init; } = "nexus-operator";

    public string? Identity { get; init; }

    public bool JsonLogs { get; init; } = true;

    /// <summary>The options, shared by the root command and <c>run</c>.</summary>
    internal sealed class Options
    {
        private static readonly OperatorCommandLine Defaults = new();

        public Option<string?> Namespace { get; } = new("--namespace") { Description = "Watch one namespace (default: all namespaces)." };

        public Option<int> MetricsPort { get; } = new("--metrics-port")
        {
            Description = "Port for /healthz, /readyz and /metrics (0 picks a free port).",
            DefaultValueFactory = _ => Defaults.MetricsPort,
        };

        public Option<bool> LeaderElect { get; } = new("--leader-elect")
        {
            Description = "Hold a Lease so only one replica reconciles (true|false).",
            DefaultValueFactory = _ => Defaults.LeaderElect,
        };

        public Option<string?> LeaseNamespace { get; } = new("--lease-namespace")
        {
            Description = "Namespace of the Lease (default: $POD_NAMESPACE, the service account's, or \"default\").",
        };

        public Option<string> LeaseName { get; } = new("--lease-name")
        {
            Description = "Name of the Lease.",
            DefaultValueFactory = _ => Defaults.LeaseName,
        };

        public Option<string?> Identity { get; } = new("--identity")
        {
            Description = "This replica's identity in the Lease (default: $POD_NAME or the host name, plus a random suffix).",
        };

        public Option<string> LogFormat { get; } = new("--log-format")
        {
            Description = "json (one structured object per line) or text.",
            DefaultValueFactory = _ => "json",
        };

        public Options()
        {
            MetricsPort.Validators.Add(result =>
            {
                // A value that is not a number already has the parser's error; this adds the range.
                if (result.Tokens.LastOrDefault()?.Value is { } text && int.TryParse(text, out var port) && port is < 0 or > 65535)
                    result.AddError($"--metrics-port must be a port number (0-65535), not '{text}'.");
            });
            LogFormat.AcceptOnlyFromAmong("json", "text");
        }

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Namespace, MetricsPort, LeaderElect, LeaseNamespace, LeaseName, Identity, LogFormat })
                command.Options.Add(option);
        }

        public OperatorCommandLine Bind(ParseResult parsed) => new()
        {
            Namespace = parsed.GetValue(Namespace),
            MetricsPort = parsed.GetValue(MetricsPort),
            LeaderElect = parsed.GetValue(LeaderElect),
            LeaseNamespace = parsed.GetValue(LeaseNamespace),
            LeaseName = parsed.GetValue(LeaseName)!,
            Identity = parsed.GetValue(Identity),
            JsonLogs = parsed.GetValue(LogFormat) == "json",
        };
    }

    /// <summary>Parses the options of <c>nexus-operator [run]</c>.</summary>
    /// <exception cref="FormatException">An unknown option, a missing value or a malformed one, with the parser's words.</exception>
    public static OperatorCommandLine Parse(IReadOnlyList<string> args)
    {
        var options = new Options();
        var root = new RootCommand();
        options.AddTo(root);
        var parsed = root.Parse(args.SkipWhile((arg, index) => index == 0 && arg == "run").ToArray());
        if (parsed.Errors.Count > 0)
            throw new FormatException(string.Join(" ", parsed.Errors.Select(error => error.Message)));
        return options.Bind(parsed);
    }
}
