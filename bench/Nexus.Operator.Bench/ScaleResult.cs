using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Nexus.Operator.Bench;

/// <summary>Everything <c>scale</c> measured; serialised as one JSON line (snake_case), rendered as a Markdown table.</summary>
internal sealed record ScaleResult(
    string Benchmark,
    int Experts,
    int CreateConcurrency,
    int Workers,
    int Warmup,
    double ResyncSeconds,
    double ProductionResyncSeconds,
    double IdleSeconds,
    string LeaderElection,
    bool ApiServerGarbageCollector,
    int Cores,
    string LoadAverageAtStart,
    PeerResult Peer,
    LoadPhase Load,
    RestartPhase Restart,
    IdlePhase Idle,
    MemoryResult Memory)
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToMarkdown()
    {
        static string F(double value, string format = "0.00") => value.ToString(format, CultureInfo.InvariantCulture);
        static string MiB(long bytes) => F(bytes / 1048576.0, "0");
        var load = Load;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{Experts:N0} Experts created at once ({CreateConcurrency} creates in flight), {Workers} workers, leader election {LeaderElection}, {Cores} cores, load average at start {LoadAverageAtStart}");
        text.AppendLine();
        text.AppendLine("| measure | operator | peer | ratio |");
        text.AppendLine("|---|---:|---:|---:|");
        text.AppendLine($"| time until every Expert is reconciled (s) | {F(load.ReconcileAllSeconds)} | {F(Peer.CreateSeconds)} (the same creates, no operator) | {F(load.ReconcileOverPeerCreate)}× |");
        text.AppendLine($"| the same, against the run's writes (creates + operator's) at the peer's create rate (s) | {F(load.ReconcileAllSeconds)} | {F(load.PeerWriteSeconds)} | {F(load.ReconcileOverPeerWrites)}× |");
        text.AppendLine($"| time of the creates themselves (s) | {F(load.CreateSeconds)} | {F(Peer.CreateSeconds)} | {F(load.CreateOverPeerCreate)}× |");
        text.AppendLine($"| until the operator went quiet (s) | {F(load.SettledSeconds)} | | |");
        text.AppendLine($"| writes per Expert | {F(load.WritesPerExpert)} ({Verbs(load.WritesPerExpertByResource)}) | {MinimumWrites} (finalizer, Job, status, 2 Events) | {F(load.WritesOverMinimum)}× |");
        text.AppendLine($"| Job creates answered 409 / Events dropped by the recorder | {load.JobCreatesAnswered409} / {F(load.EventsDropped, "0")} | | |");
        text.AppendLine($"| requests per Expert | {F(load.RequestsPerExpert)} ({Verbs(load.RequestsPerExpertByVerb)}) | | |");
        text.AppendLine($"| reconciles per Expert | {F(load.ReconcilesPerExpert)} ({Verbs(load.ReconcilesPerExpertByResult)}) | | |");
        text.AppendLine($"| mean reconcile / mean queue wait (ms) | {F(load.MeanReconcileMilliseconds, "0.0")} / {F(load.MeanQueueWaitMilliseconds, "0")} | | |");
        text.AppendLine($"| CPU during the load: operator / API server, loader and observer (s) | {F(load.OperatorCpuSeconds)} / {F(load.ApiServerCpuSeconds)} | {F(Peer.ApiServerCpuSeconds)} (API server and loader) | |");
        text.AppendLine($"| the machine meanwhile: busy / idle / stolen by the hypervisor (CPU s) | {F(load.MachineBusySeconds)} / {F(load.MachineIdleSeconds)} / {F(load.MachineStealSeconds)} | | |");
        text.AppendLine($"| operator RSS: before the host / after the load / peak (MiB) | {MiB(Memory.BaselineRssBytes)} / {MiB(Memory.RssAfterLoadBytes)} / {MiB(Memory.PeakRssBytes)} | | |");
        text.AppendLine($"| managed heap after the load (garbage included) / GC committed / live at the end (MiB) | {MiB(Memory.GcHeapAfterLoadBytes)} / {MiB(Memory.GcCommittedAfterLoadBytes)} / {MiB(Memory.LiveManagedAtEndBytes)} | | |");
        text.AppendLine($"| restart: requests / writes, {Restart.Experts:N0} Experts reconciled in {F(Restart.Seconds)} s | {Restart.OperatorRequests} / {Restart.OperatorWrites} | | |");
        text.AppendLine($"| idle {F(Idle.Seconds, "0.0")} s, resync {F(ResyncSeconds, "0.###")} s: resync rounds / reconciles / requests / writes | {F(Idle.ResyncRounds, "0.#")} / {F(Idle.Reconciles, "0")} / {Idle.OperatorRequests} / {Idle.OperatorWrites} | 0 writes (goal) | |");
        return text.ToString();
    }

    private static string MinimumWrites => ScaleBenchmark.MinimumWritesPerExpert.ToString(CultureInfo.InvariantCulture);

    private static string Verbs(IReadOnlyDictionary<string, double> perExpert) =>
        string.Join(", ", perExpert.Where(pair => pair.Value > 0).OrderByDescending(pair => pair.Value)
            .Select(pair => $"{pair.Key} {pair.Value.ToString("0.00", CultureInfo.InvariantCulture)}"));
}

internal sealed record PeerResult(double CreateSeconds, double CreatesPerSecond, double ApiServerCpuSeconds);

/// <param name="ReconcileAllSeconds">From the first create until the observer saw the last Expert reconciled.</param>
/// <param name="SettledSeconds">From the first create until the operator's last reconcile (± 20 ms).</param>
/// <param name="MachineBusySeconds">CPU time of the whole machine over the same window as the CPU figures (from the
/// first create until the operator had been quiet for a second): operator, API server and anything else.</param>
/// <param name="PeerWriteSeconds">How long the run's writes (the loader's creates and the operator's writes) take at
/// the peer's create rate: the API server's share of the time, had the operator cost nothing.</param>
/// <param name="OperatorRequestDetail">The operator's requests in the window, by verb, resource, subresource and status code.</param>
internal sealed record LoadPhase(
    double CreateSeconds,
    double ReconcileAllSeconds,
    double SettledSeconds,
    double ReconcileOverPeerCreate,
    double PeerWriteSeconds,
    double ReconcileOverPeerWrites,
    double CreateOverPeerCreate,
    int OperatorRequests,
    double RequestsPerExpert,
    IReadOnlyDictionary<string, double> RequestsPerExpertByVerb,
    int OperatorWrites,
    double WritesPerExpert,
    IReadOnlyDictionary<string, double> WritesPerExpertByResource,
    double WritesOverMinimum,
    double ReconcilesPerExpert,
    IReadOnlyDictionary<string, double> ReconcilesPerExpertByResult,
    double MeanReconcileMilliseconds,
    double MeanQueueWaitMilliseconds,
    int JobCreatesAnswered409,
    int EventWrites,
    double EventsDropped,
    int OtherWrites,
    double OperatorCpuSeconds,
    double ApiServerCpuSeconds,
    double MachineBusySeconds,
    double MachineIdleSeconds,
    double MachineStealSeconds,
    IReadOnlyList<RequestCount> OperatorRequestDetail)
{
    public static LoadPhase From(
        int experts, LoadResult peer, LoadResult created, double settledSeconds, RequestSnapshot requests, ReconcileCounts reconciles,
        double eventsDropped, double operatorCpuSeconds, double apiServerCpuSeconds, MachineCpu machine)
    {
        var reconcileAll = created.ReconciledSeconds ?? throw new InvalidOperationException("The load was not observed.");
        var operatorRequests = requests.From(ControlProtocol.Agents.Operator).ToList();
        var writes = requests.Writes(ControlProtocol.Agents.Operator);
        // The operator's run makes the loader's creates plus the operator's writes; at the peer's create rate they take:
        var peerWriteSeconds = peer.CreateSeconds * (experts + writes) / experts;
        return new LoadPhase(
            created.CreateSeconds,
            reconcileAll,
            settledSeconds,
            reconcileAll / peer.CreateSeconds,
            peerWriteSeconds,
            reconcileAll / peerWriteSeconds,
            created.CreateSeconds / peer.CreateSeconds,
            requests.Total(ControlProtocol.Agents.Operator),
            requests.Total(ControlProtocol.Agents.Operator) / (double)experts,
            PerExpert(operatorRequests.GroupBy(count => count.Verb).ToDictionary(group => group.Key, group => (double)group.Sum(count => count.Count)), experts),
            writes,
            writes / (double)experts,
            PerExpert(operatorRequests.Where(count => count.IsWrite)
                .GroupBy(count => $"{count.Verb} {count.Resource}{(count.Subresource is null ? "" : "/" + count.Subresource)}")
                .ToDictionary(group => group.Key, group => (double)group.Sum(count => count.Count)), experts),
            writes / (double)experts / ScaleBenchmark.MinimumWritesPerExpert,
            reconciles.Total / experts,
            PerExpert(reconciles.ByResult, experts),
            reconciles.Total > 0 ? 1000 * reconciles.ReconcileSeconds / reconciles.Total : 0,
            reconciles.QueueWaits > 0 ? 1000 * reconciles.QueueWaitSeconds / reconciles.QueueWaits : 0,
            // Job creates the API server answered 409 AlreadyExists: the Job cache had not yet seen a Job an earlier
            // reconcile created (the reconciler treats it as present).
            operatorRequests.Where(count => count is { Verb: "create", Resource: "jobs", StatusCode: 409 }).Sum(count => count.Count),
            operatorRequests.Where(count => count is { IsWrite: true, Resource: "events" }).Sum(count => count.Count),
            eventsDropped,
            // Anyone else's writes beyond the loader's creates: none expected (no garbage collector, no Lease).
            requests.WritesByAnyone() - writes - requests.Writes(ControlProtocol.Agents.Loader),
            operatorCpuSeconds,
            apiServerCpuSeconds,
            machine.BusySeconds,
            machine.IdleSeconds,
            machine.StealSeconds,
            operatorRequests);
    }

    private static Dictionary<string, double> PerExpert(IReadOnlyDictionary<string, double> counts, int experts) =>
        counts.ToDictionary(pair => pair.Key, pair => pair.Value / experts);
}

internal sealed record RestartPhase(double Seconds, int Experts, int OperatorRequests, int OperatorWrites, IReadOnlyList<RequestCount> OperatorRequestDetail)
{
    public static RestartPhase From(double seconds, int experts, RequestSnapshot requests) => new(
        seconds, experts, requests.Total(ControlProtocol.Agents.Operator), requests.Writes(ControlProtocol.Agents.Operator),
        requests.From(ControlProtocol.Agents.Operator).ToList());
}

/// <param name="ResyncRounds">Resync re-deliveries of Experts divided by the Experts cached.</param>
/// <param name="WritesByAnyone">Every write the server saw in the idle window, whoever sent it.</param>
internal sealed record IdlePhase(
    double Seconds,
    double ResyncRounds,
    double Reconciles,
    double ReconcilesPerExpertPerRound,
    int OperatorRequests,
    int OperatorWrites,
    int WritesByAnyone,
    double OperatorCpuSeconds,
    IReadOnlyList<RequestCount> OperatorRequestDetail)
{
    public static IdlePhase From(double seconds, int experts, RequestSnapshot requests, long resyncEvents, ReconcileCounts reconciles, double operatorCpuSeconds)
    {
        var rounds = experts == 0 ? 0 : resyncEvents / (double)experts;
        return new IdlePhase(
            seconds,
            rounds,
            reconciles.Total,
            rounds > 0 ? reconciles.Total / experts / rounds : 0,
            requests.Total(ControlProtocol.Agents.Operator),
            requests.Writes(ControlProtocol.Agents.Operator),
            requests.WritesByAnyone(),
            operatorCpuSeconds,
            requests.From(ControlProtocol.Agents.Operator).ToList());
    }
}

/// <param name="BaselineRssBytes">Before the first operator host started: the runtime and the benchmark's own code.</param>
/// <param name="LiveManagedAtEndBytes">Reachable managed bytes after a full collection at the end (the idle operator's
/// caches and runtime state; the first host is garbage by then).</param>
internal sealed record MemoryResult(
    long BaselineRssBytes,
    long RssAfterLoadBytes,
    long GcHeapAfterLoadBytes,
    long GcCommittedAfterLoadBytes,
    int GcCollectionsAfterLoad,
    long RssAtEndBytes,
    long PeakRssBytes,
    long LiveManagedAtEndBytes);
