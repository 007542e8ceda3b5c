using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Api;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Events;
using Nexus.Operator.Metrics;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Hosting;

/// <summary>
/// Configures an <see cref="OperatorHost"/>: the client, the namespace to watch, leader election, the metrics port
/// and the controllers. Everything that talks to the API server can be replaced, which is how the tests run a host on
/// in-memory fakes.
/// </summary>
public sealed class OperatorHostBuilder
{
    private readonly IKubernetes? _client;
    private readonly List<Func<OperatorHost, IController>> _controllers = new();
    private readonly List<Action<OperatorHost>> _metrics = new();
    private string? _namespace;
    private LeaderElectionOptions _leaderElection = new();
    private int? _metricsPort;
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;
    private TimeProvider _time = TimeProvider.System;
    private InformerOptions _informerOptions = new();
    private EventRecorderOptions? _eventOptions;
    private IListWatcherFactory? _listWatchers;
    private IResourcePatcherFactory? _patchers;
    private IEventSink? _eventSink;
    private Func<ILock>? _leaseLock;

    /// <param name="client">The API server; may be null only when every part that uses it is replaced.</param>
    public OperatorHostBuilder(IKubernetes? client)
    {
        _client = client;
    }

    /// <summary>The namespace to watch, or null (the default) for all namespaces.</summary>
    public OperatorHostBuilder WatchNamespace(string? @namespace)
    {
        _namespace = string.IsNullOrWhiteSpace(@namespace) ? null : @namespace;
        return this;
    }

    public OperatorHostBuilder WithLeaderElection(LeaderElectionOptions options)
    {
        options.Validate();
        _leaderElection = options;
        return this;
    }

    /// <summary>Serve /healthz, /readyz and /metrics on this port (0 picks a free one); none when not called.</summary>
    public OperatorHostBuilder WithMetricsPort(int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _metricsPort = port;
        return this;
    }

    public OperatorHostBuilder WithLoggerFactory(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory;
        return this;
    }

    public OperatorHostBuilder WithInformerOptions(InformerOptions options)
    {
        options.Validate();
        _informerOptions = options;
        return this;
    }

    public OperatorHostBuilder WithEventOptions(EventRecorderOptions options)
    {
        _eventOptions = options;
        return this;
    }

    public OperatorHostBuilder WithTimeProvider(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public OperatorHostBuilder WithListWatchers(IListWatcherFactory listWatchers)
    {
        _listWatchers = listWatchers;
        return this;
    }

    public OperatorHostBuilder WithPatchers(IResourcePatcherFactory patchers)
    {
        _patchers = patchers;
        return this;
    }

    public OperatorHostBuilder WithEventSink(IEventSink sink)
    {
        _eventSink = sink;
        return this;
    }

    /// <summary>Replaces the Lease lock (tests use an in-memory one).</summary>
    public OperatorHostBuilder WithLeaseLock(Func<ILock> leaseLock)
    {
        _leaseLock = leaseLock;
        return this;
    }

    /// <summary>Adds a controller for <typeparamref name="T"/>; <paramref name="configure"/> names what it owns and
    /// watches and sets its reconciler.</summary>
    public OperatorHostBuilder AddController<T>(Action<ControllerBuilder<T>> configure)
        where T : class, INexusResource
    {
        var controller = new ControllerBuilder<T>();
        configure(controller);
        _controllers.Add(host => controller.Build(host.CreateContext<T>(), host.Metrics));
        return this;
    }

    /// <summary>Adds series read from the informers rather than reported by a reconciler: <paramref name="register"/>
    /// runs once on the built host, before its informers list, and adds its handlers and series there (see
    /// <see cref="OperatorHost.Informers"/> and <see cref="OperatorHost.Metrics"/>).</summary>
    public OperatorHostBuilder AddMetrics(Action<OperatorHost> register)
    {
        _metrics.Add(register);
        return this;
    }

    public OperatorHost Build()
    {
        _leaderElection.Validate();
        var metrics = new OperatorMetrics();
        var listWatchers = _listWatchers ?? new KubernetesListWatcherFactory(RequireClient("list and watch"), _namespace);
        var informers = new InformerFactory(listWatchers, _informerOptions, metrics, _loggerFactory, _time);
        var events = new EventRecorder(
            _eventSink ?? new KubernetesEventSink(RequireClient("write Events")),
            _eventOptions ?? new EventRecorderOptions { Instance = _leaderElection.Identity },
            metrics,
            _loggerFactory.CreateLogger<EventRecorder>(),
            _time);
        var leaseLock = _leaseLock ?? (() => new LeaseLock(
            RequireClient("hold the leader Lease"), _leaderElection.LeaseNamespace, _leaderElection.LeaseName, _leaderElection.Identity));

        var host = new OperatorHost(
            _client, informers, events, _patchers ?? new CustomResourcePatcherFactory(RequireClient("patch resources")),
            metrics, _leaderElection, leaseLock, _metricsPort, _loggerFactory, _time);
        host.AddControllers(_controllers.Select(create => create(host)));
        _metrics.ForEach(register => register(host));
        return host;
    }

    private IKubernetes RequireClient(string purpose) =>
        _client ?? throw new InvalidOperationException($"The operator host needs a Kubernetes client to {purpose}.");
}

/// <summary>
/// The operator process: informers on every replica (warm caches on standbys), controllers only on the leader, an
/// event recorder, and the health and metrics endpoints. <see cref="RunAsync"/> returns after a graceful stop:
/// reconciles cancelled, workers drained, the Lease released.
/// </summary>
public sealed class OperatorHost
{
    private readonly IKubernetes? _client;
    private readonly EventRecorder _events;
    private readonly IResourcePatcherFactory _patchers;
    private readonly LeaderElectionOptions _leaderElection;
    private readonly int? _metricsPort;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Leadership _leadership;
    private readonly List<IController> _controllers = new();
    private readonly TaskCompletionSource<int> _metricsPortBound = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal OperatorHost(
        IKubernetes? client,
        InformerFactory informers,
        EventRecorder events,
        IResourcePatcherFactory patchers,
        OperatorMetrics metrics,
        LeaderElectionOptions leaderElection,
        Func<ILock> leaseLock,
        int? metricsPort,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        _client = client;
        Informers = informers;
        _events = events;
        _patchers = patchers;
        Metrics = metrics;
        _leaderElection = leaderElection;
        _metricsPort = metricsPort;
        _loggerFactory = loggerFactory;
        _time = time;
        _logger = loggerFactory.CreateLogger<OperatorHost>();
        _leadership = new Leadership(leaderElection, leaseLock, RunControllersAsync, metrics, loggerFactory.CreateLogger<Leadership>());
    }

    public static OperatorHostBuilder CreateBuilder(IKubernetes? client) => new(client);

    public InformerFactory Informers { get; }

    public OperatorMetrics Metrics { get; }

    public IEventRecorder Events => _events;

    public IReadOnlyList<IController> Controllers => _controllers;

    public bool IsLeader => _leadership.IsLeader;

    public string Identity => _leaderElection.Identity;

    /// <summary>The port /healthz, /readyz and /metrics are served on, once bound.</summary>
    public Task<int> MetricsPort => _metricsPortBound.Task;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        _logger.LogInformation("Operator {Identity} starting: {Controllers} controllers, leader election {LeaderElection}",
            Identity, _controllers.Count, _leaderElection.Enabled ? $"on ({_leaderElection.LeaseNamespace}/{_leaderElection.LeaseName})" : "off");

        HealthServer? health = null;
        if (_metricsPort is { } port)
        {
            health = await HealthServer.StartAsync(this, port, stoppingToken).ConfigureAwait(false);
            _metricsPortBound.TrySetResult(health.Port);
            _logger.LogInformation("Serving /healthz, /readyz and /metrics on port {Port}", health.Port);
        }

        // Informers and the event recorder outlive the leadership loop, so the last reconciles can still read the
        // cache and their Events are written; they stop once the controllers have.
        using var background = new CancellationTokenSource();
        var informers = Informers.RunAsync(background.Token);
        var events = _events.RunAsync(background.Token);
        try
        {
            await _leadership.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            await background.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(informers, events).ConfigureAwait(false);
            if (health is not null)
            {
                await health.DisposeAsync().ConfigureAwait(false);
            }

            _logger.LogInformation("Operator {Identity} stopped", Identity);
        }
    }

    internal ControllerContext<T> CreateContext<T>()
        where T : class, INexusResource
    {
        return new ControllerContext<T>(Informers, _patchers.Create<T>(), _events, _loggerFactory, _time, _client);
    }

    internal void AddControllers(IEnumerable<IController> controllers) => _controllers.AddRange(controllers);

    private Task RunControllersAsync(CancellationToken leadershipToken) =>
        Task.WhenAll(_controllers.Select(controller => controller.RunAsync(leadershipToken)));
}
