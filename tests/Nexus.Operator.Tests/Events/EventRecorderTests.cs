using System.Net;
using k8s.Models;
using Nexus.Operator.Events;
using Nexus.Operator.Metrics;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Events;

public sealed class EventRecorderTests : IAsyncDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly RecordingEventSink _sink = new();
    private readonly OperatorMetrics _metrics = new();
    private readonly CancellationTokenSource _stop = new();
    private EventRecorder _recorder;
    private Task _running;

    public EventRecorderTests()
    {
        (_recorder, _running) = Start(new EventRecorderOptions { Instance = "replica-1" });
    }

    public async ValueTask DisposeAsync()
    {
        _sink.Gate?.TrySetResult();
        await _stop.CancelAsync();
        await _running.WaitAsync(Eventually.DefaultTimeout);
        _stop.Dispose();
    }

    private (EventRecorder, Task) Start(EventRecorderOptions options)
    {
        var recorder = new EventRecorder(_sink, options, _metrics, time: _time);
        return (recorder, Task.Run(() => recorder.RunAsync(_stop.Token)));
    }

    private double Dropped => _metrics.EventsDropped.Value;

    private static Widget Subject(string name = "a", string uid = "uid-a")
    {
        var widget = Widget.Create(name);
        widget.Metadata.Uid = uid;
        widget.Metadata.ResourceVersion = "7";
        return widget;
    }

    private Task CallsAsync(int count) => Eventually.WaitUntilAsync(() => _sink.Calls.Count == count, $"{count} sink calls");

    [Fact]
    public async Task FirstEvent_CreatesACoreV1EventAboutTheObject()
    {
        _recorder.Record(Subject(), EventType.Normal, "TrainingStarted", "job expert-a-train created");

        await CallsAsync(1);
        var written = Assert.Single(_sink.Events);
        Assert.Equal("default", written.Metadata.NamespaceProperty);
        Assert.StartsWith("a.", written.Metadata.Name, StringComparison.Ordinal);
        Assert.Equal(("test.nexus.moe/v1", "Widget", "a", "default", "uid-a"),
            (written.InvolvedObject.ApiVersion, written.InvolvedObject.Kind, written.InvolvedObject.Name, written.InvolvedObject.NamespaceProperty, written.InvolvedObject.Uid));
        Assert.Equal(("Normal", "TrainingStarted", "job expert-a-train created"), (written.Type, written.Reason, written.Message));
        Assert.Equal("nexus-operator", written.Source.Component);
        Assert.Equal(("nexus-operator", "replica-1"), (written.ReportingComponent, written.ReportingInstance));
        Assert.Equal(1, written.Count);
        Assert.Equal(_time.GetUtcNow().UtcDateTime, written.FirstTimestamp);
        Assert.Equal(written.FirstTimestamp, written.LastTimestamp);
    }

    [Fact]
    public async Task RepeatWithinTheWindow_PatchesCountAndLastTimestamp()
    {
        _recorder.Record(Subject(), EventType.Warning, "BackOff", "pod restarting");
        await CallsAsync(1);
        var first = _time.GetUtcNow();

        _time.Advance(TimeSpan.FromMinutes(4));
        _recorder.Record(Subject(), EventType.Warning, "BackOff", "pod restarting");
        _time.Advance(TimeSpan.FromMinutes(4));
        _recorder.Record(Subject(), EventType.Warning, "BackOff", "pod restarting");

        await CallsAsync(3);
        var written = Assert.Single(_sink.Events);
        Assert.Equal(3, written.Count);
        Assert.Equal(first.UtcDateTime, written.FirstTimestamp);
        Assert.Equal(first.AddMinutes(8).UtcDateTime, written.LastTimestamp);
        Assert.Equal(["create BackOff", $"patch {written.Metadata.Name} 2", $"patch {written.Metadata.Name} 3"], _sink.Calls);
    }

    [Fact]
    public async Task RepeatAfterTheWindow_CreatesANewEvent()
    {
        _recorder.Record(Subject(), EventType.Normal, "Ready", "serving");
        await CallsAsync(1);

        _time.Advance(TimeSpan.FromMinutes(11));
        _recorder.Record(Subject(), EventType.Normal, "Ready", "serving");

        await CallsAsync(2);
        Assert.Equal(["create Ready", "create Ready"], _sink.Calls);
        Assert.Equal(2, _sink.Events.Count);
    }

    [Fact]
    public async Task DifferentMessageTypeOrObject_AreSeparateEvents()
    {
        _recorder.Record(Subject(), EventType.Normal, "Progress", "step 1");
        _recorder.Record(Subject(), EventType.Normal, "Progress", "step 2");
        _recorder.Record(Subject(), EventType.Warning, "Progress", "step 2");
        _recorder.Record(Subject("b", "uid-b"), EventType.Normal, "Progress", "step 2");

        await CallsAsync(4);
        Assert.All(_sink.Calls, call => Assert.StartsWith("create", call, StringComparison.Ordinal));
    }

    [Fact]
    public async Task EventTtlExpiry_CreatesAFreshEventInsteadOfPatching()
    {
        _recorder.Record(Subject(), EventType.Normal, "Ready", "serving");
        await CallsAsync(1);
        _sink.Clear();

        _recorder.Record(Subject(), EventType.Normal, "Ready", "serving");

        await CallsAsync(3);
        Assert.EndsWith(" 2", _sink.Calls[1], StringComparison.Ordinal);
        Assert.Equal("create Ready", _sink.Calls[2]);
        Assert.Equal(1, Assert.Single(_sink.Events).Count);
    }

    [Fact]
    public async Task BurstLimiter_DropsAnObjectsExcessEvents_UntilItRefills()
    {
        for (var i = 0; i < 30; i++)
        {
            _recorder.Record(Subject(), EventType.Normal, "Progress", $"step {i}");
        }

        _recorder.Record(Subject("b", "uid-b"), EventType.Normal, "Progress", "other object");
        await CallsAsync(26);
        await Eventually.QuietPeriod();
        Assert.Equal(26, _sink.Calls.Count);
        Assert.Equal(5, Dropped);

        _time.Advance(TimeSpan.FromMinutes(5));
        _recorder.Record(Subject(), EventType.Normal, "Progress", "after refill");
        _recorder.Record(Subject(), EventType.Normal, "Progress", "over again");
        await CallsAsync(27);
        await Eventually.QuietPeriod();
        Assert.Equal(6, Dropped);
    }

    [Fact]
    public async Task FullQueue_DropsAndCounts_WithoutBlockingTheCaller()
    {
        await DisposeAsync();
        var stop = new CancellationTokenSource();
        _sink.Gate = new TaskCompletionSource();
        var recorder = new EventRecorder(_sink, new EventRecorderOptions { QueueCapacity = 2 }, _metrics, time: _time);
        var running = Task.Run(() => recorder.RunAsync(stop.Token));
        recorder.Record(Subject(), EventType.Normal, "First", "taken by the writer");
        await Eventually.WaitUntilAsync(() => _sink.Waiting == 1, "the writer is blocked on the sink");

        var recording = Task.Run(() =>
        {
            for (var i = 0; i < 4; i++)
            {
                recorder.Record(Subject(), EventType.Normal, "Queued", $"event {i}");
            }
        });

        await recording.WaitAsync(Eventually.DefaultTimeout);
        Assert.Equal(2, Dropped);
        _sink.Gate.SetResult();
        await Eventually.WaitUntilAsync(() => _sink.Events.Count == 3, "the queued events were written");
        await stop.CancelAsync();
        await running.WaitAsync(Eventually.DefaultTimeout);
    }

    [Fact]
    public async Task DifferentObjectsEvents_AreWrittenSideBySide_OneObjectsInOrder()
    {
        await DisposeAsync();
        var stop = new CancellationTokenSource();
        _sink.Gate = new TaskCompletionSource();
        var recorder = new EventRecorder(_sink, new EventRecorderOptions { Writers = 4 }, _metrics, time: _time);
        var running = Task.Run(() => recorder.RunAsync(stop.Token));

        // Sixteen objects hash to more than one of the four writers: a sink that blocks every write holds several.
        for (var i = 0; i < 16; i++)
        {
            recorder.Record(Subject($"w{i}", $"uid-{i}"), EventType.Normal, "Created", "once");
        }

        await Eventually.WaitUntilAsync(() => _sink.Waiting >= 2, "more than one writer is writing at once");
        recorder.Record(Subject("w0", "uid-0"), EventType.Normal, "Created", "once");
        _sink.Gate.SetResult();
        await Eventually.WaitUntilAsync(() => _sink.Calls.Count == 17, "every event was written");
        Assert.Equal(16, _sink.Events.Count);
        Assert.Equal(2, _sink.Events.Single(e => e.InvolvedObject.Name == "w0").Count);
        await stop.CancelAsync();
        await running.WaitAsync(Eventually.DefaultTimeout);
    }

    [Fact]
    public async Task SinkFailure_IsCountedAndNeverThrownAtTheCaller()
    {
        _sink.FailWith = FakeResourceServer<Corev1Event>.HttpError(HttpStatusCode.Forbidden);

        _recorder.Record(Subject(), EventType.Warning, "Failed", "x");

        await Eventually.WaitUntilAsync(() => Dropped == 1, "the failed write was counted");
        _sink.FailWith = null;
        _recorder.Record(Subject(), EventType.Warning, "Failed", "y");
        await Eventually.WaitUntilAsync(() => _sink.Events.Count == 1, "the recorder keeps going");
    }

    [Fact]
    public void InvalidReason_IsDroppedNotThrown()
    {
        _recorder.Record(Subject(), EventType.Normal, "not CamelCase", "x");

        Assert.Equal(1, Dropped);
    }
}
