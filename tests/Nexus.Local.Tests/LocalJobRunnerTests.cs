using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Specs;
using Nexus.Operator.Tests.Support;
using Nexus.Storage;
using Nexus.ApiServer;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Local.Tests;

/// <summary>The runner against the test API server: real <c>nexus</c> steps and <c>/bin/sh</c> stand-ins.</summary>
[Collection(LocalProcesses.Name)]
public sealed class LocalJobRunnerTests : IAsyncLifetime
{
    private const string Namespace = SpecFixtures.Namespace;
    private const string ShellImage = "test.local/shell:1";
    private static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(20);

    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-jobrunner-tests-" + Guid.NewGuid().ToString("N"));
    private readonly OperatorSettings settings = new() { S3CredentialsSecretName = "nexus-s3" };
    private Server server = null!;
    private Kubernetes client = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(directory);
        // The Jobs' owner (an Expert) is not stored; the garbage collector would delete them as orphans.
        server = await Server.StartAsync(new LocalApiServerOptions { RunGarbageCollector = false });
        client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
        await client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "nexus-s3" },
            StringData = new Dictionary<string, string>
            {
                [OperatorSettings.S3AccessKeyKey] = "ACCESS-FROM-SECRET",
                [OperatorSettings.S3SecretKeyKey] = "secret-from-secret",
            },
        }, Namespace);
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await server.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task RunsTheRealTrainStepAndMarksTheJobSucceeded()
    {
        var data = WriteText();
        var run = new Uri(Path.Combine(directory, "out", "run")).AbsoluteUri;
        var job = TrainJob("speeches-train-g1", data, run);
        Assert.Equal(run, job.Metadata.Annotations[Annotations.Output]);
        await using var runner = await StartRunnerAsync(new LocalJobRunnerOptions { NexusPath = LocalNexus.Require(), StepTimeout = StepLimit });

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.True(result.Outcome == LocalJobOutcome.Succeeded, result.ToString());
        Assert.Equal(["speeches-train-g1"], runner.Ran);
        Assert.Contains("Trained 2 steps", result.Stdout);
        var stored = await client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, Namespace);
        Assert.Equal(1, stored.Status.Succeeded);
        Assert.Contains(stored.Status.Conditions, c => c.Type == "Complete" && c.Status == "True");
        // A file:// location is an artifact store like a bucket (docs/storage.md): the step published the run with its model.
        var store = new FileArtifactStore(ArtifactLocation.Parse(stored.Metadata.Annotations[Annotations.Output]));
        var published = await store.GetManifestAsync();
        Assert.True(published is not null, $"nothing published at {store.Location}");
        Assert.Contains(published.Files, f => f.Path == "model/model.safetensors");
        Assert.Contains(published.Files, f => f.Path == "metrics.jsonl");
        // Nothing was written to the container paths: /scratch was a temporary folder.
        Assert.DoesNotContain(result.CommandLine, argument => argument.StartsWith(StepJob.ScratchPath, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadInputFailsTheJobByPodFailurePolicyWithExitCodeAndStderr()
    {
        var missing = new Uri(Path.Combine(directory, "no-such-data")).AbsoluteUri;
        var job = TrainJob("speeches-train-g2", missing, new Uri(Path.Combine(directory, "out", "run2")).AbsoluteUri);
        await using var runner = await StartRunnerAsync(new LocalJobRunnerOptions { NexusPath = LocalNexus.Require(), StepTimeout = StepLimit });

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.True(result.Outcome == LocalJobOutcome.Failed, result.ToString());
        Assert.Equal(StepJob.BadInputExitCode, result.ExitCode);
        var stored = await client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, Namespace);
        var failed = Assert.Single(stored.Status.Conditions, c => c.Type == "Failed");
        Assert.Equal("PodFailurePolicy", failed.Reason);
        Assert.Contains("does not exist", failed.Message);
        Assert.Equal(result.Stderr.Trim().Split('\n')[^1].Trim(), failed.Message);
        var terminated = PodState(job.Metadata.Name);
        Assert.Equal(2, terminated["exitCode"]!.GetValue<int>());
        Assert.Equal("Error", terminated["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task ExitCodeOtherThanTwoFailsByBackoffLimit()
    {
        var job = ShellJob("shell-exit-3", "echo first >&2; echo 'the last words' >&2; exit 3");
        await using var runner = await StartRunnerAsync(ShellOptions());

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.Equal(LocalJobOutcome.Failed, result.Outcome);
        var failed = Assert.Single((await client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, Namespace)).Status.Conditions, c => c.Type == "Failed");
        Assert.Equal("BackoffLimitExceeded", failed.Reason);
        Assert.Equal("the last words", failed.Message);
        Assert.Equal(3, PodState(job.Metadata.Name)["exitCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task MapsSecretVolumeEnvironmentAndMountPathsToLocalFolders()
    {
        await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "settings" },
            Data = new Dictionary<string, string> { ["mode"] = "from-config-map" },
        }, Namespace);
        const string Script = """
            echo "access=$(cat "$NEXUS_S3_ACCESS_KEY_FILE")"
            echo "secret=$(cat "$1")"
            echo "endpoint=$NEXUS_S3_ENDPOINT"
            echo "region=$NEXUS_S3_REGION"
            echo "from-secret=$FROM_SECRET"
            echo "from-config=$FROM_CONFIG"
            echo "home=$HOME"
            echo "cache=$NEXUS_ARTIFACT_CACHE"
            echo "pwd=$(pwd)"
            touch "$HOME/written" && echo "written=$(ls "$HOME/written")"
            """;
        var job = ShellJob("shell-env", Script, "sh", $"{WorkerPod.S3CredentialsPath}/{OperatorSettings.S3SecretKeyKey}");
        job.Spec.Template.Spec.Containers[0].Env.Add(new V1EnvVar
        {
            Name = "FROM_SECRET",
            ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "nexus-s3", Key = OperatorSettings.S3AccessKeyKey } },
        });
        job.Spec.Template.Spec.Containers[0].Env.Add(new V1EnvVar
        {
            Name = "FROM_CONFIG",
            ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "settings", Key = "mode" } },
        });
        await using var runner = await StartRunnerAsync(ShellOptions() with
        {
            EnvironmentOverrides = new Dictionary<string, string> { ["NEXUS_S3_ENDPOINT"] = "http://127.0.0.1:4568" },
        });

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.True(result.Outcome == LocalJobOutcome.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair[1]);
        Assert.Equal("ACCESS-FROM-SECRET", lines["access"]);
        Assert.Equal("secret-from-secret", lines["secret"]);
        Assert.Equal("http://127.0.0.1:4568", lines["endpoint"]);
        Assert.Equal(settings.S3Region, lines["region"]);
        Assert.Equal("ACCESS-FROM-SECRET", lines["from-secret"]);
        Assert.Equal("from-config-map", lines["from-config"]);
        Assert.NotEqual(StepJob.ScratchPath, lines["home"]);
        Assert.Equal(lines["home"], lines["pwd"]);
        Assert.Equal(lines["home"] + "/artifacts", lines["cache"]);
        // HOME was writable (the folder is removed with the Job, AJobsFoldersAreRemovedWhenItEnds).
        Assert.Equal(lines["home"] + "/written", lines["written"]);
        Assert.False(File.Exists(Path.Combine(StepJob.ScratchPath, "written")));
    }

    [Fact]
    public async Task DeletingARunningJobKillsItsProcess()
    {
        var job = ShellJob("shell-sleep", "echo \"pid=$$\"; exec sleep 60");
        await using var runner = await StartRunnerAsync(ShellOptions());
        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        await Eventually.WaitUntilAsync(
            () => runner.Ran.Contains(job.Metadata.Name) && runner.LogsOf(job.Metadata.Name).Stdout.Contains("pid="),
            "the process has started", TimeSpan.FromSeconds(10));
        var pid = int.Parse(runner.LogsOf(job.Metadata.Name).Stdout.Trim()["pid=".Length..]);
        await server.WaitForObjectAsync("batch/v1", "jobs", Namespace, job.Metadata.Name, j => j["status"]?["active"]?.GetValue<int>() == 1);

        var stopwatch = Stopwatch.StartNew();
        await client.BatchV1.DeleteNamespacedJobAsync(job.Metadata.Name, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, TimeSpan.FromSeconds(10));

        Assert.Equal(LocalJobOutcome.Killed, result.Outcome);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10));
        Assert.NotEqual(0, result.ExitCode);
        Assert.False(IsAlive(pid), $"process {pid} still runs");
    }

    [Fact]
    public async Task AStepPastItsTimeoutIsKilledAndTheJobFailsWithDeadlineExceeded()
    {
        var job = ShellJob("shell-slow", "echo \"pid=$$\"; exec sleep 60");
        await using var runner = await StartRunnerAsync(ShellOptions() with { StepTimeout = TimeSpan.FromMilliseconds(500) });

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, TimeSpan.FromSeconds(10));

        Assert.Equal(LocalJobOutcome.TimedOut, result.Outcome);
        Assert.False(IsAlive(int.Parse(result.Stdout.Trim()["pid=".Length..])));
        var failed = Assert.Single((await client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, Namespace)).Status.Conditions, c => c.Type == "Failed");
        Assert.Equal("DeadlineExceeded", failed.Reason);
    }

    [Fact]
    public async Task MaxParallelRunsThatManyAtOnceAndTheRestWaitNotRunning()
    {
        await using var runner = await StartRunnerAsync(ShellOptions() with { MaxParallel = 2 });
        foreach (var name in new[] { "one", "two", "three" })
        {
            await client.BatchV1.CreateNamespacedJobAsync(ShellJob(name, "exec sleep 60"), Namespace);
        }

        await Eventually.WaitUntilAsync(() => runner.Ran.Count == 2, "two Jobs run", TimeSpan.FromSeconds(10));
        await Eventually.QuietPeriod();
        Assert.Equal(2, runner.Ran.Count);
        var waiting = new[] { "one", "two", "three" }.Except(runner.Ran).Single();
        Assert.Null(server.Get("batch/v1", "jobs", Namespace, waiting)!["status"]?["active"]);

        await client.BatchV1.DeleteNamespacedJobAsync(runner.Ran[0], Namespace);
        await Eventually.WaitUntilAsync(() => runner.Ran.Contains(waiting), "the waiting Job takes the free slot", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task JobsItCannotRunAreMarkedFailedWithTheReason()
    {
        var job = ShellJob("unknown-image", "true");
        job.Spec.Template.Spec.Containers[0].Image = "registry.example.com/elsewhere:9";
        await using var runner = await StartRunnerAsync(ShellOptions());

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.Equal(LocalJobOutcome.NotRunnable, result.Outcome);
        Assert.Empty(runner.Ran);
        var failed = Assert.Single((await client.BatchV1.ReadNamespacedJobAsync(job.Metadata.Name, Namespace)).Status.Conditions, c => c.Type == "Failed");
        Assert.Contains("image 'registry.example.com/elsewhere:9' has no local binary", failed.Message);
    }

    /// <summary>What a re-run of <c>nexus run</c> relies on: a Job whose process ended with the last run (the runner and
    /// the server stopped) is neither Complete nor Failed in the saved state, so the next runner runs it again.</summary>
    [Fact]
    public async Task AJobInterruptedByAStopIsRunAgainByTheNextRunnerOnTheSavedState()
    {
        var state = new LocalApiServerOptions { RunGarbageCollector = false, StatePath = Path.Combine(directory, "state.json") };
        var marker = Path.Combine(directory, "started-once");
        // The first run leaves a marker and hangs; the second finds it and succeeds.
        var job = ShellJob("shell-resumed", $"if [ -e '{marker}' ]; then echo again; exit 0; fi; touch '{marker}'; exec sleep 60");
        await using (var first = await Server.StartAsync(state))
        {
            using var firstClient = first.CreateClient();
            await firstClient.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } });
            await firstClient.CoreV1.CreateNamespacedSecretAsync(new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = "nexus-s3" },
                StringData = new Dictionary<string, string> { [OperatorSettings.S3AccessKeyKey] = "a", [OperatorSettings.S3SecretKeyKey] = "s" },
            }, Namespace);
            await using var runner = new LocalJobRunner(first, ShellOptions() with { StepTimeout = TimeSpan.FromMinutes(2) });
            await runner.StartAsync();
            await firstClient.BatchV1.CreateNamespacedJobAsync(job, Namespace);
            await Eventually.WaitUntilAsync(() => File.Exists(marker), "the first run started");
        }

        await using var second = await Server.StartAsync(state);
        await using var again = new LocalJobRunner(second, ShellOptions());
        await again.StartAsync();

        var result = await again.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.True(result.Outcome == LocalJobOutcome.Succeeded, result.ToString());
        Assert.Contains("again", result.Stdout);
        Assert.Contains(second.Get("batch/v1", "jobs", Namespace, job.Metadata.Name)!["status"]!["conditions"]!.AsArray(),
            c => c!["type"]!.GetValue<string>() == "Complete");
    }

    [Fact]
    public async Task AJobsFoldersAreRemovedWhenItEnds()
    {
        var job = ShellJob("shell-folders", "pwd; echo kept > scratch-file");
        await using var runner = await StartRunnerAsync(ShellOptions());

        await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
        var result = await runner.WaitForJobAsync(job.Metadata.Name, StepLimit);

        Assert.Equal(LocalJobOutcome.Succeeded, result.Outcome);
        var workingDirectory = result.Stdout.Trim();
        Assert.StartsWith(Path.GetTempPath(), workingDirectory);
        await Eventually.WaitUntilAsync(() => !Directory.Exists(workingDirectory), $"{workingDirectory} is removed once the Job ended");
    }

    [Fact]
    public async Task WithALogFolder_BothStreamsOfEveryRunAreKeptInTheJobsLogFile()
    {
        var logs = Path.Combine(directory, "logs");
        var job = ShellJob("shell-logged", "echo out-line; echo err-line >&2; echo DOTNET_PROCESSOR_COUNT=$DOTNET_PROCESSOR_COUNT");
        await using (var runner = await StartRunnerAsync(ShellOptions() with
                     {
                         LogFolder = logs, EnvironmentOverrides = new Dictionary<string, string> { ["DOTNET_PROCESSOR_COUNT"] = "1" },
                     }))
        {
            await client.BatchV1.CreateNamespacedJobAsync(job, Namespace);
            Assert.Equal(LocalJobOutcome.Succeeded, (await runner.WaitForJobAsync(job.Metadata.Name, StepLimit)).Outcome);
        }

        var lines = await File.ReadAllLinesAsync(Path.Combine(logs, Namespace, "shell-logged.log"));
        Assert.Equal(["DOTNET_PROCESSOR_COUNT=1", "err-line", "out-line"], lines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunsEachJobOnceInCreationOrderOneAtATime()
    {
        await using var runner = await StartRunnerAsync(ShellOptions());
        foreach (var name in new[] { "first", "second", "third" })
        {
            await client.BatchV1.CreateNamespacedJobAsync(ShellJob(name, $"echo {name}; sleep 0.2"), Namespace);
        }

        foreach (var name in new[] { "first", "second", "third" })
        {
            Assert.Equal(LocalJobOutcome.Succeeded, (await runner.WaitForJobAsync(name, StepLimit)).Outcome);
        }

        // A status write (the runner's own marks) does not start a Job again.
        await Eventually.QuietPeriod();
        Assert.Equal(["first", "second", "third"], runner.Ran);
    }

    private async Task<LocalJobRunner> StartRunnerAsync(LocalJobRunnerOptions options)
    {
        var runner = new LocalJobRunner(server, options);
        await runner.StartAsync();
        return runner;
    }

    private LocalJobRunnerOptions ShellOptions() => new()
    {
        NexusPath = "/nonexistent/nexus",
        Images = new Dictionary<string, string> { [ShellImage] = "/bin/sh" },
        StepTimeout = StepLimit,
    };

    /// <summary>A tiny real training step, built by the operator's own builder.</summary>
    private V1Job TrainJob(string name, string data, string output)
    {
        string[] arguments =
        [
            StepKind.Train.CommandName(), "--data", data, "--out", output,
            "--model-size", "tiny", "--steps", "2", "--batch-size", "2", "--seq-len", "32",
            "--eval-tokens", "64", "--checkpoint-every", "0", "--threads", "1", "--resume",
        ];
        return StepJob.Build(SpecFixtures.SpeechesExpert(), new StepInvocation(StepKind.Train, name, arguments, output), new(), settings);
    }

    /// <summary>The builder's Job with a shell standing in for nexus: <c>sh -c SCRIPT [ARG0 ARGS...]</c>.</summary>
    private V1Job ShellJob(string name, string script, params string[] more) =>
        StepJob.Build(SpecFixtures.SpeechesExpert(), new StepInvocation(StepKind.Train, name, ["-c", script, .. more], "file:///unused"),
            new(), settings with { WorkerImage = ShellImage });

    private string WriteText()
    {
        var folder = Path.Combine(directory, "text");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "speech.txt"), string.Concat(Enumerable.Repeat("Four score and seven years ago. ", 150)));
        return new Uri(folder).AbsoluteUri;
    }

    private JsonObject PodState(string job) =>
        (JsonObject)server.Jobs.PodOf(Namespace, job)!["status"]!["containerStatuses"]![0]!["state"]!["terminated"]!;

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
