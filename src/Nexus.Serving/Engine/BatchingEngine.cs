using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Serving.Completions;
using static TorchSharp.torch;

namespace Nexus.Serving.Engine;

/// <summary>
/// Continuous batching over a slot KV cache (<see cref="BatchKvCache"/>). One background thread does all torch work:
/// each iteration it gives free slots to queued requests and prefills them, then runs one batched
/// <see cref="CausalLanguageModel.Decode"/> over every active slot, samples each row with its request's options and
/// streams the text. A request joins the running batch at the next iteration and leaves it (its slot freed) as soon
/// as it finishes or is cancelled, so nobody waits for a batch to drain.
/// </summary>
public sealed class BatchingEngine : ICompletionEngine
{
    private readonly CausalLanguageModel model;
    private readonly ITextTokenizer tokenizer;
    private readonly EngineOptions options;
    private readonly bool ownsModel;
    private readonly long capacity;
    private readonly int? experts;
    private readonly long[][] routed;            // [layer][expert], written by the loop, read by anyone (Interlocked)
    private readonly object gate = new();        // guards queue and stopping; the loop waits on it
    private readonly List<Sequence> queue = [];
    private readonly Thread loop;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long nextId;
    private bool stopping;
    private string? loopFailure;                 // why the loop died, when it did
    private volatile int batchSize;
    private int disposed;

    /// <summary>Starts the loop over <paramref name="model"/>, which the caller keeps owning (and disposes after this).</summary>
    public BatchingEngine(CausalLanguageModel model, ITextTokenizer tokenizer, EngineOptions options)
        : this(model, tokenizer, options, ownsModel: false)
    {
    }

    private BatchingEngine(CausalLanguageModel model, ITextTokenizer tokenizer, EngineOptions options, bool ownsModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.ownsModel = ownsModel;
        ModelId = options.ModelId ?? "nexus";
        capacity = Math.Min(options.ContextTokens ?? model.Config.MaxPositionEmbeddings, model.Config.MaxPositionEmbeddings);
        experts = model.Config is NexusMoeConfig moe ? moe.NumExperts : null;
        routed = experts is { } count
            ? Enumerable.Range(0, model.Config.NumHiddenLayers).Select(_ => new long[count]).ToArray()
            : [];
        if (options.Threads > 0) set_num_threads(options.Threads);
        model.eval();
        loop = new Thread(Run) { IsBackground = true, Name = "nexus-batching-engine" };
        loop.Start();
    }

    /// <summary>
    /// Loads the checkpoint in <paramref name="modelFolder"/> (config.json, safetensors, tokenizer; dense or Nexus MoE),
    /// starts an engine that owns it, and warms it up with one short greedy completion before returning.
    /// </summary>
    public static async Task<BatchingEngine> LoadAsync(string modelFolder, EngineOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modelFolder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!Directory.Exists(modelFolder))
            throw new DirectoryNotFoundException($"Model folder '{Path.GetFullPath(modelFolder)}' does not exist; give the folder holding config.json, model.safetensors and the tokenizer.");
        var (model, tokenizer) = await Task.Run(() =>
        {
            var loaded = ModelCheckpoint.Load(modelFolder);
            loaded.Model.PrepareForInference();
            return loaded;
        }, cancellationToken);
        var id = options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)));
        var engine = new BatchingEngine(model, tokenizer, options with { ModelId = id }, ownsModel: true);
        try
        {
            await engine.WarmUpAsync(cancellationToken);
            return engine;
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
    }

    public string ModelId { get; }

    public int QueueDepth
    {
        get { lock (gate) return queue.Count; }
    }

    public int BatchSize => batchSize;

    /// <summary>Tokens each slot holds at most: prompt plus max_tokens must fit.</summary>
    public long ContextTokens => capacity;

    public IReadOnlyList<IReadOnlyList<long>> RoutedTokens =>
        routed.Select(layer => (IReadOnlyList<long>)Enumerable.Range(0, layer.Length).Select(expert => Interlocked.Read(ref layer[expert])).ToArray()).ToArray();

    /// <summary>Test hook: called on the loop thread after every decode step with the ids of the requests it decoded
    /// (in admission order, <see cref="Sequence.Id"/>); it may block to hold the loop still.</summary>
    internal Action<IReadOnlyList<long>>? AfterStep { get; set; }

    /// <summary>Test hook: called with the id a request gets when it is admitted to the queue.</summary>
    internal Action<CompletionRequest, long>? OnAdmitted { get; set; }

    public async IAsyncEnumerable<GenerationEvent> GenerateAsync(CompletionRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var sequence = Admit(request);
        using var registration = cancellationToken.Register(static state => ((Sequence)state!).Cancel(), sequence);
        var finished = false;
        try
        {
            await foreach (var generated in sequence.Events.Reader.ReadAllAsync(cancellationToken))
            {
                finished = generated is GenerationFinished;
                yield return generated;
            }
            if (sequence.Failure is { } failure) ExceptionDispatchInfo.Throw(failure);
        }
        finally
        {
            if (!finished) sequence.Cancel();   // the consumer stopped early or was cancelled: free the slot
        }
    }

    /// <summary>Tokenizes and checks the request, then queues it; throws <see cref="GenerationRefusedException"/> instead.</summary>
    private Sequence Admit(CompletionRequest request)
    {
        var prompt = tokenizer.Encode(request.Prompt, addBos: tokenizer.BosId is not null);
        if (prompt.Length >= capacity)
            throw new GenerationRefusedException(400,
                $"The prompt is {prompt.Length} tokens; this model's context holds {capacity} tokens, prompt and completion together. Shorten the prompt.",
                "prompt");
        if (prompt.Length + request.MaxTokens > capacity)
            throw new GenerationRefusedException(400,
                $"The prompt ({prompt.Length} tokens) plus max_tokens ({request.MaxTokens}) exceed this model's context of {capacity} tokens. " +
                $"Send max_tokens of at most {capacity - prompt.Length}, or shorten the prompt.",
                "max_tokens");
        lock (gate)
        {
            if (stopping) throw ShuttingDown();
            if (queue.Count >= options.QueueCapacity)
                throw new GenerationRefusedException(429,
                    $"The server is busy: {queue.Count} requests are already waiting for a place in the batch. Retry after {options.RetryAfter.TotalSeconds:0.###} seconds.",
                    retryAfter: options.RetryAfter);
            var sequence = new Sequence(this, nextId++, request, prompt);
            queue.Add(sequence);
            OnAdmitted?.Invoke(request, sequence.Id);
            Monitor.Pulse(gate);
            return sequence;
        }
    }

    private GenerationRefusedException ShuttingDown() =>
        loopFailure is { } failure
            ? new(503, $"The generation engine stopped after an internal error ({failure}); restart the server.", retryAfter: options.RetryAfter)
            : new(503, "The server is shutting down and takes no new completions. Retry on another replica.", retryAfter: options.RetryAfter);

    private void Wake()
    {
        lock (gate) Monitor.Pulse(gate);
    }

    private async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var warmUp = new CompletionRequest(null, "Hello", MaxTokens: 1, Temperature: 0, TopP: 1, Stop: [], Seed: 0, Stream: false);
        await foreach (var _ in GenerateAsync(warmUp, cancellationToken))
        {
        }
    }

    /// <summary>The scheduling loop: the only thread that touches the model and the cache.</summary>
    private void Run()
    {
        var active = new List<Sequence>();
        try
        {
            using var noGrad = no_grad();
            using var cache = model.NewBatchCache(options.MaxBatchSize, capacity);
            while (true)
            {
                List<Sequence> joining;
                lock (gate)
                {
                    queue.RemoveAll(sequence => sequence.Cancelled && sequence.Abandon());
                    active.RemoveAll(sequence => sequence.Cancelled && Leave(cache, sequence));
                    while (!stopping && active.Count == 0 && queue.Count == 0) Monitor.Wait(gate);
                    if (stopping) break;
                    var joiningCount = Math.Min(cache.FreeSlots, queue.Count);
                    joining = queue.GetRange(0, joiningCount);
                    queue.RemoveRange(0, joiningCount);
                }
                foreach (var sequence in joining)
                {
                    if (Join(cache, sequence)) active.Add(sequence);
                }
                batchSize = active.Count;
                if (active.Count > 0) DecodeStep(cache, active);
                batchSize = active.Count;
            }
        }
        catch (Exception e)
        {
            foreach (var sequence in active) sequence.Fail(new InvalidOperationException($"The batching engine's loop failed: {e.Message}", e));
            active.Clear();
            lock (gate) loopFailure = e.Message;
        }
        finally
        {
            var stoppedWhileRunning = new OperationCanceledException("The engine was stopped before this completion finished.");
            foreach (var sequence in active) sequence.Fail(stoppedWhileRunning);
            List<Sequence> waiting;
            lock (gate)
            {
                stopping = true;
                waiting = [.. queue];
                queue.Clear();
            }
            foreach (var sequence in waiting) sequence.Fail(ShuttingDown());
            batchSize = 0;
            stopped.TrySetResult();
        }
    }

    /// <summary>Takes a slot, prefills the prompt and samples the first token; false when the request already ended.</summary>
    private bool Join(BatchKvCache cache, Sequence sequence)
    {
        sequence.Slot = cache.Take();
        try
        {
            using var scope = NewDisposeScope();
            sequence.Start();
            var output = model.Prefill(cache, sequence.Slot, tensor(sequence.Prompt.Select(id => (long)id).ToArray(), [1, sequence.Prompt.Length]));
            CountRouted(output.ExpertsPerLayer);
            var token = sequence.Greedy
                ? (int)output.Logits[0, -1].to(float32).argmax().item<long>()
                : Sampling.Pick(output.Logits[0, -1], sequence.Request.Temperature, sequence.Request.TopP, sequence.Generator!);
            if (Accept(sequence, token)) return true;
        }
        catch (Exception e)
        {
            sequence.Fail(new InvalidOperationException($"Prefilling the prompt failed: {e.Message}", e));
        }
        Leave(cache, sequence);
        return false;
    }

    /// <summary>One batched decode over every active slot; finished rows leave the batch at once.</summary>
    private void DecodeStep(BatchKvCache cache, List<Sequence> active)
    {
        var finished = new List<Sequence>();
        try
        {
            using var scope = NewDisposeScope();
            var output = model.Decode(cache, active.Select(s => s.Slot).ToList(), active.Select(s => (long)s.NextToken).ToList());
            CountRouted(output.ExpertsPerLayer);
            var greedy = output.Logits.to(float32).argmax(1).data<long>().ToArray();
            for (var row = 0; row < active.Count; row++)
            {
                var sequence = active[row];
                var token = sequence.Greedy
                    ? (int)greedy[row]
                    : Sampling.Pick(output.Logits[row], sequence.Request.Temperature, sequence.Request.TopP, sequence.Generator!);
                if (!Accept(sequence, token)) finished.Add(sequence);
            }
        }
        catch (Exception e)
        {
            var failure = new InvalidOperationException($"A batched decode step failed: {e.Message}", e);
            foreach (var sequence in active) sequence.Fail(failure);
            finished = [.. active];
        }
        AfterStep?.Invoke(active.Select(s => s.Id).ToArray());
        foreach (var sequence in finished)
        {
            active.Remove(sequence);
            Leave(cache, sequence);
        }
    }

    /// <summary>Takes a sampled token: streams its text and says whether the completion goes on.</summary>
    private bool Accept(Sequence sequence, int token)
    {
        if (sequence.Cancelled) return false;
        if (token == tokenizer.EosId)
        {
            sequence.Finish(FinishReason.Stop);
            return false;
        }
        sequence.CompletionTokens++;
        sequence.Emit(sequence.Text!.Append(token));
        if (sequence.Text.Stopped)
        {
            sequence.Finish(FinishReason.Stop);
            return false;
        }
        if (sequence.CompletionTokens >= sequence.Request.MaxTokens)
        {
            sequence.Finish(FinishReason.Length);
            return false;
        }
        sequence.NextToken = token;
        return true;
    }

    private bool Leave(BatchKvCache cache, Sequence sequence)
    {
        if (sequence.Slot >= 0 && cache.IsTaken(sequence.Slot)) cache.Release(sequence.Slot);
        sequence.Slot = -1;
        sequence.End();
        return true;
    }

    private void CountRouted(IReadOnlyList<Tensor> expertsPerLayer)
    {
        if (experts is not { } count) return;
        for (var layer = 0; layer < expertsPerLayer.Count && layer < routed.Length; layer++)
        {
            var counts = expertsPerLayer[layer].flatten().bincount(null, count).data<long>().ToArray();
            for (var expert = 0; expert < count; expert++) Interlocked.Add(ref routed[layer][expert], counts[expert]);
        }
    }

    /// <summary>Stops the loop; queued requests are refused (503), running ones end with <see cref="OperationCanceledException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            stopping = true;
            Monitor.Pulse(gate);
        }
        await stopped.Task.ConfigureAwait(false);
        if (ownsModel && Interlocked.Exchange(ref disposed, 1) == 0) model.Dispose();
    }

    /// <summary>One request: its stream of events, and (on the loop thread only) its place in the batch.</summary>
    private sealed class Sequence(BatchingEngine engine, long id, CompletionRequest request, int[] prompt)
    {
        private volatile bool cancelled;

        public long Id { get; } = id;
        public CompletionRequest Request { get; } = request;
        public int[] Prompt { get; } = prompt;
        public Channel<GenerationEvent> Events { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public Exception? Failure { get; private set; }
        public bool Cancelled => cancelled;
        public bool Greedy => Request.Temperature == 0;

        public int Slot { get; set; } = -1;
        public Generator? Generator { get; private set; }
        public CompletionText? Text { get; private set; }
        public int NextToken { get; set; }
        public int CompletionTokens { get; set; }

        /// <summary>Called from any thread: the loop drops the request at its next iteration.</summary>
        public void Cancel()
        {
            if (cancelled) return;
            cancelled = true;
            engine.Wake();
        }

        public void Start()
        {
            Text = new CompletionText(engine.tokenizer, Request.Stop.Where(stop => stop.Length > 0).ToArray());
            if (!Greedy) Generator = new Generator(Request.Seed is { } seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64());
        }

        public void Emit(string text)
        {
            if (text.Length > 0) Events.Writer.TryWrite(new GenerationText(text));
        }

        public void Finish(FinishReason reason)
        {
            if (reason == FinishReason.Length || !Text!.Stopped) Emit(Text!.Finish());
            Events.Writer.TryWrite(new GenerationFinished(reason, Prompt.Length, CompletionTokens));
            Events.Writer.TryComplete();
        }

        public void Fail(Exception failure)
        {
            Failure ??= failure;
            Events.Writer.TryComplete();
            End();
        }

        /// <summary>A queued request whose client went away: ends its stream; true so that it leaves the queue.</summary>
        public bool Abandon()
        {
            Events.Writer.TryComplete();
            return true;
        }

        public void End()
        {
            Events.Writer.TryComplete();
            Generator?.Dispose();
            Generator = null;
        }
    }
}
