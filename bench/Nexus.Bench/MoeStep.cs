using System.Diagnostics;
using System.Runtime.InteropServices;
using Nexus.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Bench;

/// <summary>
/// One FFN block's forward+backward time: the dense SwiGLU FFN, the Nexus MoE layer (shared expert +
/// top-1 of 4 by sorted dispatch), and the masked-dense alternative (every expert on every token, then
/// masked); then Nexus vs linear router, in training (forward+backward, E computed from the domain
/// embeddings every step) and at inference (E precomputed), as paired A/B timings of wall time and of the
/// process's CPU time (all threads), which waits for no one and so shrugs off other load on the machine.
/// </summary>
public static partial class MoeStep
{
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        int hidden = arguments.GetInt("hidden", 512), intermediate = arguments.GetInt("intermediate", 1536);
        int tokens = arguments.GetInt("tokens", 2048), experts = arguments.GetInt("experts", 4), repeats = arguments.GetInt("repeats", 20);
        int inferencePairs = arguments.GetInt("inference-pairs", 120), trainingPairs = arguments.GetInt("training-pairs", 30);
        int threads = arguments.GetInt("threads", 2), abThreads = arguments.GetInt("ab-threads", 1);
        torch.set_num_threads(threads);
        NativeAllocator.Configure();
        torch.manual_seed(0);

        var x = randn([tokens, hidden]) * 0.5;
        using var dense = new LlamaMlp(hidden, intermediate);
        var routed = Enumerable.Range(0, experts).Select(_ => new LlamaMlp(hidden, intermediate)).ToList();
        var nexusRouter = new NexusRouter(randn([experts, hidden]), hidden, hidden);
        var linearRouter = new LinearRouter(hidden, experts);
        // By default the linear router starts as a copy of the Nexus router's E, so both send every token to the
        // same expert: the A/B below then times the routers, not two different splits of the tokens among the
        // experts (--linear-init random keeps its own random init, as the bench did before).
        var sameRouting = arguments.Get("linear-init", "nexus") == "nexus";
        if (sameRouting) using (no_grad()) linearRouter.parameters().Single().copy_(nexusRouter.ExpertEmbeddings());
        // Both layers hold the very same experts (shared and routed), so the router is all that differs.
        var shared = new LlamaMlp(hidden, intermediate);
        using var linear = new SharedExpertMoe(shared, routed, linearRouter);
        using var nexus = new SharedExpertMoe(shared, routed, nexusRouter);

        (double WallMs, double CpuMs) Once(Func<Tensor> forward, bool backward)
        {
            using var scope = NewDisposeScope();
            using var grad = backward ? enable_grad() : no_grad();
            var cpu = ProcessCpuMs();
            var clock = Stopwatch.StartNew();
            var y = forward();
            if (backward) y.pow(2).mean().backward();
            else y.sum().item<float>();
            return (clock.Elapsed.TotalMilliseconds, ProcessCpuMs() - cpu);
        }

        double Time(Func<Tensor> forward, bool backward)
        {
            for (var i = 0; i < 3; i++) Once(forward, backward);
            return Median(Enumerable.Range(0, repeats).Select(_ => Once(forward, backward).WallMs).ToList());
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
            var linearRuns = new List<(double WallMs, double CpuMs)>();
            var nexusRuns = new List<(double WallMs, double CpuMs)>();
            for (var i = 0; i < pairs; i++)
            {
                if (i % 2 == 0) linearRuns.Add(Once(() => linear.Forward(x).Hidden, backward));
                nexusRuns.Add(Once(() => nexus.Forward(x).Hidden, backward));
                if (i % 2 == 1) linearRuns.Add(Once(() => linear.Forward(x).Hidden, backward));
            }
            var wall = Ratio(nexusRuns.Select(r => r.WallMs), linearRuns.Select(r => r.WallMs));
            var cpu = Ratio(nexusRuns.Select(r => r.CpuMs), linearRuns.Select(r => r.CpuMs));
            return new Dictionary<string, object>
            {
                [$"moe_linear_{what}_ms"] = Median(linearRuns.Select(r => r.WallMs).ToList()),
                [$"moe_nexus_{what}_ms"] = Median(nexusRuns.Select(r => r.WallMs).ToList()),
                [$"nexus_over_linear_{what}"] = wall.Median,
                [$"nexus_over_linear_{what}_ci95"] = wall.Interval,
                [$"moe_linear_{what}_cpu_ms"] = Median(linearRuns.Select(r => r.CpuMs).ToList()),
                [$"moe_nexus_{what}_cpu_ms"] = Median(nexusRuns.Select(r => r.CpuMs).ToList()),
                [$"nexus_over_linear_{what}_cpu"] = cpu.Median,
                [$"nexus_over_linear_{what}_cpu_ci95"] = cpu.Interval,
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
        // The router A/B runs on its own thread count (default 1): one thread's CPU time is the work done and
        // nothing else, while with several, OpenMP's spin-waiting between ops adds CPU time that varies with load.
        torch.set_num_threads(abThreads);
        var training = Paired("fwd_bwd", backward: true, trainingPairs);
        nexusRouter.Precompute();
        var inference = Paired("inference", backward: false, inferencePairs);

        long[] split;
        using (no_grad()) split = nexus.Forward(x).ExpertIndices.reshape(-1).bincount(null, experts).data<long>().ToArray();
        var result = new Dictionary<string, object>
        {
            ["tokens"] = tokens, ["hidden"] = hidden, ["intermediate"] = intermediate, ["experts"] = experts,
            ["threads"] = threads, ["ab_threads"] = abThreads,
            ["same_routing"] = sameRouting,
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

    /// <summary>
    /// Median of the per-pair ratios a/b, with its distribution-free 95% interval: the order statistics
    /// n/2 ∓ 0.98·√n of the sorted ratios.
    /// </summary>
    private static (double Median, double[] Interval) Ratio(IEnumerable<double> a, IEnumerable<double> b)
    {
        var ratios = a.Zip(b, (x, y) => x / y).Order().ToList();
        var n = ratios.Count;
        var half = 0.98 * Math.Sqrt(n);
        var low = ratios[Math.Max(0, (int)Math.Floor(n / 2.0 - half) - 1)];
        var high = ratios[Math.Min(n - 1, (int)Math.Ceiling(n / 2.0 + half))];
        return (Median(ratios), [low, high]);
    }

    /// <summary>CPU time of the whole process (every thread), in ms, at nanosecond resolution.</summary>
    private static double ProcessCpuMs()
    {
        if (clock_gettime(ProcessCpuTimeClock, out var now) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed.");
        return now.Seconds * 1e3 + now.Nanoseconds / 1e6;
    }

    private const int ProcessCpuTimeClock = 2; // CLOCK_PROCESS_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clock, out TimeSpec time);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
