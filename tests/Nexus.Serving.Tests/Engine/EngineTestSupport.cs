using System.Collections.Concurrent;
using System.Text;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;
using static TorchSharp.torch;

using Nexus.Model.Tests;

namespace Nexus.Serving.Tests.Engine;

/// <summary>Tiny random models (byte vocabulary, context 64) and helpers to drive an engine.</summary>
internal static class EngineTestSupport
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static LlamaConfig TinyConfig() => LlamaConfig.Preset("tiny") with { MaxPositionEmbeddings = 64 };

    /// <summary>A dense model with larger weights than HF's 0.02, so the greedy text depends on the prompt.</summary>
    public static CausalLanguageModel Dense(long seed = 7) => TinyModels.Create(TinyConfig(), seed);

    /// <summary>A Nexus MoE of four experts, top-2.</summary>
    public static CausalLanguageModel Moe() => TinyModels.Moe(TinyConfig());

    public static CausalLanguageModel Create(ModelKind kind) => kind == ModelKind.Dense ? Dense() : Moe();

    public static CompletionRequest Request(string prompt, int maxTokens, double temperature = 0, IReadOnlyList<string>? stop = null, long? seed = null) =>
        new(null, prompt, maxTokens, temperature, 1.0, stop ?? [], seed, Stream: false);

    /// <summary>What TextGenerator (<c>nexus generate</c>) produces for the prompt alone.</summary>
    public static Completion Reference(CausalLanguageModel model, ITextTokenizer tokenizer, CompletionRequest request)
    {
        var options = new SamplingOptions { MaxNewTokens = request.MaxTokens, Temperature = request.Temperature, Stop = request.Stop, Seed = request.Seed ?? 0 };
        var generator = new TextGenerator(model, tokenizer);
        var prompt = tokenizer.Encode(request.Prompt, addBos: tokenizer.BosId is not null);
        var tokens = generator.GenerateIds(prompt, options).Count();
        var text = generator.Generate(request.Prompt, options);
        var reason = tokens < request.MaxTokens ? FinishReason.Stop : FinishReason.Length;
        return new Completion(text, [], new GenerationFinished(reason, prompt.Length, tokens));
    }

    public static async Task<Completion> Collect(ICompletionEngine engine, CompletionRequest request, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        var deltas = new List<string>();
        GenerationFinished? finished = null;
        await foreach (var generated in engine.GenerateAsync(request, cancellationToken))
        {
            Assert.Null(finished);   // nothing after the end
            switch (generated)
            {
                case GenerationText delta:
                    Assert.NotEqual("", delta.Text);
                    deltas.Add(delta.Text);
                    text.Append(delta.Text);
                    break;
                case GenerationFinished end:
                    finished = end;
                    break;
            }
        }
        Assert.NotNull(finished);
        return new Completion(text.ToString(), deltas, finished);
    }

    public static async Task WaitUntil(Func<bool> condition, string because)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting until {because}.");
            await Task.Delay(2);
        }
    }
}

public enum ModelKind { Dense, Moe }

internal sealed record Completion(string Text, IReadOnlyList<string> Deltas, GenerationFinished Finished);

/// <summary>
/// Records every decode step of an engine (the request ids in it) and can hold the loop still after a given step,
/// so a test arranges who is running and who is queued without racing the loop.
/// </summary>
internal sealed class StepRecorder
{
    private readonly ManualResetEventSlim holding = new(false);
    private readonly ManualResetEventSlim released = new(true);
    private readonly ConcurrentQueue<long[]> steps = new();
    private int holdAfter = -1;

    public StepRecorder(BatchingEngine engine)
    {
        engine.OnAdmitted = (request, id) => Ids[request.Prompt] = id;
        engine.AfterStep = ids =>
        {
            steps.Enqueue([.. ids]);
            if (steps.Count == Volatile.Read(ref holdAfter))
            {
                holding.Set();
                released.Wait(EngineTestSupport.Patience);
            }
        };
    }

    /// <summary>Request id by prompt.</summary>
    public ConcurrentDictionary<string, long> Ids { get; } = new();

    public IReadOnlyList<long[]> Steps => [.. steps];

    /// <summary>Holds the loop after its <paramref name="step"/>-th decode step (1-based) until <see cref="Release"/>.</summary>
    public void HoldAfter(int step)
    {
        released.Reset();
        holding.Reset();
        Volatile.Write(ref holdAfter, step);
    }

    public void WaitHeld() => Assert.True(holding.Wait(EngineTestSupport.Patience), "the engine's loop never reached the held step");

    public void Release() => released.Set();

    /// <summary>Indices of the steps that decoded the request with <paramref name="prompt"/>.</summary>
    public List<int> StepsOf(string prompt)
    {
        var id = Ids[prompt];
        return Steps.Select((ids, index) => (ids, index)).Where(s => s.ids.Contains(id)).Select(s => s.index).ToList();
    }
}
