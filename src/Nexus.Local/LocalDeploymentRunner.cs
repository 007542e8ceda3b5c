using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Controllers;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Local;

/// <summary>How <see cref="LocalDeploymentRunner"/> turns a Deployment's container into a local process.</summary>
public sealed record LocalDeploymentRunnerOptions
{
    /// <summary>The local <c>nexus</c> binary that stands for the worker image (<c>nexus run</c>: its own executable).</summary>
    public required string NexusPath { get; init; }

    /// <summary>Image → local binary, as <see cref="LocalJobRunnerOptions.Images"/>. Null: only the worker image's
    /// default → <see cref="NexusPath"/>.</summary>
    public IReadOnlyDictionary<string, string>? Images { get; init; }

    /// <summary>Environment values set after the container's own.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentOverrides { get; init; } = new Dictionary<string, string>();

    /// <summary>Only Deployments in this namespace; null: every namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>How long a new process may take to answer its readiness path with 200 before it is stopped and the
    /// Deployment reported unavailable (ProgressDeadlineExceeded), as the rollout's progress deadline.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a process has to exit after SIGTERM before it is killed (the pod's grace period).</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Between readiness probes of a starting process.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait before a process that exited by itself is started again (the wait doubles from 1 s).</summary>
    public TimeSpan MaxRestartBackoff { get; init; } = TimeSpan.FromSeconds(30);

    internal IReadOnlyDictionary<string, string> ResolvedImages => LocalContainers.ImagesOr(Images, NexusPath);
}

/// <summary>One process standing for one pod-template of a Deployment.</summary>
public sealed class LocalServingProcess
{
    private readonly Queue<string> tail = new();

    internal LocalServingProcess(string ns, string name, string templateHash, int port, string readinessPath)
    {
        (Namespace, Name, TemplateHash, Port, ReadinessPath) = (ns, name, templateHash, port, readinessPath);
    }

    public string Namespace { get; }

    public string Name { get; }

    /// <summary>The pod-template-hash of the template it runs.</summary>
    public string TemplateHash { get; }

    /// <summary>The loopback port its <c>--port</c> was mapped to.</summary>
    public int Port { get; }

    public Uri Endpoint => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    internal string ReadinessPath { get; }

    /// <summary>Where its volumes are made; removed when it exits.</summary>
    internal string Directory { get; init; } = "";

    internal Process? Process { get; set; }

    /// <summary>The process id, once started.</summary>
    public int? ProcessId => Process?.Id;

    /// <summary>Answered its readiness path with 200.</summary>
    public bool IsReady { get; internal set; }

    /// <summary>Exited (by itself, or stopped).</summary>
    public bool HasExited { get; internal set; }

    public int? ExitCode { get; internal set; }

    /// <summary>Being stopped by the runner (a rollout replaced it, or its Deployment is gone).</summary>
    internal bool Stopping { get; set; }

    internal bool MarkedReady { get; set; }

    internal bool Failed { get; set; }

    /// <summary>The last lines it wrote (stdout and stderr), for messages.</summary>
    public string Tail
    {
        get
        {
            lock (tail)
            {
                return string.Join('\n', tail);
            }
        }
    }

    internal void Line(string line)
    {
        lock (tail)
        {
            tail.Enqueue(line);
            if (tail.Count > 40)
            {
                tail.Dequeue();
            }
        }
    }

    internal string LastLine
    {
        get
        {
            lock (tail)
            {
                return tail.LastOrDefault(line => line.Trim().Length > 0) ?? "";
            }
        }
    }
}

/// <summary>
/// The Deployment controller and kubelet of a one-machine cluster: each Deployment's pod template becomes one local
/// process (its container mapped as <see cref="LocalJobRunner"/> maps a Job's, <c>--port</c> given a free loopback
/// port). A process counts as available once its readiness probe's path answers 200; then the Deployment's rollout is
/// completed (<see cref="DeploymentSimulator.MakeReady"/>: ReplicaSet, revision, Available). A template change rolls:
/// the new process is started, and once it is ready the old one gets SIGTERM (killed after
/// <see cref="LocalDeploymentRunnerOptions.StopGrace"/>), so the model is served throughout. A process that exits by
/// itself makes the Deployment unavailable, with its last line as the message, and is started again after a backoff.
/// Deleting the Deployment (or scaling it to 0) stops its processes. One replica at most.
/// </summary>
public sealed partial class LocalDeploymentRunner : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Server server;
    private readonly LocalDeploymentRunnerOptions options;
    private readonly LocalContainers containers;
    private readonly string root = Path.Combine(Path.GetTempPath(), "nexus-deployments-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource stopping = new();
    private readonly HttpClient probes = new() { Timeout = TimeSpan.FromSeconds(2) };
    // Deployment key (ns/name) → its processes, oldest first; the last is the newest template's.
    private readonly Dictionary<string, List<LocalServingProcess>> processes = [];
    private readonly Dictionary<string, (string Hash, int Failures, DateTime NotBefore)> restarts = [];
    private readonly List<LocalServingProcess> started = [];
    private readonly List<Task> tasks = [];
    private Task? loop;

    public LocalDeploymentRunner(Server server, LocalDeploymentRunnerOptions options)
    {
        this.server = server;
        this.options = options;
        containers = new LocalContainers(server, options.ResolvedImages, options.EnvironmentOverrides);
    }

    /// <summary>Every process started, in start order.</summary>
    public IReadOnlyList<LocalServingProcess> Started
    {
        get
        {
            lock (started)
            {
                return [.. started];
            }
        }
    }

    /// <summary>Where the Deployment is served now: its ready process's endpoint, or null.</summary>
    public Uri? EndpointOf(string ns, string name)
    {
        lock (processes)
        {
            return processes.GetValueOrDefault($"{ns}/{name}")?.LastOrDefault(p => p.IsReady && !p.HasExited && !p.Stopping)?.Endpoint;
        }
    }

    public Task StartAsync()
    {
        Directory.CreateDirectory(root);
        loop ??= Task.Run(() => RunAsync(stopping.Token));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        List<LocalServingProcess> all;
        lock (processes)
        {
            all = [.. processes.Values.SelectMany(list => list)];
        }

        await Task.WhenAll(all.Select(StopAsync));
        Task[] pending;
        lock (tasks)
        {
            pending = [.. tasks];
        }

        await Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default);
        probes.Dispose();
        stopping.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                // Re-checked after every write and every few milliseconds: process state changes are not writes.
                await server.WaitForAsync(() => Reconcile(dryRun: true), Timeout.InfiniteTimeSpan, cancellationToken);
                Reconcile(dryRun: false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>Compares the Deployments with the processes; acts unless <paramref name="dryRun"/>. True when there
    /// was (or is) something to do.</summary>
    private bool Reconcile(bool dryRun)
    {
        var work = false;
        var deployments = server.List("apps/v1", "deployments", options.Namespace)
            .Where(d => d["metadata"]?["deletionTimestamp"] is null)
            .ToDictionary(d => $"{d["metadata"]!["namespace"]!.GetValue<string>()}/{d["metadata"]!["name"]!.GetValue<string>()}");
        lock (processes)
        {
            foreach (var key in processes.Keys.Where(key => !deployments.ContainsKey(key)).ToList())
            {
                work = true;
                if (!dryRun)
                {
                    StopAll(processes[key]);
                    processes.Remove(key);
                    restarts.Remove(key);
                }
            }

            foreach (var (key, deployment) in deployments)
            {
                work |= ReconcileOne(key, deployment, dryRun);
            }
        }

        return work;
    }

    private bool ReconcileOne(string key, JsonObject deployment, bool dryRun)
    {
        var list = processes.TryGetValue(key, out var known) ? known : processes[key] = [];
        list.RemoveAll(p => p.HasExited && p.Stopping);
        var wanted = (deployment["spec"]?["replicas"]?.GetValue<int>() ?? 1) > 0;
        var template = deployment["spec"]?["template"] as JsonObject ?? [];
        var hash = DeploymentSimulator.PodTemplateHash(template);
        var newest = list.LastOrDefault(p => !p.Stopping);
        var ns = key[..key.IndexOf('/', StringComparison.Ordinal)];
        var name = key[(key.IndexOf('/', StringComparison.Ordinal) + 1)..];

        if (!wanted)
        {
            var running = list.Where(p => !p.Stopping).ToList();
            if (running.Count == 0)
            {
                return false;
            }

            if (!dryRun)
            {
                StopAll(running);
            }

            return true;
        }

        if (newest is null || newest.TemplateHash != hash)
        {
            var backoff = restarts.GetValueOrDefault(key);
            if (backoff.Hash == hash && DateTime.UtcNow < backoff.NotBefore)
            {
                return false;
            }

            if (!dryRun)
            {
                // A starting process of an older template is not wanted any more; a ready one serves until the new is.
                StopAll(list.Where(p => !p.Stopping && !p.IsReady).ToList());
                Start(ns, name, hash, deployment, list);
            }

            return true;
        }

        if (newest.Failed)
        {
            if (!dryRun)
            {
                var failures = restarts.GetValueOrDefault(key) is { } previous && previous.Hash == hash ? previous.Failures + 1 : 1;
                var wait = TimeSpan.FromSeconds(Math.Min(options.MaxRestartBackoff.TotalSeconds, Math.Pow(2, failures - 1)));
                restarts[key] = (hash, failures, DateTime.UtcNow + wait);
                newest.Stopping = true;
                var message = newest.ExitCode is { } code
                    ? $"the serving process exited with code {code}: {newest.LastLine}"
                    : $"the serving process was not ready within {options.ReadyTimeout}: {newest.LastLine}";
                TryMark(() => server.Deployments.SetUnavailable(ns, name, newest.ExitCode is null ? "ProgressDeadlineExceeded" : "ReplicaSetUpdated", message));
            }

            return true;
        }

        if (newest.IsReady && !newest.MarkedReady)
        {
            if (!dryRun)
            {
                newest.MarkedReady = true;
                restarts.Remove(key);
                TryMark(() => server.Deployments.MakeReady(ns, name));
                StopAll(list.Where(p => p != newest && !p.Stopping).ToList());
            }

            return true;
        }

        return false;
    }

    private void Start(string ns, string name, string hash, JsonObject deployment, List<LocalServingProcess> list)
    {
        var template = KubernetesJson.Deserialize<V1PodTemplateSpec>(deployment["spec"]?["template"]?.ToJsonString() ?? "{}");
        var container = template.Spec?.Containers?.FirstOrDefault();
        var readinessPath = container?.ReadinessProbe?.HttpGet?.Path ?? "/readyz";
        var port = FreePort();
        var process = new LocalServingProcess(ns, name, hash, port, readinessPath)
        {
            Directory = Path.Combine(root, $"{ns}-{name}-{hash}-{Guid.NewGuid():N}"),
        };
        list.Add(process);
        lock (started)
        {
            started.Add(process);
        }

        ProcessStartInfo start;
        try
        {
            start = containers.Prepare(ns, $"{name}-{hash}", template.Spec, process.Directory);
        }
        catch (NotRunnableException exception)
        {
            process.Line($"LocalDeploymentRunner cannot run Deployment {ns}/{name}: {exception.Message}");
            Exited(process, 128);
            return;
        }

        MapPort(start, port);
        var run = new Process { StartInfo = start };
        run.OutputDataReceived += (_, e) => { if (e.Data is not null) process.Line(e.Data); };
        run.ErrorDataReceived += (_, e) => { if (e.Data is not null) process.Line(e.Data); };
        try
        {
            run.Start();
        }
        catch (Exception exception) when (exception is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Line($"LocalDeploymentRunner could not start {start.FileName}: {exception.Message}");
            run.Dispose();
            Exited(process, 128);
            return;
        }

        process.Process = run;
        run.BeginOutputReadLine();
        run.BeginErrorReadLine();
        lock (tasks)
        {
            tasks.Add(Task.Run(() => WatchAsync(process, run, stopping.Token)));
        }
    }

    /// <summary>Probes the process until it is ready, then waits for its exit.</summary>
    private async Task WatchAsync(LocalServingProcess process, Process run, CancellationToken cancellationToken)
    {
        var exited = run.WaitForExitAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow + options.ReadyTimeout;
        var probe = new Uri(process.Endpoint, process.ReadinessPath.TrimStart('/'));
        while (!exited.IsCompleted && !process.IsReady && !process.Stopping && !cancellationToken.IsCancellationRequested)
        {
            if (DateTime.UtcNow > deadline)
            {
                process.Line($"not ready within {options.ReadyTimeout} ({process.ReadinessPath} never answered 200)");
                process.Failed = true;
                await TerminateAsync(run);
                break;
            }

            try
            {
                using var response = await probes.GetAsync(probe, cancellationToken);
                process.IsReady = response.StatusCode == HttpStatusCode.OK;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }

            if (!process.IsReady)
            {
                await Task.WhenAny(exited, Task.Delay(options.ProbeInterval, cancellationToken)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await exited;
        var timedOut = process.Failed;
        Exited(process, timedOut ? null : run.ExitCode);
        try
        {
            System.IO.Directory.Delete(process.Directory, recursive: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Removed with the runner's root at the latest.
        }
    }

    private static void Exited(LocalServingProcess process, int? exitCode)
    {
        process.ExitCode = exitCode;
        process.HasExited = true;
        if (!process.Stopping)
        {
            process.Failed = true;
        }
    }

    private void StopAll(List<LocalServingProcess> list)
    {
        foreach (var process in list)
        {
            process.Stopping = true;
            lock (tasks)
            {
                tasks.Add(StopAsync(process));
            }
        }
    }

    /// <summary>SIGTERM, then a kill after the grace period.</summary>
    private async Task StopAsync(LocalServingProcess process)
    {
        process.Stopping = true;
        if (process.Process is not { } run || process.HasExited)
        {
            return;
        }

        await TerminateAsync(run);
    }

    private async Task TerminateAsync(Process run)
    {
        try
        {
            if (!run.HasExited)
            {
                _ = Kill(run.Id, SigTerm);
                using var grace = new CancellationTokenSource(options.StopGrace);
                try
                {
                    await run.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    run.Kill(entireProcessTree: true);
                    await run.WaitForExitAsync(CancellationToken.None);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    /// <summary>Writes the Deployment's status unless it was deleted meanwhile.</summary>
    private static void TryMark(Action mark)
    {
        try
        {
            mark();
        }
        catch (InvalidOperationException)
        {
            // Deleted meanwhile: the next pass stops its processes.
        }
    }

    /// <summary>The container's <c>--port N</c> (or <c>--port=N</c>) becomes the free port; without one it is added.</summary>
    private static void MapPort(ProcessStartInfo start, int port)
    {
        var text = port.ToString(CultureInfo.InvariantCulture);
        var arguments = start.ArgumentList;
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] == "--port" && i + 1 < arguments.Count)
            {
                arguments[i + 1] = text;
                return;
            }

            if (arguments[i].StartsWith("--port=", StringComparison.Ordinal))
            {
                arguments[i] = "--port=" + text;
                return;
            }
        }

        arguments.Add("--port");
        arguments.Add(text);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
