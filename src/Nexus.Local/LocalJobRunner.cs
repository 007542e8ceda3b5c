using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Local;

/// <summary>How a Job's local run ended.</summary>
public enum LocalJobOutcome
{
    Running,
    Succeeded,
    Failed,

    /// <summary>The Job could not be run here (no container, an unknown image, a missing Secret key): marked failed.</summary>
    NotRunnable,

    /// <summary>The Job was deleted while its process ran; the process was killed and nothing was marked.</summary>
    Killed,

    /// <summary>The process ran past <see cref="LocalJobRunnerOptions.StepTimeout"/>: killed, marked DeadlineExceeded.</summary>
    TimedOut,
}

/// <summary>One Job's run: what was started and what it printed.</summary>
public sealed class LocalJobRun(string ns, string name, string uid)
{
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();

    public string Namespace { get; } = ns;
    public string Name { get; } = name;
    public string Uid { get; } = uid;
    public LocalJobOutcome Outcome { get; internal set; } = LocalJobOutcome.Running;
    public int? ExitCode { get; internal set; }

    /// <summary>Why the Job was marked failed (the condition's message).</summary>
    public string? Message { get; internal set; }

    /// <summary>The binary and arguments after mapping, for assertions.</summary>
    public IReadOnlyList<string> CommandLine { get; internal set; } = [];

    public string Stdout { get { lock (stdout) { return stdout.ToString(); } } }
    public string Stderr { get { lock (stderr) { return stderr.ToString(); } } }
    public bool IsFinished => Outcome != LocalJobOutcome.Running;

    /// <summary>Where both streams are also written, line by line (<see cref="LocalJobRunnerOptions.LogFolder"/>).</summary>
    internal TextWriter? Log { get; set; }

    internal void Out(string line)
    {
        lock (stdout) { stdout.AppendLine(line); }
        Log?.WriteLine(line);
    }

    internal void Err(string line)
    {
        lock (stderr) { stderr.AppendLine(line); }
        Log?.WriteLine(line);
    }

    public override string ToString() =>
        $"Job {Namespace}/{Name}: {Outcome}, exit {ExitCode?.ToString() ?? "-"}{(Message is null ? "" : ": " + Message)}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>
/// The Job controller and kubelet of a one-machine cluster (<c>nexus run</c>, and the tests) in one: it runs the real step each Job names as a local process and marks the
/// Job (through <see cref="Server.Jobs"/>) succeeded or failed by the exit code, as the Job controller would after one
/// pod (no retries: a rerun of the same step fails the same way). The container becomes a process: its image maps to a
/// local binary that replaces the command's first word (<see cref="LocalJobRunnerOptions.Images"/>); every volume mount
/// becomes a local folder (an emptyDir a fresh one per Job, a Secret or ConfigMap its keys as files), and any env value,
/// argument or working directory that starts with a mount path is rewritten to that folder, so
/// <c>NEXUS_S3_ACCESS_KEY_FILE</c> and HOME on the scratch volume work unchanged.
/// </summary>
/// <remarks>Jobs are found by <see cref="NewJobs"/>: each once, by uid; suspended and finished Jobs are left alone. A Job deleted (or given a deletionTimestamp) while its process runs has the process (tree) killed.</remarks>
public sealed class LocalJobRunner : IAsyncDisposable
{
    private readonly Server server;
    private readonly LocalJobRunnerOptions options;
    private readonly string root = Path.Combine(Path.GetTempPath(), "nexus-jobrunner-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource stopping = new();
    private readonly SemaphoreSlim slots;
    private readonly NewJobs newJobs;
    private readonly LocalContainers containers;
    private readonly ConcurrentDictionary<string, LocalJobRun> runs = new();
    private readonly ConcurrentQueue<string> ran = new();
    private readonly List<Task> tasks = [];
    private Task? watching;

    public LocalJobRunner(Server server, LocalJobRunnerOptions options)
    {
        this.server = server;
        this.options = options.Validate();
        slots = new SemaphoreSlim(options.MaxParallel);
        newJobs = new NewJobs(server, options.Namespace);
        containers = new LocalContainers(server, options.ResolvedImages, options.EnvironmentOverrides);
    }

    /// <summary>Names of the Jobs whose process was started, in start order.</summary>
    public IReadOnlyList<string> Ran => [.. ran];

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(root);
        watching = Task.Run(() => WatchAsync(stopping.Token), cancellationToken);
        return Task.CompletedTask;
    }

    /// <summary>The latest run of the Job named <paramref name="name"/>; throws when there is none yet.</summary>
    public LocalJobRun LogsOf(string name) =>
        runs.TryGetValue(name, out var run) ? run : throw new KeyNotFoundException($"No Job named {name} has been run.");

    /// <summary>Completes with the run once the Job named <paramref name="name"/> has finished (any outcome);
    /// <see cref="TimeoutException"/> with what it printed so far otherwise.</summary>
    public async Task<LocalJobRun> WaitForJobAsync(string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (runs.TryGetValue(name, out var run) && run.IsFinished)
            {
                return run;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Job {name} did not finish within {timeout}. {(run is null ? "It never started." : run.ToString())}");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (watching is not null)
        {
            await watching;
        }

        Task[] pending;
        lock (tasks)
        {
            pending = [.. tasks];
        }

        await Task.WhenAll(pending);
        stopping.Dispose();
        slots.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                foreach (var job in await newJobs.NextAsync(cancellationToken))
                {
                    var run = new LocalJobRun(job.Metadata.NamespaceProperty, job.Metadata.Name, job.Metadata.Uid);
                    runs[run.Name] = run;
                    // Taken here, in creation order: tasks racing for a slot would start Jobs in any order.
                    await slots.WaitAsync(cancellationToken);
                    lock (tasks)
                    {
                        tasks.Add(Task.Run(() => RunAsync(job, run, cancellationToken), CancellationToken.None));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>Runs one Job in the slot <see cref="WatchAsync"/> took for it, and gives the slot back.</summary>
    private async Task RunAsync(V1Job job, LocalJobRun run, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(root, run.Uid);
        try
        {
            if (!StillExists(run))
            {
                run.Outcome = LocalJobOutcome.Killed;
                run.Message = "deleted before it started";
                return;
            }

            ProcessStartInfo start;
            try
            {
                start = containers.Prepare(job.Metadata.NamespaceProperty, job.Metadata.Name, job.Spec?.Template?.Spec, directory);
            }
            catch (NotRunnableException exception)
            {
                NotRunnable(run, $"LocalJobRunner cannot run Job {run.Namespace}/{run.Name}: {exception.Message}");
                return;
            }

            run.CommandLine = [start.FileName, .. start.ArgumentList];
            Mark(run, () => server.Jobs.MarkRunning(run.Namespace, run.Name));
            ran.Enqueue(run.Name);
            await ExecuteAsync(job, run, start, cancellationToken);
        }
        catch (Exception exception) when (!run.IsFinished)
        {
            // A bug here must not leave a waiter on a run that looks busy: WaitForJobAsync returns this.
            run.Message = $"LocalJobRunner failed: {exception}";
            run.Outcome = LocalJobOutcome.NotRunnable;
        }
        finally
        {
            // The pod's emptyDirs (its fetched inputs, its scratch) go with it; a long nexus run would fill the disk.
            DeleteQuietly(directory);
            slots.Release();
        }
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Removed with the runner's root at the latest.
        }
    }

    private async Task ExecuteAsync(V1Job job, LocalJobRun run, ProcessStartInfo start, CancellationToken cancellationToken)
    {
        var log = OpenLog(run);
        run.Log = log;
        try
        {
            await ExecuteProcessAsync(job, run, start, cancellationToken);
        }
        finally
        {
            // The output was read to its end before the process counted as exited; nothing writes after this.
            run.Log = null;
            log?.Dispose();
        }
    }

    private async Task ExecuteProcessAsync(V1Job job, LocalJobRun run, ProcessStartInfo start, CancellationToken cancellationToken)
    {
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) run.Out(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) run.Err(e.Data); };
        try
        {
            process.Start();
        }
        catch (Exception exception) when (exception is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            NotRunnable(run, $"LocalJobRunner could not start {start.FileName}: {exception.Message}");
            return;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deleted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var deletion = server.WaitForAsync(() => !StillExists(run), Timeout.InfiniteTimeSpan, deleted.Token);
        var exited = process.WaitForExitAsync(CancellationToken.None);
        var first = await Task.WhenAny(exited, deletion, Task.Delay(options.StepTimeout, deleted.Token));
        if (first != exited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        await deleted.CancelAsync();
        await Task.WhenAll(deletion, exited).ContinueWith(_ => { }, TaskScheduler.Default);
        run.ExitCode = process.ExitCode;

        // The outcome is set last: whoever saw it finished sees the Job marked.
        if (first == deletion && deletion.IsCompletedSuccessfully)
        {
            run.Message = "the Job was deleted while it ran";
            run.Outcome = LocalJobOutcome.Killed;
        }
        else if (first != exited && cancellationToken.IsCancellationRequested)
        {
            run.Message = "the runner was disposed while it ran";
            run.Outcome = LocalJobOutcome.Killed;
        }
        else if (first != exited)
        {
            run.Message = $"ran longer than {options.StepTimeout}";
            Mark(run, () => server.Jobs.MarkFailed(run.Namespace, run.Name, "DeadlineExceeded", "Job was active longer than specified deadline", exitCode: 137, podReason: "Error"));
            run.Outcome = LocalJobOutcome.TimedOut;
        }
        else if (process.ExitCode == 0)
        {
            Mark(run, () => server.Jobs.MarkSucceeded(run.Namespace, run.Name));
            run.Outcome = LocalJobOutcome.Succeeded;
        }
        else
        {
            var lastLine = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            var message = lastLine ?? $"exit code {process.ExitCode}";
            var reason = FailsJobAtOnce(job, process.ExitCode) ? "PodFailurePolicy" : "BackoffLimitExceeded";
            run.Message = message;
            Mark(run, () => server.Jobs.MarkFailed(run.Namespace, run.Name, reason, message, process.ExitCode, "Error"));
            run.Outcome = LocalJobOutcome.Failed;
        }
    }

    /// <summary>The Job's log file under <see cref="LocalJobRunnerOptions.LogFolder"/> (a re-run of the Job appends), or null.</summary>
    private TextWriter? OpenLog(LocalJobRun run)
    {
        if (options.LogFolder is null)
        {
            return null;
        }

        var path = Path.Combine(options.LogFolder, run.Namespace, run.Name + ".log");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return TextWriter.Synchronized(new StreamWriter(path, append: true) { AutoFlush = true });
    }

    private void NotRunnable(LocalJobRun run, string message)
    {
        run.Message = message;
        Mark(run, () => server.Jobs.MarkFailed(run.Namespace, run.Name, "BackoffLimitExceeded", message, exitCode: 128, podReason: "StartError"));
        run.Outcome = LocalJobOutcome.NotRunnable;
    }

    /// <summary>A FailJob rule of the Job's podFailurePolicy matches the container's exit code.</summary>
    private static bool FailsJobAtOnce(V1Job job, int exitCode)
    {
        var container = job.Spec.Template.Spec.Containers[0].Name;
        return job.Spec.PodFailurePolicy?.Rules?.Any(rule =>
            rule.Action == "FailJob"
            && rule.OnExitCodes is { } codes
            && (codes.ContainerName is null || codes.ContainerName == container)
            && (codes.OperatorProperty == "In" ? codes.Values.Contains(exitCode) : !codes.Values.Contains(exitCode))) == true;
    }

    /// <summary>The Job is there and not being deleted (a deletion that waits on finalizers, orphan's included, has
    /// started: the process is not wanted any more).</summary>
    private bool StillExists(LocalJobRun run) =>
        server.Get("batch/v1", "jobs", run.Namespace, run.Name) is { } job
        && job["metadata"]?["uid"]?.GetValue<string>() == run.Uid
        && job["metadata"]?["deletionTimestamp"] is null;

    /// <summary>Marks the Job unless it is gone (or replaced by a namesake) meanwhile.</summary>
    private void Mark(LocalJobRun run, Action mark)
    {
        if (!StillExists(run))
        {
            return;
        }

        try
        {
            mark();
        }
        catch (InvalidOperationException) when (!StillExists(run))
        {
            // Deleted between the check and the write.
        }
    }

}
