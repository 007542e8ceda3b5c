using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Api.Validation;
using Nexus.ApiServer;
using Nexus.Operator.Hosting;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.Storage;

namespace Nexus.Local;

/// <summary>Settings of a <see cref="LocalCluster"/> (<c>nexus run</c>'s flags).</summary>
public sealed record LocalClusterOptions
{
    /// <summary>The folder the cluster keeps everything in: <c>state.json</c> (the API server's objects, so a re-run
    /// resumes), <c>kubeconfig</c>, <c>logs/</c>, <c>artifacts/</c> (the default artifact root) and <c>s3/</c> (the
    /// local buckets, when <c>nexus run</c> uses them).</summary>
    public required string Root { get; init; }

    /// <summary>The <c>nexus</c> binary the steps and the server run as (<c>nexus run</c>: its own executable).</summary>
    public required string NexusPath { get; init; }

    /// <summary>Step processes running at once (<c>--parallel</c>).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Whether a NexusModel's serving Deployment becomes a <c>nexus serve</c> process (<c>--no-serve</c>:
    /// false; the rollout is then reported complete without a process, so the lifecycle goes on).</summary>
    public bool Serve { get; init; } = true;

    /// <summary>With <see cref="Serve"/>: the loopback port that always forwards to the served NexusModel's current
    /// process (<c>--port</c>, <see cref="LocalServingProxy"/>); null: none, each process is called at its own port.</summary>
    public int? ServingPort { get; init; }

    /// <summary>Wall-clock limit of one step's process.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromHours(12);

    /// <summary>A folder that stands for S3 on a machine without it: a manifest's <c>s3://BUCKET/KEY</c> location is read
    /// as <c>file://LOCALBUCKETS/BUCKET/KEY</c> (<see cref="LocalBucketLocation"/>). Null: <c>s3://</c> locations are
    /// left to the steps' S3 settings. <c>nexus run</c> sets <c>ROOT/s3</c> unless S3 credentials are configured.</summary>
    public string? LocalBuckets { get; init; }

    /// <summary>Step processes' CPU threads: the machine's cores shared among <see cref="Parallel"/> processes (at least
    /// one each), as a container's CPU limit would bound them on a node.</summary>
    public int ThreadsPerStep => Math.Max(1, Environment.ProcessorCount / Parallel);

    /// <summary>How often the manifest files are checked for changes.</summary>
    public TimeSpan ManifestPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Every step's output, <c>ROOT/logs/NAMESPACE/JOB.log</c>.</summary>
    public string LogFolder => Path.Combine(Path.GetFullPath(Root), "logs");

    /// <summary>The artifact root (<c>--artifacts</c>): <c>s3://BUCKET[/PREFIX]</c> (in <see cref="S3"/>, or in the
    /// local buckets) or <c>file:///PATH</c>. Null: <c>file://ROOT/artifacts</c>.</summary>
    public string? Artifacts { get; init; }

    /// <summary>The S3 that <c>s3://</c> locations are read from and written to, by the steps and the operator
    /// (<c>nexus run</c>: its environment's settings when S3 credentials are set, docs/storage.md). Null: no S3.</summary>
    public S3Settings? S3 { get; init; }

    /// <summary>The artifact root the operator is given: <see cref="Artifacts"/> (an <c>s3://</c> one in the local
    /// buckets when they stand for S3), by default <c>file://ROOT/artifacts</c>.</summary>
    public string ArtifactRoot => Artifacts is null
        ? new Uri(Path.Combine(Path.GetFullPath(Root), "artifacts")).AbsoluteUri
        : LocalBucketLocation(Artifacts.TrimEnd('/'));

    /// <summary>Where <see cref="LocalBuckets"/> keeps <paramref name="location"/> (an <c>s3://BUCKET/KEY</c> URI), as a
    /// <c>file://</c> URI; any other location unchanged. A key that would leave the bucket's folder is refused.</summary>
    public string LocalBucketLocation(string location)
    {
        if (LocalBuckets is null || !location.StartsWith("s3://", StringComparison.Ordinal))
        {
            return location;
        }

        var path = location["s3://".Length..].TrimEnd('/');
        if (path.Length == 0 || path.Split('/').Any(segment => segment is "" or "." or ".."))
        {
            throw new ArgumentException($"{location} is not an s3://BUCKET/KEY location without empty, '.' or '..' segments; fix the URI.");
        }

        return new Uri(Path.Combine(Path.GetFullPath(LocalBuckets), path)).AbsoluteUri;
    }

    /// <summary>This, or an <see cref="ArgumentException"/> naming the flag at fault and its fix.</summary>
    public LocalClusterOptions Validate()
    {
        if (Parallel < 1)
        {
            throw new ArgumentException($"--parallel is {Parallel}; give at least 1 step process at a time.");
        }

        if (string.IsNullOrWhiteSpace(Root))
        {
            throw new ArgumentException("--root is empty; give the folder nexus run keeps its state and artifacts in (default .nexus).");
        }

        if (Artifacts is not null && !Artifacts.StartsWith("file:///", StringComparison.Ordinal) && !Artifacts.StartsWith("s3://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"--artifacts is {Artifacts}; give an s3://BUCKET[/PREFIX] or file:///ABSOLUTE/PATH location (default file://ROOT/artifacts).");
        }

        if (Artifacts is not null && Artifacts.StartsWith("s3://", StringComparison.Ordinal) && S3 is null && LocalBuckets is null)
        {
            throw new ArgumentException($"--artifacts is {Artifacts}, and no S3 is configured; set NEXUS_S3_ACCESS_KEY and NEXUS_S3_SECRET_KEY (and NEXUS_S3_ENDPOINT), or leave --artifacts out.");
        }

        return this;
    }
}

/// <summary>
/// The operator on one machine, as <c>nexus run</c> runs it: the in-process API server on loopback (its objects saved
/// to <c>ROOT/state.json</c>), the Expert, NexusModel and Extension CRDs, the operator's own controllers with the
/// artifact root <see cref="LocalClusterOptions.ArtifactRoot"/>, Jobs run as <c>nexus</c> step processes (<see cref="LocalJobRunner"/>)
/// and the serving Deployment as a <c>nexus serve</c> process (<see cref="LocalDeploymentRunner"/>). The operator's
/// code does not know it runs locally: there is one implementation of the lifecycle.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    /// <summary>Set on every object <see cref="ApplyAsync"/> writes: the manifest file it came from, so that removing the
    /// file (or the object from it) deletes the object, also across re-runs.</summary>
    public const string SourceAnnotation = "local.nexus.moe/source";

    private static readonly (string Kind, string Plural)[] Kinds =
    [
        (Expert.KubeKind, Expert.KubePluralName), (NexusModel.KubeKind, NexusModel.KubePluralName), (Extension.KubeKind, Extension.KubePluralName),
    ];

    private static readonly string ApiVersion = $"{GroupVersion.Group}/{GroupVersion.Version}";

    private readonly LocalClusterOptions options;
    private readonly TextWriter output;
    private readonly CancellationTokenSource stopping = new();
    private readonly Dictionary<string, string> phases = [];
    private readonly HashSet<string> namespaces = [];
    private readonly HashSet<string> served = [];
    // Local-bucket paths already reported missing, so a re-apply does not repeat the line.
    private readonly HashSet<string> warnedMissing = [];
    // One apply at a time: the watcher's and the caller's would race on the same objects.
    private readonly SemaphoreSlim applying = new(1, 1);
    private readonly OperatorSettings settings;
    private Task? operatorRun;
    private Task? reporting;
    private Task? rollouts;
    private LocalServingProxy? proxy;

    private LocalCluster(LocalClusterOptions options, TextWriter output, LocalApiServer server)
    {
        this.options = options;
        this.output = output;
        Server = server;
        Client = server.CreateClient("nexus-run");
        settings = new OperatorSettings { ArtifactRoot = options.ArtifactRoot };
        if (options.S3 is { } s3)
        {
            // The steps reach the same S3 as this process (the Jobs' NEXUS_S3_ENDPOINT and REGION come from the settings).
            settings = settings with { S3Endpoint = s3.Endpoint.AbsoluteUri.TrimEnd('/'), S3Region = s3.Region };
        }

        Jobs = new LocalJobRunner(server, new LocalJobRunnerOptions
        {
            NexusPath = options.NexusPath, MaxParallel = options.Parallel, StepTimeout = options.StepTimeout,
            EnvironmentOverrides = StepEnvironment(options), LogFolder = options.LogFolder,
        });
        Deployments = options.Serve ? new LocalDeploymentRunner(server, new LocalDeploymentRunnerOptions { NexusPath = options.NexusPath }) : null;
    }

    public LocalApiServer Server { get; }

    /// <summary>What every step process gets besides its container's environment: its share of the cores
    /// (<c>DOTNET_PROCESSOR_COUNT</c>, which <c>--threads 0</c> reads), unless this process was given a count itself.</summary>
    private static Dictionary<string, string> StepEnvironment(LocalClusterOptions options) =>
        Environment.GetEnvironmentVariable("DOTNET_PROCESSOR_COUNT") is { Length: > 0 }
            ? []
            : new() { ["DOTNET_PROCESSOR_COUNT"] = options.ThreadsPerStep.ToString(CultureInfo.InvariantCulture) };

    /// <summary>A client of <see cref="Server"/> for the cluster's own writes (manifests, namespaces).</summary>
    public Kubernetes Client { get; }

    public LocalJobRunner Jobs { get; }

    /// <summary>The serving processes; null with <see cref="LocalClusterOptions.Serve"/> false.</summary>
    public LocalDeploymentRunner? Deployments { get; }

    /// <summary>The fixed address of the served model (<see cref="LocalClusterOptions.ServingPort"/>), or null.</summary>
    public Uri? ServingUri => proxy?.BaseUri;

    /// <summary><c>ROOT/kubeconfig</c>: <c>kubectl --kubeconfig ROOT/kubeconfig get nexusmodels</c> reads this cluster.</summary>
    public string KubeconfigPath => Path.Combine(Path.GetFullPath(options.Root), "kubeconfig");

    /// <summary>Starts the API server (resuming <c>ROOT/state.json</c>), installs the CRDs, writes the kubeconfig and
    /// starts the runners, the operator and the progress report (one line per phase change on
    /// <paramref name="output"/>).</summary>
    public static async Task<LocalCluster> StartAsync(LocalClusterOptions options, TextWriter output, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var root = Path.GetFullPath(options.Root);
        Directory.CreateDirectory(root);
        var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { StatePath = Path.Combine(root, "state.json") }, cancellationToken);
        var cluster = new LocalCluster(options, output, server);
        try
        {
            foreach (var crd in EmbeddedCrds())
            {
                server.InstallCrd(crd);
            }

            await File.WriteAllTextAsync(cluster.KubeconfigPath, Kubeconfig(server.BaseUri), cancellationToken);
            await cluster.EnsureArtifactBucketAsync(cancellationToken);
            await cluster.StartPartsAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartPartsAsync()
    {
        await Jobs.StartAsync();
        if (Deployments is not null)
        {
            await Deployments.StartAsync();
            if (options.ServingPort is { } port)
            {
                proxy = await LocalServingProxy.StartAsync(port, Served, stopping.Token);
            }
        }
        else
        {
            rollouts = Task.Run(() => CompleteRolloutsAsync(stopping.Token));
        }

        var host = OperatorHost.CreateBuilder(Server.CreateClient("nexus-operator"))
            .WithLeaderElection(new LeaderElectionOptions { Enabled = false })
            .AddNexusControllers(settings, options.S3 is { } s3 ? ArtifactStores.For(() => s3) : null)
            .Build();
        operatorRun = Task.Run(() => host.RunAsync(stopping.Token));
        reporting = Task.Run(() => ReportAsync(stopping.Token));
    }

    /// <summary>An <c>s3://</c> artifact root's bucket, made if it is missing (a cluster's would be made by its admin).</summary>
    private async Task EnsureArtifactBucketAsync(CancellationToken cancellationToken)
    {
        if (options.S3 is not { } s3 || !settings.ArtifactRoot.StartsWith("s3://", StringComparison.Ordinal))
        {
            return;
        }

        var bucket = settings.ArtifactRoot["s3://".Length..].Split('/')[0];
        using var store = new S3ArtifactStore(ArtifactLocation.Parse($"s3://{bucket}/nexus-run"), s3);
        await store.EnsureBucketAsync(cancellationToken);
    }

    /// <summary>
    /// Applies the Expert, NexusModel and Extension manifests in <paramref name="paths"/> (files, or folders: their
    /// <c>*.yaml</c> and <c>*.yml</c> files, not their subfolders): each object is created, or updated when its spec,
    /// labels or annotations differ; an object applied earlier from one of these files (or folders) that is no longer
    /// in them is deleted. Returns one line per problem (a file that does not parse, a kind not applied here, an object
    /// the API server refused); the other objects are applied regardless.
    /// </summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken = default)
    {
        await applying.WaitAsync(cancellationToken);
        try
        {
            return await ApplyOnceAsync(paths, cancellationToken);
        }
        finally
        {
            applying.Release();
        }
    }

    private async Task<IReadOnlyList<string>> ApplyOnceAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var applied = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in ManifestFiles(paths, problems))
        {
            List<JsonObject> documents;
            try
            {
                documents = [.. YamlToJson.ConvertAll(await File.ReadAllTextAsync(file, cancellationToken)).OfType<JsonObject>()];
            }
            catch (Exception exception) when (exception is IOException or FormatException or ArgumentException or InvalidOperationException)
            {
                problems.Add($"{file}: not read as YAML: {exception.Message}");
                continue;
            }

            foreach (var document in documents)
            {
                if (await ApplyOneAsync(file, document, cancellationToken) is { } problem)
                {
                    problems.Add(problem);
                }
                else
                {
                    applied.Add(Key(document));
                }
            }
        }

        foreach (var (kind, plural) in Kinds)
        {
            foreach (var existing in Server.List(ApiVersion, plural))
            {
                var source = existing["metadata"]?["annotations"]?[SourceAnnotation]?.GetValue<string>();
                if (source is null || !Covers(paths, source) || applied.Contains(Key(existing)))
                {
                    continue;
                }

                var ns = existing["metadata"]!["namespace"]!.GetValue<string>();
                var name = existing["metadata"]!["name"]!.GetValue<string>();
                try
                {
                    await Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GroupVersion.Group, GroupVersion.Version, ns, plural, name, cancellationToken: cancellationToken);
                    await output.WriteLineAsync($"{Now()} {kind} {ns}/{name}: deleted ({source} no longer has it)");
                }
                catch (HttpOperationException exception) when (exception.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    // Deleted meanwhile.
                }
            }
        }

        return problems;
    }

    /// <summary>Re-applies <paramref name="paths"/> (<see cref="ApplyAsync"/>) whenever a manifest file appears, changes or
    /// disappears, until cancelled; problems are written to the output.</summary>
    public async Task WatchManifestsAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var seen = Fingerprint(paths);
        try
        {
            while (true)
            {
                await Task.Delay(options.ManifestPollInterval, cancellationToken);
                var now = Fingerprint(paths);
                if (now == seen)
                {
                    continue;
                }

                seen = now;
                foreach (var problem in await ApplyAsync(paths, cancellationToken))
                {
                    await output.WriteLineAsync($"{Now()} {problem}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>
    /// Completes with 0 once every NexusModel is Ready for its current spec and served (at least one must exist), writing each
    /// one's served revision, per-domain perplexities and endpoint; with 1 as soon as one has Failed, writing its
    /// failing condition.
    /// </summary>
    public async Task<int> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var models = Server.List(ApiVersion, NexusModel.KubePluralName)
                .Select(json => KubernetesJson.Deserialize<NexusModel>(json.ToJsonString()))
                .ToList();
            if (models.FirstOrDefault(m => m.Status?.Phase == NexusModelPhase.Failed) is { } failed)
            {
                var condition = failed.Status!.Conditions?.FirstOrDefault(c => c.Status == "False" && c.Type == ConditionTypes.Ready)
                                ?? failed.Status.Conditions?.FirstOrDefault(c => c.Status == "True" && c.Type == ConditionTypes.Stalled);
                await output.WriteLineAsync($"NexusModel {failed.Metadata.NamespaceProperty}/{failed.Metadata.Name} failed: " +
                                            $"{condition?.Type} {condition?.Reason}: {condition?.Message ?? failed.Status.Message}");
                return 1;
            }

            if (models.Count > 0 && models.All(m => m.Status is { Phase: NexusModelPhase.Ready } status && status.ObservedGeneration == m.Metadata.Generation && IsServed(m)))
            {
                foreach (var model in models)
                {
                    await ReportServedAsync(model);
                }

                return 0;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        foreach (var task in new[] { operatorRun, reporting, rollouts }.OfType<Task>())
        {
            try
            {
                await task;
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        if (proxy is not null)
        {
            await proxy.DisposeAsync();
        }

        if (Deployments is not null)
        {
            await Deployments.DisposeAsync();
        }

        await Jobs.DisposeAsync();
        Client.Dispose();
        await Server.DisposeAsync();
        stopping.Dispose();
        applying.Dispose();
    }

    /// <summary>Once per served revision of a model, once its process answers: the summary line, and the evaluate
    /// step's table (per-domain perplexity and routing shares) from its log.</summary>
    private async Task ReportServedAsync(NexusModel model)
    {
        if (!IsServed(model))
        {
            return;
        }

        var key = $"{model.Metadata.NamespaceProperty}/{model.Metadata.Name}@{model.Status?.ServedRevision}";
        lock (served)
        {
            if (!served.Add(key))
            {
                return;
            }
        }

        var text = new System.Text.StringBuilder().AppendLine(Summary(model));
        foreach (var line in EvaluationTable(model))
        {
            text.AppendLine(line);
        }

        await output.WriteAsync(text.ToString());
    }

    /// <summary>The table the served revision's evaluate step printed (its lines starting with '|'), from the step's log
    /// (<see cref="LocalClusterOptions.LogFolder"/>, also after a re-run); empty when that log is gone.</summary>
    private IEnumerable<string> EvaluationTable(NexusModel model)
    {
        var folder = Path.Combine(options.LogFolder, model.Metadata.NamespaceProperty);
        var log = Directory.Exists(folder)
            ? new DirectoryInfo(folder).EnumerateFiles($"{model.Metadata.Name}-*.log")
                .Where(file => file.Name.EndsWith($"-evaluate-r{model.Status?.ServedRevision}.log", StringComparison.Ordinal))
                .MaxBy(file => file.LastWriteTimeUtc)
            : null;
        if (log is null)
        {
            return [];
        }

        // A Job run again appends to its log: the last table is the revision's.
        var lines = File.ReadAllLines(log.FullName);
        var end = Array.FindLastIndex(lines, line => line.StartsWith('|'));
        var start = end;
        while (start > 0 && lines[start - 1].StartsWith('|'))
        {
            start--;
        }

        return end < 0 ? [] : lines[start..(end + 1)].Select(line => line.TrimEnd());
    }

    private string Summary(NexusModel model)
    {
        var status = model.Status!;
        var revision = status.Revisions?.FirstOrDefault(r => r.Revision == status.ServedRevision);
        var perplexity = revision?.Metrics?.Perplexity is { Count: > 0 } values
            ? string.Join(", ", values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key} {v.Value.ToString("F2", CultureInfo.InvariantCulture)}"))
            : "none recorded";
        var endpoint = (proxy is not null && Served().Target is not null ? proxy.BaseUri : Deployments?.EndpointOf(model.Metadata.NamespaceProperty, model.Metadata.Name))?.ToString()
                       ?? "not served (--no-serve)";
        return $"NexusModel {model.Metadata.NamespaceProperty}/{model.Metadata.Name} Ready: revision {status.ServedRevision}, " +
               $"experts {string.Join(", ", status.Experts ?? [])}; perplexity {perplexity}; endpoint {endpoint}";
    }

    /// <summary>Whether the model's serving process answers (always true with <c>--no-serve</c>). A re-run's saved state
    /// says Ready before the process it starts is up; the model counts as served, here, once it is.</summary>
    private bool IsServed(NexusModel model) =>
        Deployments is null || Deployments.EndpointOf(model.Metadata.NamespaceProperty, model.Metadata.Name) is not null;

    /// <summary>Where <see cref="LocalServingProxy"/> forwards: the ready process of the only NexusModel.</summary>
    private (Uri? Target, string Reason) Served()
    {
        var models = Server.List(ApiVersion, NexusModel.KubePluralName);
        if (models.Count != 1)
        {
            return (null, models.Count == 0
                ? "no NexusModel is applied."
                : $"{models.Count} NexusModels are applied and --port serves one; call each at the endpoint printed when it is Ready.");
        }

        var ns = models[0]["metadata"]!["namespace"]!.GetValue<string>();
        var name = models[0]["metadata"]!["name"]!.GetValue<string>();
        return Deployments?.EndpointOf(ns, name) is { } endpoint
            ? (endpoint, "")
            : (null, $"NexusModel {ns}/{name} has no ready serving process yet (phase {models[0]["status"]?["phase"]?.GetValue<string>() ?? "Pending"}).");
    }

    private async Task<string?> ApplyOneAsync(string file, JsonObject document, CancellationToken cancellationToken)
    {
        var kind = document["kind"]?.GetValue<string>();
        var name = document["metadata"]?["name"]?.GetValue<string>();
        var plural = Kinds.FirstOrDefault(k => k.Kind == kind).Plural;
        if (document["apiVersion"]?.GetValue<string>() != ApiVersion || plural is null)
        {
            return $"{file}: {document["apiVersion"]} {kind} is not applied by nexus run; it applies {ApiVersion} Expert, NexusModel and Extension.";
        }

        if (string.IsNullOrEmpty(name))
        {
            return $"{file}: a {kind} without metadata.name; give it one.";
        }

        var metadata = (JsonObject)document["metadata"]!;
        var ns = metadata["namespace"]?.GetValue<string>() ?? "default";
        metadata["namespace"] = ns;
        if (metadata["annotations"] is not JsonObject annotations)
        {
            metadata["annotations"] = annotations = [];
        }

        annotations[SourceAnnotation] = file;
        document.Remove("status");
        if (document["spec"] is JsonObject spec)
        {
            var moved = new List<(string Location, string Local)>();
            try
            {
                ToLocalBuckets(spec, moved);
            }
            catch (ArgumentException exception)
            {
                return $"{file}: {kind} {name}: {exception.Message}";
            }

            foreach (var (location, local) in moved)
            {
                var path = new Uri(local).LocalPath;
                if (!InLocalBuckets(path) && warnedMissing.Add(path))
                {
                    await output.WriteLineAsync($"{Now()} {file}: {kind} {ns}/{name} names {location}, read from {path}, which does not exist (yet): " +
                                                "put it there, or set S3 credentials to read S3.");
                }
            }
        }

        await EnsureNamespaceAsync(ns, cancellationToken);
        try
        {
            if (Server.Get(ApiVersion, plural, ns, name) is not { } existing)
            {
                await Client.CustomObjects.CreateNamespacedCustomObjectAsync(document, GroupVersion.Group, GroupVersion.Version, ns, plural, cancellationToken: cancellationToken);
                return null;
            }

            if (Same(existing, document))
            {
                return null;
            }

            metadata["resourceVersion"] = existing["metadata"]!["resourceVersion"]!.DeepClone();
            await Client.CustomObjects.ReplaceNamespacedCustomObjectAsync(document, GroupVersion.Group, GroupVersion.Version, ns, plural, name, cancellationToken: cancellationToken);
            await output.WriteLineAsync($"{Now()} {kind} {ns}/{name}: updated from {file}");
            return null;
        }
        catch (HttpOperationException exception)
        {
            var message = exception.Response.Content is { Length: > 0 } content && JsonNode.Parse(content)?["message"]?.GetValue<string>() is { } text ? text : exception.Message;
            return $"{file}: {kind} {ns}/{name} was refused: {message}";
        }
    }

    /// <summary>Whether <paramref name="path"/> (in the local buckets) is there: a folder or file, or inside a published
    /// artifact (a folder above it holds one; the steps find it by its manifest, docs/storage.md).</summary>
    private bool InLocalBuckets(string path)
    {
        if (Directory.Exists(path) || File.Exists(path))
        {
            return true;
        }

        var buckets = Path.GetFullPath(options.LocalBuckets!);
        for (var folder = Path.GetDirectoryName(path); folder is not null && folder.Length > buckets.Length; folder = Path.GetDirectoryName(folder))
        {
            if (FileArtifactStore.HoldsArtifact(folder))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Every <c>s3://</c> string in <paramref name="node"/> (recursively) as its <see cref="LocalClusterOptions.LocalBuckets"/>
    /// location, each one added to <paramref name="moved"/>.</summary>
    private void ToLocalBuckets(JsonNode node, List<(string Location, string Local)> moved)
    {
        IEnumerable<JsonNode?> children = node switch { JsonObject obj => obj.Select(field => field.Value), JsonArray array => array, _ => [] };
        foreach (var child in children.ToList())
        {
            if (child is JsonValue value && value.TryGetValue<string>(out var location) && options.LocalBucketLocation(location) is var local && local != location)
            {
                child.ReplaceWith(local);
                moved.Add((location, local));
            }
            else if (child is not null)
            {
                ToLocalBuckets(child, moved);
            }
        }
    }

    /// <summary>
    /// The object already has what the manifest says: every field the manifest's spec sets has that value (fields the
    /// API server defaulted are not in the manifest and do not count), the same labels, and the manifest's annotations.
    /// </summary>
    private static bool Same(JsonObject existing, JsonObject manifest) =>
        Holds(existing["spec"], manifest["spec"])
        && Canonical(existing["metadata"]?["labels"]) == Canonical(manifest["metadata"]?["labels"])
        && Holds(existing["metadata"]?["annotations"], manifest["metadata"]?["annotations"]);

    /// <summary>Whether <paramref name="actual"/> has every field of <paramref name="wanted"/> with its value (objects
    /// recursively, arrays element by element).</summary>
    private static bool Holds(JsonNode? actual, JsonNode? wanted) => wanted switch
    {
        null => actual is null,
        JsonObject fields => actual is JsonObject present && fields.All(field => Holds(present[field.Key], field.Value)),
        JsonArray items => actual is JsonArray present && present.Count == items.Count && items.Select((item, i) => Holds(present[i], item)).All(held => held),
        _ => actual is not null && Canonical(actual) == Canonical(wanted),
    };

    /// <summary>JSON text with object keys in order, so that two equal values compare equal.</summary>
    private static string Canonical(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject obj => "{" + string.Join(",", obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{System.Text.Json.JsonSerializer.Serialize(p.Key)}:{Canonical(p.Value)}")) + "}",
        JsonArray array => "[" + string.Join(",", array.Select(Canonical)) + "]",
        JsonValue value when value.TryGetValue<double>(out var number) => number.ToString("R", CultureInfo.InvariantCulture),
        _ => node.ToJsonString(),
    };

    private async Task EnsureNamespaceAsync(string ns, CancellationToken cancellationToken)
    {
        if (!namespaces.Add(ns))
        {
            return;
        }

        if (Server.Get("v1", "namespaces", null, ns) is null)
        {
            await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: cancellationToken);
        }

        // The worker pods mount the S3 credentials Secret: the keys of this run's S3 settings (empty without S3), also
        // when the saved state holds a Secret from a run with other keys.
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = settings.S3CredentialsSecretName },
            StringData = new Dictionary<string, string>
            {
                [OperatorSettings.S3AccessKeyKey] = options.S3?.AccessKey ?? "",
                [OperatorSettings.S3SecretKeyKey] = options.S3?.SecretKey ?? "",
            },
        };
        if (Server.Get("v1", "secrets", ns, settings.S3CredentialsSecretName) is null)
        {
            await Client.CoreV1.CreateNamespacedSecretAsync(secret, ns, cancellationToken: cancellationToken);
        }
        else
        {
            await Client.CoreV1.ReplaceNamespacedSecretAsync(secret, settings.S3CredentialsSecretName, ns, cancellationToken: cancellationToken);
        }
    }

    /// <summary>One line per phase change of an Expert, NexusModel or Extension (with its status message), and one per
    /// deletion.</summary>
    private async Task ReportAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var current = new Dictionary<string, (string Phase, string? Message)>(StringComparer.Ordinal);
                var models = new List<JsonObject>();
                foreach (var (kind, plural) in Kinds)
                {
                    foreach (var obj in Server.List(ApiVersion, plural))
                    {
                        var key = $"{kind} {obj["metadata"]!["namespace"]!.GetValue<string>()}/{obj["metadata"]!["name"]!.GetValue<string>()}";
                        current[key] = (obj["status"]?["phase"]?.GetValue<string>() ?? "Pending", obj["status"]?["message"]?.GetValue<string>());
                        if (kind == NexusModel.KubeKind)
                        {
                            models.Add(obj);
                        }
                    }
                }

                foreach (var (key, (phase, message)) in current.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    if (phases.GetValueOrDefault(key) != phase)
                    {
                        phases[key] = phase;
                        await output.WriteLineAsync($"{Now()} {key}: {phase}{(string.IsNullOrEmpty(message) ? "" : " — " + message)}");
                    }
                }

                foreach (var ready in models
                             .Select(json => KubernetesJson.Deserialize<NexusModel>(json.ToJsonString()))
                             .Where(m => m.Status is { Phase: NexusModelPhase.Ready, ServedRevision: not null }))
                {
                    await ReportServedAsync(ready);
                }

                foreach (var gone in phases.Keys.Where(key => !current.ContainsKey(key)).ToList())
                {
                    phases.Remove(gone);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>With <c>--no-serve</c>: every Deployment's rollout is reported complete at once, with no process.</summary>
    private async Task CompleteRolloutsAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                string? lagging = null;
                string? ns = null;
                await Server.WaitForAsync(
                    () =>
                    {
                        var deployment = Server.List("apps/v1", "deployments").FirstOrDefault(d => d["metadata"]?["deletionTimestamp"] is null
                            && d["status"]?["observedGeneration"]?.GetValue<long>() != d["metadata"]?["generation"]?.GetValue<long>());
                        (ns, lagging) = (deployment?["metadata"]?["namespace"]?.GetValue<string>(), deployment?["metadata"]?["name"]?.GetValue<string>());
                        return lagging is not null;
                    },
                    Timeout.InfiniteTimeSpan,
                    cancellationToken);
                try
                {
                    Server.Deployments.MakeReady(ns!, lagging!);
                }
                catch (InvalidOperationException)
                {
                    // Deleted meanwhile.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private static string Key(JsonObject obj) =>
        $"{obj["kind"]?.GetValue<string>()}/{obj["metadata"]?["namespace"]?.GetValue<string>() ?? "default"}/{obj["metadata"]?["name"]?.GetValue<string>()}";

    /// <summary>The manifest files of <paramref name="paths"/>: files as given, folders' *.yaml and *.yml (sorted).</summary>
    private static List<string> ManifestFiles(IReadOnlyList<string> paths, List<string>? problems)
    {
        var files = new List<string>();
        foreach (var path in paths.Select(Path.GetFullPath))
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*.yaml").Concat(Directory.EnumerateFiles(path, "*.yml")).Order(StringComparer.Ordinal));
            }
            else
            {
                problems?.Add($"{path}: no such file or folder; give manifest files or folders of them.");
            }
        }

        return files;
    }

    /// <summary>Whether <paramref name="source"/> is one of <paramref name="paths"/> or a manifest directly in one of them.</summary>
    private static bool Covers(IReadOnlyList<string> paths, string source) =>
        paths.Select(Path.GetFullPath).Any(path => path == source || path.TrimEnd(Path.DirectorySeparatorChar) == Path.GetDirectoryName(source));

    private static string Fingerprint(IReadOnlyList<string> paths) =>
        string.Join('\n', ManifestFiles(paths, null).Select(file => new FileInfo(file)).Select(info =>
            $"{info.FullName} {(info.Exists ? info.LastWriteTimeUtc.Ticks : 0)} {(info.Exists ? info.Length : -1)}"));

    private static string Now() => DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    private static IEnumerable<string> EmbeddedCrds()
    {
        var assembly = typeof(LocalCluster).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("crds/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return reader.ReadToEnd();
        }
    }

    private static string Kubeconfig(Uri server) => $$"""
        apiVersion: v1
        kind: Config
        clusters:
          - name: nexus-run
            cluster:
              server: {{server.ToString().TrimEnd('/')}}
        users:
          - name: nexus-run
            user: {}
        contexts:
          - name: nexus-run
            context:
              cluster: nexus-run
              user: nexus-run
              namespace: default
        current-context: nexus-run

        """;
}
