using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Operator.Client;
using Nexus.Operator.Metrics;

namespace Nexus.Operator.Caching;

/// <summary>
/// One informer per kind, shared by every controller that reads that kind (two controllers owning Jobs share one
/// watch and one cache). Informers run on every replica, leader or not, so a standby's caches are warm when it takes
/// over.
/// </summary>
public sealed class InformerFactory
{
    private readonly IListWatcherFactory _listWatchers;
    private readonly InformerOptions _options;
    private readonly OperatorMetrics _metrics;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<Type, IInformer> _informers = new();
    private readonly List<Task> _running = new();
    private CancellationToken? _runToken;

    public InformerFactory(
        IListWatcherFactory listWatchers,
        InformerOptions? options = null,
        OperatorMetrics? metrics = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null)
    {
        _listWatchers = listWatchers;
        _options = options ?? new InformerOptions();
        _metrics = metrics ?? new OperatorMetrics();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _time = time ?? TimeProvider.System;
    }

    public IReadOnlyList<IInformer> Informers
    {
        get
        {
            lock (_lock)
            {
                return _informers.Values.ToList();
            }
        }
    }

    public bool HasSynced => Informers.All(informer => informer.HasSynced);

    /// <summary>The informer for a kind, created on first use (and started at once if the factory is running).</summary>
    public Informer<T> Get<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (_lock)
        {
            if (_informers.TryGetValue(typeof(T), out var existing))
            {
                return (Informer<T>)existing;
            }

            var informer = new Informer<T>(
                _listWatchers.Create<T>(), _options, _metrics, _loggerFactory.CreateLogger($"Nexus.Operator.Informer.{typeof(T).Name}"), _time);
            _informers[typeof(T)] = informer;
            if (_runToken is { } token)
            {
                _running.Add(informer.RunAsync(token));
            }

            return informer;
        }
    }

    /// <summary>The cache of a kind (its informer's).</summary>
    public ResourceCache<T> Cache<T>()
        where T : class, IKubernetesObject<V1ObjectMeta> => Get<T>().Cache;

    /// <summary>Runs every informer until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_runToken is not null)
            {
                throw new InvalidOperationException("The informers are already running.");
            }

            _runToken = cancellationToken;
            _running.AddRange(_informers.Values.Select(informer => informer.RunAsync(cancellationToken)));
        }

        // Informers created while running are added to the list; wait until every one has stopped.
        while (true)
        {
            Task[] running;
            lock (_lock)
            {
                running = _running.ToArray();
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            lock (_lock)
            {
                if (_running.Count == running.Length)
                {
                    return;
                }
            }
        }
    }

    public async Task WaitForSyncAsync(CancellationToken cancellationToken)
    {
        foreach (var informer in Informers)
        {
            await informer.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
