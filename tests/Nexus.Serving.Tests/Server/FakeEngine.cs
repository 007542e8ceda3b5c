using System.Runtime.CompilerServices;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;

namespace Nexus.Serving.Tests.Server;

/// <summary>
/// An engine that yields scripted events. <see cref="Script"/> decides each call; <see cref="Gate"/> (when set) holds
/// every call after its first <see cref="HoldAfter"/> events until released or cancelled. Every call reports that it
/// started and whether its token was cancelled, so tests wait on signals instead of sleeping.
/// </summary>
internal sealed class FakeEngine : ICompletionEngine
{
    public const string Model = "fake-model";

    private readonly TaskCompletionSource disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<CompletionRequest> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The events of one call: "Hello", ", world", finished by length with 3 prompt and 2 completion tokens.</summary>
    public static IReadOnlyList<GenerationEvent> HelloWorld { get; } =
    [
        new GenerationText("Hello"),
        new GenerationText(", world"),
        new GenerationFinished(FinishReason.Length, 3, 2),
    ];

    public IReadOnlyList<GenerationEvent> Script { get; set; } = HelloWorld;

    /// <summary>Thrown when a call starts, before any event (a refusal, or an engine failure).</summary>
    public Exception? Throw { get; set; }

    /// <summary>When set, calls wait on it after yielding <see cref="HoldAfter"/> events.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public int HoldAfter { get; set; }

    public string ModelId => Model;

    public int QueueDepth { get; set; }

    public int BatchSize { get; set; }

    public IReadOnlyList<IReadOnlyList<long>> RoutedTokens { get; set; } = [];

    public int Calls;

    /// <summary>Completes with the request of the first call once it has started.</summary>
    public Task<CompletionRequest> Started => started.Task;

    /// <summary>Completes when a call's token was cancelled while it waited.</summary>
    public Task Cancelled => cancelled.Task;

    public Task Disposed => disposed.Task;

    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(CompletionRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Calls);
        started.TrySetResult(request);
        await Task.Yield();
        if (Throw is not null)
            throw Throw;
        for (var i = 0; i < Script.Count; i++)
        {
            if (i == HoldAfter && Gate is { } gate)
            {
                try
                {
                    await gate.Task.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    throw;
                }
            }
            yield return Script[i];
        }
    }

    public ValueTask DisposeAsync()
    {
        disposed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}
