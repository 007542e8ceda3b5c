using System.Collections.Concurrent;
using Nexus.Operator.Metrics;
using Nexus.Operator.Queues;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Queues;

public class WorkQueueTests
{
    private readonly ManualTimeProvider _time = new();

    private WorkQueue<string> NewQueue(IRateLimiter<string>? rateLimiter = null, IWorkQueueMetrics? metrics = null) =>
        new(rateLimiter ?? new ItemExponentialRateLimiter<string>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000)), _time, metrics);

    private static async Task<string> GetKeyAsync(WorkQueue<string> queue)
    {
        var (key, shuttingDown) = await queue.GetAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(shuttingDown);
        return key;
    }

    [Fact]
    public async Task Add_DeduplicatesKeysWaitingInTheQueue()
    {
        using var queue = NewQueue();

        queue.Add("a");
        queue.Add("b");
        queue.Add("a");

        Assert.Equal(2, queue.Count);
        Assert.Equal("a", await GetKeyAsync(queue));
        Assert.Equal("b", await GetKeyAsync(queue));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task KeyBeingProcessed_IsNotHandedToAnotherWorker_AndIsQueuedAgainOnDone()
    {
        using var queue = NewQueue();
        queue.Add("a");
        Assert.Equal("a", await GetKeyAsync(queue));

        queue.Add("a");
        queue.Add("a");
        queue.Add("b");

        // Only b is available: a is still being processed.
        Assert.Equal(1, queue.Count);
        Assert.Equal("b", await GetKeyAsync(queue));
        var waiting = queue.GetAsync(CancellationToken.None);
        await Eventually.QuietPeriod();
        Assert.False(waiting.IsCompleted);

        queue.Done("a");

        var (key, _) = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("a", key);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Done_WithoutNewAdd_DoesNotQueueTheKeyAgain()
    {
        using var queue = NewQueue();
        queue.Add("a");
        await GetKeyAsync(queue);

        queue.Done("a");

        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void AddAfter_QueuesTheKeyOnlyOnceTheDelayHasPassed()
    {
        using var queue = NewQueue();

        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.Count);
        Assert.Equal(1, queue.DelayedCount);

        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.Equal(0, queue.Count);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, queue.Count);
        Assert.Equal(0, queue.DelayedCount);
    }

    [Fact]
    public async Task AddAfter_KeepsTheEarliestDueTime()
    {
        using var queue = NewQueue();

        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        queue.AddAfter("a", TimeSpan.FromSeconds(2));
        queue.AddAfter("a", TimeSpan.FromSeconds(5));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, queue.Count);
        queue.Done(await GetKeyAsync(queue));

        // The superseded 5 s and 10 s entries do not add the key again.
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void AddAfter_NeverDelaysAnEarlierImmediateAdd()
    {
        using var queue = NewQueue();

        queue.Add("a");
        queue.AddAfter("a", TimeSpan.FromMinutes(1));
        Assert.Equal(1, queue.Count);

        queue.AddAfter("b", TimeSpan.FromMinutes(1));
        queue.Add("b");
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public async Task AddAfter_HandsKeysOutInDueOrder()
    {
        using var queue = NewQueue();

        queue.AddAfter("late", TimeSpan.FromSeconds(3));
        queue.AddAfter("early", TimeSpan.FromSeconds(1));
        queue.AddAfter("middle", TimeSpan.FromSeconds(2));
        _time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal("early", await GetKeyAsync(queue));
        Assert.Equal("middle", await GetKeyAsync(queue));
        Assert.Equal("late", await GetKeyAsync(queue));
    }

    [Fact]
    public async Task AddRateLimited_BacksOffExponentially_AndForgetResets()
    {
        using var queue = NewQueue();
        TimeSpan[] expected = [TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(40)];

        foreach (var delay in expected)
        {
            queue.AddRateLimited("a");
            _time.Advance(delay - TimeSpan.FromTicks(1));
            Assert.Equal(0, queue.Count);
            _time.Advance(TimeSpan.FromTicks(1));
            Assert.Equal(1, queue.Count);
            queue.Done(await GetKeyAsync(queue));
        }

        Assert.Equal(4, queue.NumRequeues("a"));
        queue.Forget("a");
        Assert.Equal(0, queue.NumRequeues("a"));

        queue.AddRateLimited("a");
        _time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void ItemExponentialRateLimiter_CapsAtTheMaximumWithoutOverflow()
    {
        var limiter = new ItemExponentialRateLimiter<string>(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(1000));
        var delays = Enumerable.Range(0, 200).Select(_ => limiter.When("a")).ToList();

        Assert.Equal(TimeSpan.FromMilliseconds(5), delays[0]);
        Assert.Equal(TimeSpan.FromMilliseconds(5 * 1024), delays[10]);
        Assert.Equal(TimeSpan.FromSeconds(1000), delays[18]);
        Assert.Equal(TimeSpan.FromSeconds(1000), delays[^1]);
        Assert.Equal(TimeSpan.FromMilliseconds(5), limiter.When("b"));
    }

    [Fact]
    public void TokenBucket_AllowsTheBurstThenSpacesRetriesAtTheRate()
    {
        var bucket = new TokenBucketRateLimiter<string>(10, 100, _time);

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(TimeSpan.Zero, bucket.When($"k{i}"));
        }

        Assert.Equal(TimeSpan.FromMilliseconds(100), bucket.When("x"));
        Assert.Equal(TimeSpan.FromMilliseconds(200), bucket.When("y"));

        // Two seconds earn 20 tokens, paying the debt of 2 and leaving 18.
        _time.Advance(TimeSpan.FromSeconds(2));
        for (var i = 0; i < 18; i++)
        {
            Assert.Equal(TimeSpan.Zero, bucket.When($"z{i}"));
        }

        Assert.Equal(TimeSpan.FromMilliseconds(100), bucket.When("w"));
    }

    [Fact]
    public void DefaultRateLimiter_IsTheLargerOfItemBackoffAndTheBucket()
    {
        var limiter = RateLimiters.Default<string>(new RateLimiterOptions { QueriesPerSecond = 1, Burst = 2 }, _time);

        Assert.Equal(TimeSpan.FromMilliseconds(5), limiter.When("a"));
        Assert.Equal(TimeSpan.FromMilliseconds(10), limiter.When("a"));
        // The bucket is empty now: a fresh key waits a full second, not 5 ms.
        Assert.Equal(TimeSpan.FromSeconds(1), limiter.When("b"));
        Assert.Equal(2, limiter.NumRequeues("a"));
    }

    [Fact]
    public async Task ShutDown_ReleasesEveryWaitingWorker_AfterHandingOutWhatIsQueued()
    {
        using var queue = NewQueue();
        queue.Add("left-over");
        Assert.Equal("left-over", await GetKeyAsync(queue));
        var waiters = Enumerable.Range(0, 3).Select(_ => queue.GetAsync(CancellationToken.None)).ToList();
        queue.Add("queued");
        await Eventually.WaitUntilAsync(() => waiters.Count(waiter => waiter.IsCompleted) == 1, "one waiter got the queued key");

        queue.ShutDown();

        var results = await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["queued"], results.Where(result => !result.ShuttingDown).Select(result => result.Key));
        Assert.Equal(2, results.Count(result => result.ShuttingDown));

        queue.Add("after");
        queue.AddAfter("later", TimeSpan.FromSeconds(1));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.DelayedCount);
        Assert.True((await queue.GetAsync(CancellationToken.None)).ShuttingDown);
    }

    [Fact]
    public async Task ShutDown_DropsDelayedKeys()
    {
        using var queue = NewQueue();
        queue.AddAfter("a", TimeSpan.FromSeconds(1));

        queue.ShutDown();
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(0, queue.Count);
        Assert.True((await queue.GetAsync(CancellationToken.None)).ShuttingDown);
    }

    [Fact]
    public async Task ShutDownWithDrain_WaitsForKeysInProcessing()
    {
        using var queue = NewQueue();
        queue.Add("a");
        await GetKeyAsync(queue);

        var draining = queue.ShutDownWithDrainAsync(CancellationToken.None);
        await Eventually.QuietPeriod();
        Assert.False(draining.IsCompleted);

        queue.Done("a");
        await draining.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task CancelledGet_TakesNothing_AndLeavesTheKeyForOthers()
    {
        using var queue = NewQueue();
        using var cancel = new CancellationTokenSource();
        var cancelled = queue.GetAsync(cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        queue.Add("a");

        Assert.Equal("a", await GetKeyAsync(queue));
    }

    [Fact]
    public async Task Metrics_ReportDepthQueueLatencyWorkDurationAndRetries()
    {
        var metrics = new OperatorMetrics();
        using var queue = NewQueue(metrics: new WorkQueueMetrics(metrics, "Widget"));

        queue.Add("a");
        queue.Add("b");
        Assert.Equal(2, metrics.WorkQueueDepth.WithLabels("Widget").Value);

        _time.Advance(TimeSpan.FromSeconds(3));
        await GetKeyAsync(queue);
        Assert.Equal(1, metrics.WorkQueueDepth.WithLabels("Widget").Value);
        Assert.Equal(1, metrics.WorkQueueQueueDuration.WithLabels("Widget").Count);
        Assert.Equal(3, metrics.WorkQueueQueueDuration.WithLabels("Widget").Sum, precision: 6);

        _time.Advance(TimeSpan.FromSeconds(2));
        queue.Done("a");
        Assert.Equal(2, metrics.WorkQueueWorkDuration.WithLabels("Widget").Sum, precision: 6);

        queue.AddRateLimited("a");
        Assert.Equal(1, metrics.WorkQueueRetries.WithLabels("Widget").Value);
    }

    [Fact]
    public async Task ManyWorkers_NeverHoldTheSameKeyAtOnce_AndEveryAddIsProcessed()
    {
        using var queue = new WorkQueue<string>(time: TimeProvider.System);
        var holding = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var lastAdd = new ConcurrentDictionary<string, long>();
        var lastProcessedStart = new ConcurrentDictionary<string, long>();
        long clock = 0;

        async Task Worker()
        {
            while (true)
            {
                var (key, shuttingDown) = await queue.GetAsync(CancellationToken.None);
                if (shuttingDown)
                {
                    return;
                }

                if (holding.AddOrUpdate(key, 1, (_, count) => count + 1) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                lastProcessedStart[key] = Interlocked.Increment(ref clock);
                await Task.Yield();
                holding.AddOrUpdate(key, 0, (_, count) => count - 1);
                queue.Done(key);
            }
        }

        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(Worker)).ToList();
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var key = $"k{random.Next(10)}";
            lastAdd[key] = Interlocked.Increment(ref clock);
            queue.Add(key);
        }

        await Eventually.WaitUntilAsync(
            () => lastAdd.All(add => lastProcessedStart.TryGetValue(add.Key, out var started) && started > add.Value),
            "every key was processed after its last add");
        await queue.ShutDownWithDrainAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(0, overlaps);
    }
}
