using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Nexus.Operator.Bench;

/// <summary>
/// <c>scale</c>: N Experts created at once against a running operator, then an idle stretch, with the API server's raw
/// create throughput and the minimum writes per Expert as peers measured in the same run.
/// </summary>
/// <remarks>
/// The phases, in order:
/// <list type="number">
/// <item>Peer: the same N creates (after a warm-up) into a namespace no operator watches.</item>
/// <item>Load: an operator with the production resync period (10 min, so no resync falls in the measurement) reconciles
/// a warm-up batch; then N Experts are created at once and timed until the observer has seen every one reconciled,
/// then until the operator has gone quiet. Requests are the server's count of those sent with the operator's
/// User-Agent between the two (the loader's creates and the observer's watches carry their own).</item>
/// <item>Restart and idle: the resync period is fixed when an informer starts, so the idle phase runs on a second
/// operator started with the short period, as a restarted pod would be: its startup (relist, one reconcile of every
/// Expert) is reported apart; then the idle stretch, whose resyncs each re-deliver every Expert.</item>
/// </list>
/// </remarks>
internal static class ScaleBenchmark
{
    public const string PeerNamespace = "bench-peer";
    public const string OperatorNamespace = "bench";

    /// <summary>The informers' default resync period (<c>InformerOptions.ResyncPeriod</c>), which the idle phase compresses.</summary>
    public static readonly TimeSpan ProductionResync = TimeSpan.FromMinutes(10);

    /// <summary>Writes the Expert reconciler needs for a new Expert's first step: the finalizer patch, the train Job's
    /// create, one status write (phase Pending, the Job named), and the two Events it records by design (JobCreated,
    /// and the phase change to Pending). Three of them change state; the Events are the trail <c>kubectl describe</c>
    /// shows.</summary>
    public const int MinimumWritesPerExpert = 5;

    /// <summary>The operator counts as settled after this long without a reconcile.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    public static async Task<ScaleResult> RunAsync(ScaleOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var loadAverage = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

        // The reconciler reads step results from the artifact store: a file:// root nothing writes to, so every step
        // is still to run. Deleted at the end.
        var artifactFolder = Directory.CreateTempSubdirectory("nexus-operator-bench-").FullName;
        try
        {
            return await RunAsync(options, loggers, loadAverage, $"file://{artifactFolder}", cancellationToken);
        }
        finally
        {
            Directory.Delete(artifactFolder, recursive: true);
        }
    }

    private static async Task<ScaleResult> RunAsync(
        ScaleOptions options, ILoggerFactory loggers, string loadAverage, string artifactRoot, CancellationToken cancellationToken)
    {
        var timeoutSeconds = options.Timeout.TotalSeconds;
        var n = options.Experts;
        var c = options.CreateConcurrency;
        await using var server = await ApiServerProcess.StartAsync(options, cancellationToken);
        Progress($"API server at {server.BaseUri} (pid of its own); load average {loadAverage}");

        await server.CreateNamespaceAsync(PeerNamespace, cancellationToken);
        if (options.Warmup > 0)
        {
            await server.LoadAsync(new LoadRequest(PeerNamespace, "warmup-", options.Warmup, c, Observe: false, timeoutSeconds), cancellationToken);
        }

        var peer = await server.LoadAsync(new LoadRequest(PeerNamespace, "expert-", n, c, Observe: false, timeoutSeconds), cancellationToken);
        Progress($"peer: {n} creates, no operator, in {peer.CreateSeconds:0.00} s");

        await server.CreateNamespaceAsync(OperatorNamespace, cancellationToken);
        var baseline = ProcessMemory.Read();
        LoadPhase load;
        ProcessMemory afterLoad;
        await using (var reconciling = await OperatorUnderTest.StartAsync(
                         server.BaseUri, OperatorNamespace, options.Workers, ProductionResync, artifactRoot, loggers, options.Timeout, cancellationToken))
        {
            if (options.Warmup > 0)
            {
                await server.LoadAsync(new LoadRequest(OperatorNamespace, "warmup-", options.Warmup, c, Observe: true, timeoutSeconds), cancellationToken);
                await reconciling.WaitUntilQuietAsync(Quiet, options.Timeout, cancellationToken);
            }

            var mark = await server.MarkAsync(cancellationToken);
            var reconcilesBefore = reconciling.Reconciles();
            var droppedBefore = reconciling.EventsDropped;
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var serverCpuBefore = server.CpuTime;
            var machineBefore = MachineCpu.Read();
            var started = Stopwatch.GetTimestamp();
            var created = await server.LoadAsync(new LoadRequest(OperatorNamespace, "expert-", n, c, Observe: true, timeoutSeconds), cancellationToken);
            Progress($"operator: {n} creates in {created.CreateSeconds:0.00} s, all reconciled after {created.ReconciledSeconds:0.00} s");
            await reconciling.WaitUntilQuietAsync(Quiet, options.Timeout, cancellationToken);
            var settledSeconds = (Stopwatch.GetElapsedTime(started) - Quiet).TotalSeconds;
            var operatorCpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;
            var serverCpu = (server.CpuTime - serverCpuBefore).TotalSeconds;
            var machine = MachineCpu.Read().Minus(machineBefore);
            var requests = await server.RequestsSinceAsync(mark, cancellationToken);
            afterLoad = ProcessMemory.Read();
            load = LoadPhase.From(
                n, peer, created, settledSeconds, requests, reconciling.Reconciles().Minus(reconcilesBefore),
                reconciling.EventsDropped - droppedBefore, operatorCpu, serverCpu, machine);
        }

        RestartPhase restart;
        IdlePhase idle;
        ProcessMemory atEnd;
        long liveManaged;
        var restartMark = await server.MarkAsync(cancellationToken);
        var restartStarted = Stopwatch.GetTimestamp();
        await using (var idling = await OperatorUnderTest.StartAsync(
                         server.BaseUri, OperatorNamespace, options.Workers, options.Resync, artifactRoot, loggers, options.Timeout, cancellationToken))
        {
            // Counted from the host's creation, whose metrics start at zero: reconciles may begin before StartAsync returns.
            await idling.WaitUntilReconciledAsync(idling.CachedExperts, options.Timeout, cancellationToken);
            var restartSeconds = Stopwatch.GetElapsedTime(restartStarted).TotalSeconds;
            restart = RestartPhase.From(restartSeconds, idling.CachedExperts, await server.RequestsSinceAsync(restartMark, cancellationToken));
            Progress($"restart: {restart.Experts} Experts reconciled in {restartSeconds:0.00} s, {restart.OperatorWrites} writes");

            var idleMark = await server.MarkAsync(cancellationToken);
            var resyncsBefore = idling.ResyncEvents;
            var reconcilesBefore = idling.Reconciles();
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var idleStarted = Stopwatch.GetTimestamp();
            await Task.Delay(options.Idle, cancellationToken);
            var idleSeconds = Stopwatch.GetElapsedTime(idleStarted).TotalSeconds;
            var idleRequests = await server.RequestsSinceAsync(idleMark, cancellationToken);
            idle = IdlePhase.From(
                idleSeconds, idling.CachedExperts, idleRequests, idling.ResyncEvents - resyncsBefore,
                idling.Reconciles().Minus(reconcilesBefore), (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds);
            Progress($"idle: {idleSeconds:0.0} s, {idle.ResyncRounds:0.#} resync rounds, {idle.OperatorRequests} requests, {idle.OperatorWrites} writes");
            atEnd = ProcessMemory.Read();
            liveManaged = ProcessMemory.LiveManagedBytes();
        }

        return new ScaleResult(
            Benchmark: "operator-scale",
            Experts: n,
            CreateConcurrency: c,
            Workers: options.Workers,
            Warmup: options.Warmup,
            ResyncSeconds: options.Resync.TotalSeconds,
            ProductionResyncSeconds: ProductionResync.TotalSeconds,
            IdleSeconds: options.Idle.TotalSeconds,
            LeaderElection: "off",
            ApiServerGarbageCollector: options.ApiServerGarbageCollector,
            Cores: Environment.ProcessorCount,
            LoadAverageAtStart: loadAverage,
            Peer: new PeerResult(peer.CreateSeconds, n / peer.CreateSeconds, peer.ApiServerCpuSeconds),
            Load: load,
            Restart: restart,
            Idle: idle,
            Memory: new MemoryResult(
                baseline.RssBytes, afterLoad.RssBytes, afterLoad.GcHeapBytes, afterLoad.GcCommittedBytes, afterLoad.GcCollections,
                atEnd.RssBytes, atEnd.PeakRssBytes, liveManaged));
    }

    private static void Progress(string message) => Console.Error.WriteLine($"[scale] {message}");
}
