using System.CommandLine;
using Nexus.Local;
using Nexus.Storage;

namespace Nexus.Cli.Commands;

/// <summary>
/// <c>nexus run</c>: the operator on this machine (<see cref="LocalCluster"/>). The same Expert, NexusModel and Extension
/// manifests as on a cluster; every step a <c>nexus</c> process, artifacts under <c>ROOT/artifacts</c>, the model served
/// by <c>nexus serve</c>. The manifests are watched: a new, changed or removed file is applied as the operator would
/// see it. The state is kept in <c>ROOT/state.json</c>, so running it again resumes.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Manifest files, or folders of them (their *.yaml and *.yml, not subfolders).", Arity = ArgumentArity.OneOrMore };
        var root = new Option<string>("--root") { Description = "Folder for the state (state.json), kubeconfig and artifacts (artifacts/).", DefaultValueFactory = _ => ".nexus" };
        var parallel = new Option<int>("--parallel") { Description = "Step processes running at once.", DefaultValueFactory = _ => 1 };
        var noServe = new Option<bool>("--no-serve") { Description = "Do not start nexus serve; a revision's rollout is reported complete without it." };
        var untilReady = new Option<bool>("--until-ready") { Description = "Exit 0 once every NexusModel is Ready (1 with the failing condition if one fails) instead of running until Ctrl+C." };
        var port = new Option<int>("--port") { Description = "Loopback TCP port that forwards to the served model's current process, across revisions; 0: none.", DefaultValueFactory = _ => 8080 };
        var artifacts = new Option<string?>("--artifacts") { Description = "Artifact root: s3://BUCKET[/PREFIX] (S3 when credentials are set, else the local buckets) or file:///PATH. Default: ROOT/artifacts." };
        var stepTimeout = new Option<int>("--step-timeout") { Description = "Seconds one step process may run before its Job fails (DeadlineExceeded).", DefaultValueFactory = _ => 12 * 3600 };

        var command = new Command("run", "Run the operator on this machine: apply the manifests, run every step as a local process and serve the model.")
        {
            paths, root, parallel, port, artifacts, noServe, untilReady, stepTimeout,
        };
        command.SetAction(async (parsed, cancellation) =>
        {
            var seconds = parsed.GetValue(stepTimeout);
            if (seconds < 1) throw new ArgumentException($"--step-timeout is {seconds}; give at least 1 second.");
            var folder = Path.GetFullPath(parsed.GetValue(root)!);
            var s3 = S3Configured() ? S3Settings.FromEnvironment() : null;
            var options = new LocalClusterOptions
            {
                Root = folder,
                NexusPath = NexusExecutable(),
                Parallel = parsed.GetValue(parallel),
                Serve = !parsed.GetValue(noServe),
                ServingPort = parsed.GetValue(port) is > 0 and var servingPort ? servingPort : null,
                StepTimeout = TimeSpan.FromSeconds(seconds),
                S3 = s3,
                LocalBuckets = s3 is null ? Path.Combine(folder, "s3") : null,
                Artifacts = parsed.GetValue(artifacts),
            };
            var manifests = parsed.GetValue(paths)!;
            foreach (var path in manifests.Where(path => !File.Exists(path) && !Directory.Exists(path)))
                throw new ArgumentException($"PATH {path}: no such file or folder; give manifest files or folders of them.");
            using var shutdown = new ShutdownSignal("stopping the step processes and the server");
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(shutdown.Token, cancellation);
            await using var cluster = await LocalCluster.StartAsync(options, Console.Out, stopping.Token);
            Console.WriteLine($"nexus run: API server {cluster.Server.BaseUri} (kubectl --kubeconfig {cluster.KubeconfigPath} get nexusmodels), " +
                              $"artifacts {options.ArtifactRoot}, {options.Parallel} step process(es) at a time ({options.ThreadsPerStep} thread(s) each)" +
                              (cluster.ServingUri is { } served ? $", the model at {served}." : "."));
            Console.WriteLine(options.LocalBuckets is { } buckets
                ? $"nexus run: no S3 credentials are set, so s3://BUCKET/KEY locations are read from {buckets}/BUCKET/KEY (set NEXUS_S3_ACCESS_KEY and NEXUS_S3_SECRET_KEY to use S3)."
                : $"nexus run: s3:// locations are read from S3 at {options.S3!.Endpoint} (NEXUS_S3_* settings, docs/storage.md).");
            foreach (var problem in await cluster.ApplyAsync(manifests, stopping.Token))
            {
                Console.Error.WriteLine($"nexus: {problem}");
            }

            var watching = cluster.WatchManifestsAsync(manifests, stopping.Token);
            try
            {
                if (parsed.GetValue(untilReady))
                {
                    if (cluster.Server.List("nexus.moe/v1alpha1", "nexusmodels").Count == 0)
                        throw new ArgumentException($"--until-ready waits for NexusModels to be Ready, and {string.Join(", ", manifests)} applied none; add a NexusModel manifest.");
                    return await cluster.WaitUntilReadyAsync(stopping.Token) == 0 ? CliHost.Success : CliHost.Failure;
                }

                await Task.Delay(Timeout.Infinite, stopping.Token);
                return CliHost.Success;
            }
            catch (OperationCanceledException) when (shutdown.Token.IsCancellationRequested)
            {
                Console.Error.WriteLine($"nexus run: stopped; run it again to resume from {Path.Combine(options.Root, "state.json")}.");
                return CliHost.Cancelled;
            }
            finally
            {
                await stopping.CancelAsync();
                await watching;
            }
        });
        return command;
    }

    /// <summary>Whether S3 credentials are set (docs/storage.md): then <c>s3://</c> locations mean S3; otherwise the local
    /// buckets under ROOT/s3 stand for it.</summary>
    private static bool S3Configured() =>
        new[] { "NEXUS_S3_ACCESS_KEY", "NEXUS_S3_ACCESS_KEY_FILE", "AWS_ACCESS_KEY_ID" }.Any(name => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)));

    /// <summary>This binary, which the steps and the server run as (the apphost, also when started as <c>dotnet nexus.dll</c>).</summary>
    private static string NexusExecutable()
    {
        var process = Environment.ProcessPath;
        if (process is not null && Path.GetFileNameWithoutExtension(process) == "nexus") return process;
        var beside = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "nexus.exe" : "nexus");
        return File.Exists(beside)
            ? beside
            : throw new InvalidOperationException($"nexus run starts the steps as the nexus executable, and found none at {beside}; build it (make build).");
    }
}
