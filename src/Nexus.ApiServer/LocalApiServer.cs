using Nexus.Api.Validation;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.ApiServer.Controllers;
using Nexus.ApiServer.Faults;
using Nexus.ApiServer.Http;
using Nexus.ApiServer.Instrumentation;
using Nexus.ApiServer.Registry;
using Nexus.ApiServer.Resources;
using Nexus.ApiServer.Storage;
using Nexus.ApiServer.Watch;

namespace Nexus.ApiServer;

/// <summary>An in-process Kubernetes API server (the tests' and <c>nexus run</c>'s): Kestrel on 127.0.0.1 speaking the real REST paths, so the
/// real <see cref="k8s.Kubernetes"/> client talks to it unchanged. It keeps objects as JSON in an MVCC store (one
/// global resourceVersion, per-resource event history), implements the registry's rules (status subresource,
/// generation, optimistic concurrency, finalizers, propagation policies), watches with bookmarks and 410 Expired, owner
/// garbage collection, simulated Job and Deployment controllers, fault injection and a request log.</summary>
public sealed partial class LocalApiServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ResourceRegistry registry;
    private readonly CancellationTokenSource stopping;
    private readonly Task bookmarks;
    private readonly ILogger logger;
    private readonly StateSaver? saver;

    private LocalApiServer(
        WebApplication app,
        ResourceRegistry registry,
        CancellationTokenSource stopping,
        LocalApiServerOptions options,
        RequestLog requests,
        FaultInjector faults,
        ILoggerFactory loggers)
    {
        this.app = app;
        this.registry = registry;
        this.stopping = stopping;
        logger = loggers.CreateLogger<LocalApiServer>();
        Options = options;
        Requests = requests;
        Faults = faults;
        Watchers = new WatchRegistry(registry.Store);
        GarbageCollector = new GarbageCollector(registry, loggers.CreateLogger<GarbageCollector>());
        Jobs = new JobSimulator(registry, options.Clock);
        Deployments = new DeploymentSimulator(registry, options.Clock);
        BaseUri = ListeningAddress(app);
        if (options.StatePath is { } statePath)
        {
            saver = new StateSaver(registry.Store, statePath, options.StateSaveDelay, loggers.CreateLogger<StateSaver>());
        }

        if (options.RunGarbageCollector)
        {
            GarbageCollector.Start();
        }

        bookmarks = SendBookmarksAsync(options.BookmarkInterval, stopping.Token);
    }

    /// <summary>Where the server listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri { get; }

    public LocalApiServerOptions Options { get; }

    /// <summary>The served resources: built-ins and installed custom resources.</summary>
    public ResourceCatalog Resources => registry.Catalog;

    /// <summary>Every request the server answered.</summary>
    public RequestLog Requests { get; }

    public FaultInjector Faults { get; }

    /// <summary>Open watches.</summary>
    public WatchRegistry Watchers { get; }

    public GarbageCollector GarbageCollector { get; }

    /// <summary>The simulated Job controller and kubelet.</summary>
    public JobSimulator Jobs { get; }

    /// <summary>The simulated Deployment controller.</summary>
    public DeploymentSimulator Deployments { get; }

    /// <summary>The current global resourceVersion (the revision of the last write).</summary>
    public long ResourceVersion => registry.Store.Revision;

    /// <summary>Starts a server on a free loopback port with the built-in resources and the <c>default</c> namespace, or
    /// with the objects of <see cref="LocalApiServerOptions.StatePath"/> when that file exists.</summary>
    public static async Task<LocalApiServer> StartAsync(LocalApiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LocalApiServerOptions();
        var loggers = options.LoggerFactory ?? NullLoggerFactory.Instance;
        var store = new ObjectStore(options.EventHistoryLimit);
        var catalog = new ResourceCatalog(options.Admission);
        var registry = new ResourceRegistry(store, catalog, options.Clock);
        if (options.StatePath is { } statePath && File.Exists(statePath))
        {
            StateFile.Load(store, catalog, statePath, loggers.CreateLogger<LocalApiServer>());
        }
        else
        {
            registry.Create(catalog.Namespaces, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } });
        }

        var requests = new RequestLog();
        var faults = new FaultInjector(store);
        var stopping = new CancellationTokenSource();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        Uri? baseUri = null;
        var handler = new ApiHandler(registry, faults, requests, options, loggers.CreateLogger<ApiHandler>(), () => baseUri!, stopping.Token);
        app.Run(handler.HandleAsync);
        await app.StartAsync(cancellationToken);
        var server = new LocalApiServer(app, registry, stopping, options, requests, faults, loggers);
        baseUri = server.BaseUri;
        return server;
    }

    /// <summary>A client for this server (no authentication). Dispose it when done. <paramref name="userAgent"/> names
    /// the client in the request log and to <see cref="FaultInjector.FreezeAfterWrites"/>; the library's own when null.</summary>
    public Kubernetes CreateClient(string? userAgent = null) => new(userAgent is null
        ? new KubernetesClientConfiguration { Host = BaseUri.ToString() }
        : new KubernetesClientConfiguration { Host = BaseUri.ToString(), UserAgent = userAgent });

    /// <summary>Installs a CustomResourceDefinition from its apiextensions.k8s.io/v1 YAML (or JSON) and starts serving
    /// its resource. <paramref name="admission"/> runs on every write of the custom resource (see
    /// <see cref="AdmissionHook"/>); without one, <see cref="LocalApiServerOptions.Admission"/> decides. Installing a
    /// CRD again replaces it. Returns the served versions.</summary>
    public IReadOnlyList<ResourceDefinition> InstallCrd(string crdYaml, AdmissionHook? admission = null)
    {
        var documents = YamlToJson.ConvertAll(crdYaml).OfType<JsonObject>().ToList();
        if (documents.Count != 1)
        {
            throw new ArgumentException($"Expected one CustomResourceDefinition document, found {documents.Count}.", nameof(crdYaml));
        }

        return InstallCrd(documents[0], admission, hasExplicitAdmission: admission is not null);
    }

    /// <summary>Installs every CustomResourceDefinition in the *.yaml and *.yml files of <paramref name="directory"/>,
    /// with the server's <see cref="LocalApiServerOptions.Admission"/>.</summary>
    public IReadOnlyList<ResourceDefinition> InstallCrds(string directory)
    {
        var installed = new List<ResourceDefinition>();
        var files = Directory.EnumerateFiles(directory, "*.yaml").Concat(Directory.EnumerateFiles(directory, "*.yml")).Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var document in YamlToJson.ConvertAll(File.ReadAllText(file)).OfType<JsonObject>())
            {
                if (ObjectJson.StringOf(document["kind"]) == "CustomResourceDefinition")
                {
                    installed.AddRange(InstallCrd(document, null, hasExplicitAdmission: false));
                }
            }
        }

        return installed;
    }

    /// <summary>An object as stored (a copy), or null. <paramref name="apiVersion"/> is <c>v1</c>, <c>batch/v1</c>, ...</summary>
    public JsonObject? Get(string apiVersion, string plural, string? ns, string name)
    {
        var definition = Resources.Get(apiVersion, plural);
        return registry.Store.Transact(tx => tx.Get(definition, ns, name)) is { } stored ? ResourceRegistry.Present(definition, stored) : null;
    }

    /// <summary>The objects of a resource, in one namespace or all, in key order (copies).</summary>
    public IReadOnlyList<JsonObject> List(string apiVersion, string plural, string? ns = null)
    {
        var definition = Resources.Get(apiVersion, plural);
        return registry.Store.Transact(tx => tx.Scan(definition)
            .Where(o => ns is null || o.Namespace == ns)
            .Select(o => ResourceRegistry.Present(definition, o))
            .ToList());
    }

    /// <summary>Writes an object directly (as a create through the API would, with the same rules), for test setup
    /// that should not show up in the request log.</summary>
    public JsonObject Seed(JsonObject obj)
    {
        var apiVersion = ObjectJson.StringOf(obj["apiVersion"]) ?? throw new ArgumentException("apiVersion is required", nameof(obj));
        var kind = ObjectJson.StringOf(obj["kind"]) ?? throw new ArgumentException("kind is required", nameof(obj));
        var definition = Resources.FindByKind(apiVersion, kind) ?? throw new ArgumentException($"{apiVersion} {kind} is not served", nameof(obj));
        return registry.Create(definition, ObjectJson.MetadataString(obj, "namespace"), ObjectJson.Clone(obj)).Body;
    }

    /// <summary>Completes when <paramref name="condition"/> holds, re-checking after every write (and every 10 ms);
    /// throws <see cref="TimeoutException"/> after <paramref name="timeout"/> (5 s by default).</summary>
    public Task WaitForAsync(Func<bool> condition, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Waiting.UntilAsync(condition, registry.Store, timeout, "the condition", cancellationToken);

    /// <summary>Completes with the object once it exists and satisfies <paramref name="predicate"/>.</summary>
    public async Task<JsonObject> WaitForObjectAsync(
        string apiVersion,
        string plural,
        string? ns,
        string name,
        Func<JsonObject, bool>? predicate = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        JsonObject? found = null;
        await Waiting.UntilAsync(
            () => (found = Get(apiVersion, plural, ns, name)) is { } obj && (predicate is null || predicate(obj)),
            registry.Store,
            timeout,
            $"{apiVersion} {plural} {ns}/{name}",
            cancellationToken);
        return found!;
    }

    /// <summary>Completes once the object no longer exists.</summary>
    public Task WaitForDeletionAsync(string apiVersion, string plural, string? ns, string name, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Waiting.UntilAsync(() => Get(apiVersion, plural, ns, name) is null, registry.Store, timeout, $"deletion of {apiVersion} {plural} {ns}/{name}", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        registry.Store.ForEachWatch(w => w.Close());
        await GarbageCollector.DisposeAsync();
        try
        {
            await bookmarks;
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await app.StopAsync(grace.Token);
        }

        // After the last request: what it wrote is saved.
        if (saver is not null)
        {
            await saver.DisposeAsync();
        }

        await app.DisposeAsync();
        stopping.Dispose();
    }

    private IReadOnlyList<ResourceDefinition> InstallCrd(JsonObject crd, AdmissionHook? admission, bool hasExplicitAdmission)
    {
        var name = ObjectJson.MetadataString(crd, "name") ?? throw new ArgumentException("The CRD has no metadata.name.", nameof(crd));
        var crds = Resources.CustomResourceDefinitions;
        var strategy = (CustomResourceDefinitionStrategy)crds.Strategy;
        if (hasExplicitAdmission)
        {
            strategy.SetAdmission(name, admission);
        }

        crd["apiVersion"] ??= crds.ApiVersion;
        crd["kind"] ??= crds.Kind;
        try
        {
            if (registry.Store.Transact(tx => tx.Get(crds, null, name)) is { } existing)
            {
                ObjectJson.Metadata(crd)["resourceVersion"] = existing.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
                registry.Update(crds, null, name, crd, statusOnly: false);
            }
            else
            {
                registry.Create(crds, null, crd);
            }
        }
        catch (ApiException e)
        {
            throw new ArgumentException($"The CRD was refused: {e.Message}", nameof(crd), e);
        }

        var spec = crd["spec"]!;
        var group = ObjectJson.StringOf(spec["group"]);
        var plural = ObjectJson.StringOf(spec["names"]?["plural"]);
        LogCrdInstalled(logger, name);
        return Resources.All.Where(d => d.Group == group && d.Plural == plural).ToList();
    }

    private async Task SendBookmarksAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            registry.Store.Bookmark();
        }
    }

    private static Uri ListeningAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("Kestrel reported no address.");
        return new Uri(addresses.First().TrimEnd('/') + "/");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Installed CustomResourceDefinition {Name}")]
    private static partial void LogCrdInstalled(ILogger logger, string name);
}
