using Microsoft.Extensions.Logging.Abstractions;
using Nexus.Operator.Caching;
using Nexus.Operator.Client;
using Nexus.Operator.Events;
using Nexus.Operator.Metrics;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Tests.Support;

/// <summary>A Widget controller on in-memory servers and a manual clock, with every reconcile it makes recorded.</summary>
public sealed class ControllerHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _informersStop = new();
    private readonly CancellationTokenSource _leadership = new();
    private readonly List<Task> _running = new();
    private readonly List<ReconcileCall> _calls = new();
    private Task? _controllerRun;

    public ControllerHarness(InformerOptions? informerOptions = null)
    {
        Servers = new FakeListWatcherFactory(Time);
        Informers = new InformerFactory(Servers, informerOptions ?? new InformerOptions { ResyncPeriod = TimeSpan.Zero }, Metrics, time: Time);
        Patcher = new ServerBackedPatcher<Widget>(Widgets);
        Events = new EventRecorder(Sink, new EventRecorderOptions(), Metrics, time: Time);
        Context = new ControllerContext<Widget>(Informers, Patcher, Events, NullLoggerFactory.Instance, Time, null);
    }

    public ManualTimeProvider Time { get; } = new();

    public OperatorMetrics Metrics { get; } = new();

    public FakeListWatcherFactory Servers { get; }

    public FakeResourceServer<Widget> Widgets => Servers.Server<Widget>();

    public InformerFactory Informers { get; }

    public ServerBackedPatcher<Widget> Patcher { get; }

    public RecordingEventSink Sink { get; } = new();

    public EventRecorder Events { get; }

    public ControllerContext<Widget> Context { get; }

    public Controller<Widget>? Controller { get; private set; }

    public CancellationToken LeadershipToken => _leadership.Token;

    public IReadOnlyList<ReconcileCall> Calls
    {
        get
        {
            lock (_calls)
            {
                return _calls.ToList();
            }
        }
    }

    public int CallsFor(string name) => Calls.Count(call => call.Name == name);

    public double Results(string result) => Metrics.ReconcileTotal.WithLabels("Widget", result).Value;

    /// <summary>Builds and starts the controller; <paramref name="reconcile"/> is the reconciler's body.</summary>
    public async Task StartAsync(
        Func<Widget, ControllerContext<Widget>, CancellationToken, Task<ReconcileResult>> reconcile,
        Action<ControllerBuilder<Widget>>? configure = null)
    {
        var builder = new ControllerBuilder<Widget>()
            .WithReconciler(context => new DelegateReconciler(this, context, reconcile));
        configure?.Invoke(builder);
        Controller = builder.Build(Context, Metrics);

        _running.Add(Informers.RunAsync(_informersStop.Token));
        _running.Add(Events.RunAsync(_informersStop.Token));
        _controllerRun = Controller.RunAsync(_leadership.Token);
        await Informers.WaitForSyncAsync(CancellationToken.None).WaitAsync(Eventually.DefaultTimeout);
        await Eventually.WaitUntilAsync(() => Controller.Queue is not null, "the controller is running");
    }

    /// <summary>Cancels the leadership token and waits for the controller to stop.</summary>
    public async Task StopLeadingAsync()
    {
        await _leadership.CancelAsync();
        if (_controllerRun is not null)
        {
            await _controllerRun.WaitAsync(Eventually.DefaultTimeout);
        }
    }

    /// <summary>Advances the clock in small steps until the condition holds; before each step the workers finish what
    /// is queued, so every delay is measured from the moment it was scheduled.</summary>
    public async Task AdvanceUntilAsync(Func<bool> condition, TimeSpan step, TimeSpan limit, string because)
    {
        var advanced = TimeSpan.Zero;
        while (!condition())
        {
            if (advanced >= limit)
            {
                Assert.Fail($"Advanced the clock {limit} without reaching: {because}.");
            }

            // A real pause too: continuations queued by the last step (a watch noticing its close, say) need a thread.
            await Task.Delay(1);
            await Eventually.WaitUntilAsync(
                () => Controller?.Queue is not { } queue || (queue.Count == 0 && queue.ProcessingCount == 0), "the workers are idle");
            Time.Advance(step);
            advanced += step;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopLeadingAsync();
        await _informersStop.CancelAsync();
        await Task.WhenAll(_running).WaitAsync(Eventually.DefaultTimeout);
        _leadership.Dispose();
        _informersStop.Dispose();
    }

    public sealed record ReconcileCall(string Name, string ResourceVersion, DateTimeOffset At);

    private sealed class DelegateReconciler(
        ControllerHarness harness,
        ControllerContext<Widget> context,
        Func<Widget, ControllerContext<Widget>, CancellationToken, Task<ReconcileResult>> reconcile) : IReconciler<Widget>
    {
        public Task<ReconcileResult> ReconcileAsync(Widget resource, CancellationToken cancellationToken)
        {
            lock (harness._calls)
            {
                harness._calls.Add(new ReconcileCall(resource.Metadata.Name, resource.Metadata.ResourceVersion, harness.Time.GetUtcNow()));
            }

            return reconcile(resource, context, cancellationToken);
        }
    }
}
