using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using Nexus.Operator.Hosting;

namespace Nexus.Operator;

public static class Program
{
    private const string ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    public static async Task<int> Main(string[] args)
    {
        OperatorCommandLine options;
        try
        {
            options = OperatorCommandLine.Parse(args);
        }
        catch (FormatException invalid)
        {
            await Console.Error.WriteLineAsync($"nexus-operator: {invalid.Message}\n\n{OperatorCommandLine.Usage}");
            return 2;
        }

        if (options.ShowHelp)
        {
            Console.WriteLine(OperatorCommandLine.Usage);
            return 0;
        }

        using var loggerFactory = LoggerFactory.Create(logging =>
        {
            if (options.JsonLogs)
            {
                logging.AddJsonConsole(json =>
                {
                    json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    json.UseUtcTimestamp = true;
                });
            }
            else
            {
                logging.AddSimpleConsole(text =>
                {
                    text.SingleLine = true;
                    text.TimestampFormat = "HH:mm:ss.fff ";
                });
            }
        });
        var logger = loggerFactory.CreateLogger("Nexus.Operator");

        using var stopping = new CancellationTokenSource();
        void Stop(PosixSignalContext signal)
        {
            // Handle the signal ourselves: reconciles are cancelled, workers drain and the Lease is released.
            signal.Cancel = true;
            logger.LogInformation("Received {Signal}; stopping", signal.Signal);
            stopping.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        try
        {
            var config = KubernetesClientConfiguration.BuildDefaultConfig();
            using var client = new Kubernetes(config);
            var leaseNamespace = options.LeaseNamespace
                ?? Environment.GetEnvironmentVariable("POD_NAMESPACE")
                ?? (File.Exists(ServiceAccountNamespaceFile) ? (await File.ReadAllTextAsync(ServiceAccountNamespaceFile)).Trim() : null)
                ?? "default";
            var host = OperatorHost.CreateBuilder(client)
                .WatchNamespace(options.Namespace)
                .WithMetricsPort(options.MetricsPort)
                .WithLoggerFactory(loggerFactory)
                .WithLeaderElection(new LeaderElectionOptions
                {
                    Enabled = options.LeaderElect,
                    LeaseNamespace = leaseNamespace,
                    LeaseName = options.LeaseName,
                    Identity = options.Identity ?? LeaderElectionOptions.DefaultIdentity(),
                })
                .AddNexusControllers()
                .Build();
            await host.RunAsync(stopping.Token);
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception failure)
        {
            logger.LogCritical(failure, "nexus-operator failed");
            return 1;
        }
    }
}
