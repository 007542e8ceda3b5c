namespace Nexus.Operator.Hosting;

/// <summary>The options of <c>nexus-operator run</c>.</summary>
public sealed record OperatorCommandLine
{
    public const string Usage = """
        Usage: nexus-operator [run] [options]

        Runs the Nexus operator: reconciles Expert, NexusModel and Extension resources (nexus.moe/v1alpha1).
        Reads the in-cluster service account, or the kubeconfig named by KUBECONFIG (default ~/.kube/config).

        Options:
          --namespace NS           Watch one namespace (default: all namespaces).
          --metrics-port PORT      Port for /healthz, /readyz and /metrics (default 8080; 0 picks a free port).
          --leader-elect BOOL      Hold a Lease so only one replica reconciles (true|false, default true).
          --lease-namespace NS     Namespace of the Lease (default: $POD_NAMESPACE, the service account's, or "default").
          --lease-name NAME        Name of the Lease (default nexus-operator).
          --identity ID            This replica's identity in the Lease (default: $POD_NAME or host name, plus a random suffix).
          --log-format FORMAT      json or text (default json: one structured object per line).
          -h, --help               Show this help.
        """;

    public string? Namespace { get; init; }

    public int MetricsPort { get; init; } = 8080;

    public bool LeaderElect { get; init; } = true;

    public string? LeaseNamespace { get; init; }

    public string LeaseName { get; init; } = "nexus-operator";

    public string? Identity { get; init; }

    public bool JsonLogs { get; init; } = true;

    public bool ShowHelp { get; init; }

    /// <exception cref="FormatException">An unknown option, a missing value or a malformed one.</exception>
    public static OperatorCommandLine Parse(IReadOnlyList<string> args)
    {
        var options = new OperatorCommandLine();
        var index = 0;
        if (index < args.Count && args[index] == "run")
        {
            index++;
        }

        for (; index < args.Count; index++)
        {
            var name = args[index];
            string? inlineValue = null;
            var equals = name.IndexOf('=');
            if (name.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                inlineValue = name[(equals + 1)..];
                name = name[..equals];
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (index + 1 >= args.Count || args[index + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new FormatException($"{name} needs a value.");
                }

                return args[++index];
            }

            options = name switch
            {
                "-h" or "--help" => options with { ShowHelp = true },
                "--namespace" => options with { Namespace = Value() },
                "--metrics-port" => options with { MetricsPort = ParsePort(Value()) },
                "--leader-elect" => options with { LeaderElect = ParseBool(name, Value()) },
                "--lease-namespace" => options with { LeaseNamespace = Value() },
                "--lease-name" => options with { LeaseName = Value() },
                "--identity" => options with { Identity = Value() },
                "--log-format" => options with { JsonLogs = ParseLogFormat(Value()) },
                _ => throw new FormatException($"Unknown option '{args[index]}'."),
            };
        }

        return options;
    }

    private static int ParsePort(string value) =>
        int.TryParse(value, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new FormatException($"--metrics-port must be a port number (0-65535), not '{value}'.");

    private static bool ParseBool(string name, string value) =>
        bool.TryParse(value, out var parsed) ? parsed : throw new FormatException($"{name} must be true or false, not '{value}'.");

    private static bool ParseLogFormat(string value) => value switch
    {
        "json" => true,
        "text" => false,
        _ => throw new FormatException($"--log-format must be json or text, not '{value}'."),
    };
}
