using System.CommandLine;
using System.CommandLine.Parsing;
using Nexus.Operator.Specs;

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

    /// <summary>The settings of the Jobs and Deployments it creates, from flags and environment
    /// (<see cref="OperatorSettingsOptions"/>); valid once parsing succeeded.</summary>
    public OperatorSettings Settings { get; init; } = new();

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

        /// <param name="environment">Reads an environment variable, for settings whose flag is absent.</param>
        public Options(Func<string, string?> environment)
        {
            Settings = new OperatorSettingsOptions(environment);
            MetricsPort.Validators.Add(result =>
            {
                // A value that is not a number already has the parser's error; this adds the range.
                if (result.Tokens.LastOrDefault()?.Value is { } text && int.TryParse(text, out var port) && port is < 0 or > 65535)
                    result.AddError($"--metrics-port must be a port number (0-65535), not '{text}'.");
            });
            LogFormat.AcceptOnlyFromAmong("json", "text");
        }

        /// <summary>The options that set <see cref="OperatorCommandLine.Settings"/>.</summary>
        public OperatorSettingsOptions Settings { get; }

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Namespace, MetricsPort, LeaderElect, LeaseNamespace, LeaseName, Identity, LogFormat }.Concat(Settings.All))
                command.Options.Add(option);

            // Invalid settings are parse errors: the command exits 2 before it connects to a cluster.
            command.Validators.Add(result =>
            {
                foreach (var problem in Settings.Read(result).Problems)
                    result.AddError(problem);
            });
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
            Settings = Settings.Read(parsed.CommandResult).Settings,
        };
    }

    /// <summary>Parses the options of <c>nexus-operator [run]</c>.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">Reads an environment variable, for settings whose flag is absent; the process's
    /// environment when null.</param>
    /// <exception cref="FormatException">An unknown option, a missing value or a malformed one, with the parser's words;
    /// or invalid settings, each naming its flag and variable.</exception>
    public static OperatorCommandLine Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        var options = new Options(environment ?? Environment.GetEnvironmentVariable);
        var root = new RootCommand();
        options.AddTo(root);
        var parsed = root.Parse(args.SkipWhile((arg, index) => index == 0 && arg == "run").ToArray());
        if (parsed.Errors.Count > 0)
            throw new FormatException(string.Join(Environment.NewLine, parsed.Errors.Select(error => error.Message)));
        return options.Bind(parsed);
    }
}
