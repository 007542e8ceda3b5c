using System.Runtime.InteropServices;
using k8s;
using Microsoft.Extensions.Logging;
using Nexus.Operator.Hosting;

namespace Nexus.Operator;

public static class Program
{
    private const string ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    public static Task<int> Main(string[] args) => OperatorCommands.InvokeAsync(args, RunAsync, Console.Error);

    private static async Task<int> RunAsync(OperatorCommandLine options, CancellationToken cancellation)
    {
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

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
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
            var settings = options.Settings;
            logger.LogInformation(
                "Worker image {WorkerImage}, artifact root {ArtifactRoot}, S3 endpoint {S3Endpoint} ({S3Region}), credentials Secret {S3CredentialsSecret}",
                settings.WorkerImage, settings.ArtifactRoot, settings.S3Endpoint, settings.S3Region, settings.S3CredentialsSecretName);
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
                .AddNexusControllers(settings)
                .Build();
            await host.RunAsync(stopping.Token);
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return 0;
        }
        catch (k8s.Exceptions.KubeConfigException missing)
        {
            logger.LogCritical("No Kubernetes configuration: {Reason}. Run in a cluster with a service account, or set KUBECONFIG.", missing.Message);
            return 2;
        }
        catch (Exception failure)
        {
            logger.LogCritical(failure, "nexus-operator failed");
            return 1;
        }
    }
}
