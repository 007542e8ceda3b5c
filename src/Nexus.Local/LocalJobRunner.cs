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

    internal void Out(string line) { lock (stdout) { stdout.AppendLine(line); } }
    internal void Err(string line) { lock (stderr) { stderr.AppendLine(line); } }

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
                start = Prepare(job, directory);
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
            slots.Release();
        }
    }

    private async Task ExecuteAsync(V1Job job, LocalJobRun run, ProcessStartInfo start, CancellationToken cancellationToken)
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

    /// <summary>The process a Job's (single) container becomes, with its volumes made as folders under
    /// <paramref name="directory"/>.</summary>
    private ProcessStartInfo Prepare(V1Job job, string directory)
    {
        var ns = job.Metadata.NamespaceProperty;
        var pod = job.Spec?.Template?.Spec ?? throw new NotRunnableException("it has no pod template.");
        if (pod.Containers is not { Count: 1 } containers)
        {
            throw new NotRunnableException($"it has {pod.Containers?.Count ?? 0} containers; only one is supported.");
        }

        if (pod.InitContainers is { Count: > 0 })
        {
            throw new NotRunnableException("init containers are not supported.");
        }

        var container = containers[0];
        if (!options.ResolvedImages.TryGetValue(container.Image ?? "", out var binary))
        {
            throw new NotRunnableException(
                $"image '{container.Image}' has no local binary (LocalJobRunnerOptions.Images knows {string.Join(", ", options.ResolvedImages.Keys)}).");
        }

        var mounts = MakeVolumes(ns, pod, container, Path.Combine(directory, "volumes"));
        string Local(string value)
        {
            foreach (var (mountPath, local) in mounts)
            {
                if (value == mountPath || value.StartsWith(mountPath + "/", StringComparison.Ordinal))
                {
                    return local + value[mountPath.Length..];
                }
            }

            return value;
        }

        // A working directory that is not on a volume would be in the image's filesystem, which has no local copy.
        var workingDirectory = container.WorkingDir is { Length: > 0 } workingDir && Local(workingDir) is var local && local != workingDir
            ? local
            : Path.Combine(directory, "work");

        Directory.CreateDirectory(workingDirectory);
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The binary stands for the command's first word (or the image's entry point when there is no command).
        foreach (var argument in (container.Command ?? []).Skip(1).Concat(container.Args ?? []))
        {
            start.ArgumentList.Add(Local(argument));
        }

        foreach (var variable in container.Env ?? [])
        {
            if (Value(ns, job, variable) is { } value)
            {
                start.Environment[variable.Name] = Local(value);
            }
        }

        foreach (var (name, value) in options.EnvironmentOverrides)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    private string? Value(string ns, V1Job job, V1EnvVar variable)
    {
        if (variable.ValueFrom is null)
        {
            return variable.Value ?? "";
        }

        if (variable.ValueFrom.SecretKeyRef is { } secretKey)
        {
            return Key(ns, "secrets", secretKey.Name, secretKey.Key, secretKey.Optional == true, $"env {variable.Name}");
        }

        if (variable.ValueFrom.ConfigMapKeyRef is { } configMapKey)
        {
            return Key(ns, "configmaps", configMapKey.Name, configMapKey.Key, configMapKey.Optional == true, $"env {variable.Name}");
        }

        return variable.ValueFrom.FieldRef?.FieldPath switch
        {
            "metadata.namespace" => ns,
            "metadata.name" => job.Metadata.Name,
            _ => throw new NotRunnableException($"env {variable.Name}: only secretKeyRef, configMapKeyRef and fieldRef metadata.name/namespace are supported."),
        };
    }

    /// <summary>One key of a Secret or ConfigMap (decoded), null when optional and absent.</summary>
    private string? Key(string ns, string plural, string name, string key, bool optional, string what)
    {
        var data = Data(ns, plural, name, optional, what);
        if (data is null)
        {
            return null;
        }

        return data.TryGetValue(key, out var value)
            ? Encoding.UTF8.GetString(value)
            : optional ? null : throw new NotRunnableException($"{what}: key '{key}' is not in {plural} {ns}/{name}.");
    }

    private Dictionary<string, byte[]>? Data(string ns, string plural, string name, bool optional, string what)
    {
        var obj = server.Get("v1", plural, ns, name);
        if (obj is null)
        {
            return optional ? null : throw new NotRunnableException($"{what}: {plural} {ns}/{name} does not exist.");
        }

        var result = new Dictionary<string, byte[]>();
        foreach (var (key, value) in obj["data"] as JsonObject ?? [])
        {
            var text = value?.GetValue<string>() ?? "";
            result[key] = plural == "secrets" ? Convert.FromBase64String(text) : Encoding.UTF8.GetBytes(text);
        }

        if (plural == "configmaps")
        {
            foreach (var (key, value) in obj["binaryData"] as JsonObject ?? [])
            {
                result[key] = Convert.FromBase64String(value?.GetValue<string>() ?? "");
            }
        }

        return result;
    }

    /// <summary>Each mount path (longest first) → the local folder standing for its volume.</summary>
    private List<(string MountPath, string Local)> MakeVolumes(string ns, V1PodSpec pod, V1Container container, string directory)
    {
        var volumes = (pod.Volumes ?? []).ToDictionary(volume => volume.Name);
        var made = new Dictionary<string, string>();
        var mounts = new List<(string, string)>();
        foreach (var mount in container.VolumeMounts ?? [])
        {
            if (!string.IsNullOrEmpty(mount.SubPath) || !string.IsNullOrEmpty(mount.SubPathExpr))
            {
                throw new NotRunnableException($"volume mount {mount.Name} uses subPath, which is not supported.");
            }

            if (!made.TryGetValue(mount.Name, out var local))
            {
                var volume = volumes.GetValueOrDefault(mount.Name)
                    ?? throw new NotRunnableException($"volume mount {mount.Name} names no volume of the pod.");
                local = Path.Combine(directory, mount.Name);
                Directory.CreateDirectory(local);
                if (volume.Secret is { } secret)
                {
                    WriteKeys(local, Data(ns, "secrets", secret.SecretName, secret.Optional == true, $"volume {volume.Name}"),
                        secret.Items, secret.DefaultMode, $"secrets {ns}/{secret.SecretName}");
                }
                else if (volume.ConfigMap is { } configMap)
                {
                    WriteKeys(local, Data(ns, "configmaps", configMap.Name, configMap.Optional == true, $"volume {volume.Name}"),
                        configMap.Items, configMap.DefaultMode, $"configmaps {ns}/{configMap.Name}");
                }
                else if (volume.EmptyDir is null)
                {
                    throw new NotRunnableException($"volume {volume.Name} is neither an emptyDir, a Secret nor a ConfigMap.");
                }

                made[mount.Name] = local;
            }

            mounts.Add((mount.MountPath.TrimEnd('/'), local));
        }

        return [.. mounts.OrderByDescending(mount => mount.Item1.Length)];
    }

    private static void WriteKeys(string folder, Dictionary<string, byte[]>? data, IList<V1KeyToPath>? items, int? mode, string what)
    {
        if (data is null)
        {
            return;
        }

        var files = items is { Count: > 0 }
            ? items.Select(item => (item.Key, item.Path, item.Mode ?? mode))
            : data.Keys.Select(key => (Key: key, Path: key, Mode: mode));
        foreach (var (key, relative, fileMode) in files)
        {
            var bytes = data.GetValueOrDefault(key) ?? throw new NotRunnableException($"key '{key}' is not in {what}.");
            var path = Path.Combine(folder, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            if (fileMode is { } unixMode && !OperatingSystem.IsWindows())
            {
                // The pod's fsGroup would own the file; here the local user does, so keep the owner's read bit.
                File.SetUnixFileMode(path, (UnixFileMode)(unixMode & 0b111_111_111) | UnixFileMode.UserRead);
            }
        }
    }

    private sealed class NotRunnableException(string message) : Exception(message);
}
