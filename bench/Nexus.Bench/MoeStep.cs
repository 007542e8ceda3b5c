using System.Diagnostics;
using Nexus.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Bench;

/// <summary>
/// One FFN block's forward+backward time: the dense SwiGLU FFN, the Nexus MoE layer (shared expert +
/// top-1 of 4 by sorted dispatch), and the masked-dense alternative (every expert on every token, then
/// masked); then Nexus vs linear router, in training (forward+backward, E computed from the domain
/// embeddings every step) and at inference (E precomputed), as paired A/B timings.
/// </summary>
public static class MoeStep
{
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        int hidden = arguments.GetInt("hidden", 512), intermediate = arguments.GetInt("intermediate", 1536);
        int tokens = arguments.GetInt("tokens", 2048), experts = arguments.GetInt("experts", 4), repeats = arguments.GetInt("repeats", 20);
        int inferencePairs = arguments.GetInt("inference-pairs", 100), trainingPairs = arguments.GetInt("training-pairs", 40);
        var threads = arguments.GetInt("threads", 2);
        torch.set_num_threads(threads);
        NativeAllocator.Configure();
        torch.manual_seed(0);

        var x = randn([tokens, hidden]) * 0.5;
        using var dense = new LlamaMlp(hidden, intermediate);
        var routed = Enumerable.Range(0, experts).Select(_ => new LlamaMlp(hidden, intermediate)).ToList();
        var nexusRouter = new NexusRouter(randn([experts, hidden]), hidden, hidden);
        var linearRouter = new LinearRouter(hidden, experts);
        // The linear router starts as a copy of the Nexus router's E, so both send every token to the same
        // expert: the A/B below times the routers, not two different splits of the tokens among the experts.
        using (no_grad()) linearRouter.parameters().Single().copy_(nexusRouter.ExpertEmbeddings());
        using var linear = new SharedExpertMoe(new LlamaMlp(hidden, intermediate), routed, linearRouter);
        using var nexus = new SharedExpertMoe(new LlamaMlp(hidden, intermediate), routed, nexusRouter);

        double Once(Func<Tensor> forward, bool backward)
        {
            using var scope = NewDisposeScope();
            using var grad = backward ? enable_grad() : no_grad();
            var clock = Stopwatch.StartNew();
            var y = forward();
            if (backward) y.pow(2).mean().backward();
            else y.sum().item<float>();
            return clock.Elapsed.TotalMilliseconds;
        }

        double Time(Func<Tensor> forward, bool backward)
        {
            for (var i = 0; i < 3; i++) Once(forward, backward);
            return Median(Enumerable.Range(0, repeats).Select(_ => Once(forward, backward)).ToList());
        }

        // Pairs of (linear, nexus) runs, back to back, the order swapped every pair, after a warm-up of both:
        // whatever the machine does to one run of a pair it mostly does to the other, and the per-pair ratios
        // cancel it; their median and its 95% interval say how well.
        Dictionary<string, object> Paired(string what, bool backward, int pairs)
        {
            for (var i = 0; i < 5; i++)
            {
                Once(() => linear.Forward(x).Hidden, backward);
                Once(() => nexus.Forward(x).Hidden, backward);
            }
            var linearMs = new List<double>();
            var nexusMs = new List<double>();
            for (var i = 0; i < pairs; i++)
            {
                if (i % 2 == 0) linearMs.Add(Once(() => linear.Forward(x).Hidden, backward));
                nexusMs.Add(Once(() => nexus.Forward(x).Hidden, backward));
                if (i % 2 == 1) linearMs.Add(Once(() => linear.Forward(x).Hidden, backward));
            }
            var ratios = nexusMs.Zip(linearMs, (n, l) => n / l).Order().ToList();
            // Distribution-free 95% interval for a median: the order statistics n/2 ∓ 0.98·√n.
            var half = 0.98 * Math.Sqrt(pairs);
            var low = ratios[Math.Max(0, (int)Math.Floor(pairs / 2.0 - half) - 1)];
            var high = ratios[Math.Min(pairs - 1, (int)Math.Ceiling(pairs / 2.0 + half))];
            return new Dictionary<string, object>
            {
                [$"moe_linear_{what}_ms"] = Median(linearMs),
                [$"moe_nexus_{what}_ms"] = Median(nexusMs),
                [$"nexus_over_linear_{what}"] = Median(ratios),
                [$"nexus_over_linear_{what}_ci95"] = new[] { low, high },
                [$"{what}_pairs"] = pairs,
            };
        }

        using var maskedShared = new LlamaMlp(hidden, intermediate);
        Tensor MaskedDense()
        {
            var probabilities = nn.functional.softmax(linear.Router.Logits(x), -1);
            var (gate, chosen) = probabilities.max(-1);
            var mask = nn.functional.one_hot(chosen, experts).to(float32) * gate.unsqueeze(1);      // [N, E]
            var all = stack(routed.Select(e => e.call(x)).ToList(), 1);                             // [N, E, h]
            return maskedShared.call(x) + (all * mask.unsqueeze(2)).sum(1);
        }

        var denseMs = Time(() => dense.call(x), backward: true);
        var moeMs = Time(() => linear.Forward(x).Hidden, backward: true);
        var maskedMs = Time(MaskedDense, backward: true);
        var training = Paired("fwd_bwd", backward: true, trainingPairs);
        nexusRouter.Precompute();
        var inference = Paired("inference", backward: false, inferencePairs);

        long[] split;
        using (no_grad()) split = nexus.Forward(x).ExpertIndices.reshape(-1).bincount(null, experts).data<long>().ToArray();
        var result = new Dictionary<string, object>
        {
            ["tokens"] = tokens, ["hidden"] = hidden, ["intermediate"] = intermediate, ["experts"] = experts, ["threads"] = threads,
            ["tokens_per_expert"] = split,
            ["dense_fwd_bwd_ms"] = denseMs,
            ["moe_linear_fwd_bwd_alone_ms"] = moeMs,
            ["masked_dense_fwd_bwd_ms"] = maskedMs,
            ["moe_over_dense_fwd_bwd"] = moeMs / denseMs,
            ["masked_over_moe_fwd_bwd"] = maskedMs / moeMs,
        };
        foreach (var (key, value) in training.Concat(inference)) result[key] = value;
        return result;
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
