using Nexus.Model;
using Nexus.Model.Tokenization;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

public class BatchedDecodingTests
{
    public enum Kind { Dense, Moe }

    private const double Tolerance = 1e-4;

    private static CausalLanguageModel Create(Kind kind) => kind == Kind.Dense ? TinyModels.Create() : TinyModels.Moe();

    private static long[] Prompt(int length, long seed) =>
        TinyModels.RandomIds(length, TinyModels.Config().VocabSize, seed)[0].data<long>().ToArray();

    /// <summary>What one sequence saw: the logits [vocab] of each prediction, the greedy token picked from
    /// them, and for each decode step the experts chosen in each layer (empty for a dense model).</summary>
    private sealed class Trace
    {
        public List<Tensor> Logits { get; } = [];
        public List<long> Tokens { get; } = [];
        public List<long[][]> Experts { get; } = [];

        public void Predicted(Tensor logits)
        {
            Logits.Add(logits);
            Tokens.Add(logits.argmax().item<long>());
        }
    }

    /// <summary>The reference: the sequence decoded alone with the single-sequence KvCache path.</summary>
    private static Trace Alone(CausalLanguageModel model, long[] prompt, int steps)
    {
        var trace = new Trace();
        using var cache = model.NewCache(1, prompt.Length + steps);
        trace.Predicted(model.Forward(tensor(prompt, [1, prompt.Length]), cache)[0, -1]);
        for (var step = 0; step < steps; step++)
        {
            var output = model.ForwardDetailed(tensor(new[] { trace.Tokens[^1] }, [1, 1]), cache);
            trace.Predicted(output.Logits[0, -1]);
            trace.Experts.Add(output.ExpertsPerLayer.Select(e => e[0].data<long>().ToArray()).ToArray());
        }
        return trace;
    }

    private sealed class Running(long[] prompt, int slot)
    {
        public long[] Prompt { get; } = prompt;
        public int Slot { get; } = slot;
        public Trace Trace { get; } = new();
    }

    private static Running Join(CausalLanguageModel model, BatchKvCache cache, long[] prompt)
    {
        var running = new Running(prompt, cache.Take());
        running.Trace.Predicted(model.Prefill(cache, running.Slot, tensor(prompt, [1, prompt.Length])).Logits[0, -1]);
        Assert.Equal(prompt.Length, cache.Length(running.Slot));
        return running;
    }

    private static void Step(CausalLanguageModel model, BatchKvCache cache, params Running[] batch)
    {
        var output = model.Decode(cache, batch.Select(r => r.Slot).ToList(), batch.Select(r => r.Trace.Tokens[^1]).ToList());
        Assert.Equal(new long[] { batch.Length, model.Config.VocabSize }, output.Logits.shape);
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i].Trace.Predicted(output.Logits[i]);
            batch[i].Trace.Experts.Add(output.ExpertsPerLayer.Select(e => e[i].data<long>().ToArray()).ToArray());
        }
    }

    private static void AssertSameAsAlone(CausalLanguageModel model, Running running, string name)
    {
        var steps = running.Trace.Tokens.Count - 1;
        var alone = Alone(model, running.Prompt, steps);
        Assert.Equal(alone.Tokens, running.Trace.Tokens);
        for (var i = 0; i <= steps; i++)
        {
            var diff = (alone.Logits[i] - running.Trace.Logits[i]).abs().max().item<float>();
            Assert.True(alone.Logits[i].allclose(running.Trace.Logits[i], rtol: Tolerance, atol: Tolerance),
                $"{name}, prediction {i}: logits differ from decoding alone by up to {diff}");
        }
        Assert.Equal(steps, running.Trace.Experts.Count);
        for (var i = 0; i < steps; i++)
        {
            Assert.Equal(alone.Experts[i].Length, running.Trace.Experts[i].Length);
            for (var layer = 0; layer < alone.Experts[i].Length; layer++)
                Assert.Equal(alone.Experts[i][layer], running.Trace.Experts[i][layer]);
        }
    }

    [Theory]
    [InlineData(Kind.Dense, true)]
    [InlineData(Kind.Dense, false)]
    [InlineData(Kind.Moe, true)]
    [InlineData(Kind.Moe, false)]
    public void SequencesJoiningAndLeavingTheBatchDecodeAsTheyWouldAlone(Kind kind, bool sdpa)
    {
        using var model = Create(kind);
        model.UseSdpa = sdpa;
        using var noGrad = no_grad();
        using var cache = model.NewBatchCache(slots: 4, capacity: 24);

        var a = Join(model, cache, Prompt(3, seed: 1));
        var b = Join(model, cache, Prompt(9, seed: 2));
        var c = Join(model, cache, Prompt(5, seed: 3));
        Assert.Equal(new[] { 0, 1, 2 }, new[] { a.Slot, b.Slot, c.Slot });
        for (var i = 0; i < 3; i++) Step(model, cache, c, a, b);   // rows out of slot order: gathered keys
        AssertSameAsAlone(model, b, "b");

        cache.Release(b.Slot);
        var d = Join(model, cache, Prompt(7, seed: 4));                 // reuses b's slot, over b's stale keys
        Assert.Equal(b.Slot, d.Slot);
        for (var i = 0; i < 2; i++) Step(model, cache, a, d, c);

        var e = Join(model, cache, Prompt(2, seed: 5));                 // joins while the others are mid-decode
        Assert.Equal(3, e.Slot);
        for (var i = 0; i < 3; i++) Step(model, cache, a, d, c, e);    // consecutive slots: no gather
        Step(model, cache, e, a);                                       // a subset of the slots

        Assert.Equal(3 + 9, cache.Length(a.Slot));
        AssertSameAsAlone(model, a, "a");
        AssertSameAsAlone(model, c, "c");
        AssertSameAsAlone(model, d, "d");
        AssertSameAsAlone(model, e, "e");
        if (kind == Kind.Moe) Assert.All(a.Trace.Experts, step => Assert.All(step, layer => Assert.Equal(2, layer.Length)));
    }

    /// <summary>The batched decode groups the query heads that share a KV head instead of copying the keys per head;
    /// heads 4 / 2 above, here 8 query heads over 2 KV heads and multi-head attention (8 / 8).</summary>
    [Theory]
    [InlineData(8, 2, true)]
    [InlineData(8, 2, false)]
    [InlineData(8, 8, true)]
    public void GroupedQueryHeadsDecodeAsTheyWouldAlone(int heads, int kvHeads, bool sdpa)
    {
        using var model = TinyModels.Create(TinyModels.Config(heads: heads, kvHeads: kvHeads));
        model.UseSdpa = sdpa;
        using var noGrad = no_grad();
        using var cache = model.NewBatchCache(slots: 3, capacity: 24);

        var a = Join(model, cache, Prompt(4, seed: 6));
        var b = Join(model, cache, Prompt(11, seed: 7));
        var c = Join(model, cache, Prompt(1, seed: 8));
        for (var i = 0; i < 4; i++) Step(model, cache, b, c, a);
        for (var i = 0; i < 2; i++) Step(model, cache, a, b, c);

        AssertSameAsAlone(model, a, "a");
        AssertSameAsAlone(model, b, "b");
        AssertSameAsAlone(model, c, "c");
    }

    [Theory]
    [InlineData(Kind.Dense)]
    [InlineData(Kind.Moe)]
    public void GreedyBatchedTokensEqualTheTextGenerators(Kind kind)
    {
        using var model = Create(kind);
        var prompts = new[] { Prompt(4, seed: 6), Prompt(10, seed: 7), Prompt(1, seed: 8) };
        const int steps = 6;
        var generator = new TextGenerator(model, new ByteTokenizer());
        var greedy = new SamplingOptions { MaxNewTokens = steps + 1, Temperature = 0 };
        var expected = prompts.Select(p => generator.GenerateIds(p.Select(i => (int)i).ToList(), greedy).Select(i => (long)i).ToList()).ToList();

        using var noGrad = no_grad();
        using var cache = model.NewBatchCache(slots: 3, capacity: 32);
        var running = prompts.Select(p => Join(model, cache, p)).ToArray();
        for (var i = 0; i < steps; i++) Step(model, cache, running);

        for (var i = 0; i < prompts.Length; i++)
        {
            // The generator stops at EOS, which it does not return.
            var tokens = running[i].Trace.Tokens.TakeWhile(t => t != ByteTokenizer.Eos).ToList();
            Assert.Equal(expected[i], tokens);
        }
    }

    [Fact]
    public void OverflowingASlotNamesTheSlotAndCapacityAndLeavesTheCacheUnchanged()
    {
        using var model = Create(Kind.Dense);
        using var noGrad = no_grad();
        using var cache = model.NewBatchCache(slots: 2, capacity: 8);
        var first = cache.Take();
        var second = cache.Take();
        model.Prefill(cache, second, tensor(Prompt(6, seed: 9), [1, 6]));
        model.Prefill(cache, first, tensor(Prompt(2, seed: 10), [1, 2]));
        model.Decode(cache, [first, second], [1L, 2L]);
        model.Decode(cache, [first, second], [3L, 4L]);
        Assert.Equal(8, cache.Length(second));

        var full = Assert.Throws<InvalidOperationException>(() => model.Decode(cache, [first, second], [5L, 6L]));
        Assert.Contains("slot 1", full.Message);
        Assert.Contains("capacity of 8 tokens", full.Message);
        Assert.Equal(4, cache.Length(first));
        Assert.Equal(8, cache.Length(second));

        var prompt = Assert.Throws<InvalidOperationException>(() => model.Prefill(cache, first, tensor(Prompt(5, seed: 11), [1, 5])));
        Assert.Contains("slot 0", prompt.Message);
        Assert.Contains("capacity of 8 tokens", prompt.Message);
        Assert.Equal(4, cache.Length(first));

        var noSlot = Assert.Throws<InvalidOperationException>(() => cache.Take());
        Assert.Contains("All 2 slots", noSlot.Message);

        cache.Release(second);
        Assert.False(cache.IsTaken(second));
        Assert.Contains("not taken", Assert.Throws<InvalidOperationException>(() => model.Decode(cache, [second], [1L])).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => model.Decode(cache, [first, first], [1L, 2L])).Message);
        Assert.Equal(second, cache.Take());
        Assert.Equal(0, cache.Length(second));
    }
}
