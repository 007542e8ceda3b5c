using System.Diagnostics;
using Nexus.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Bench;

/// <summary>
/// One FFN block's forward+backward time: the dense SwiGLU FFN, the Nexus MoE layer (shared expert +
/// top-1 of 4 by sorted dispatch), and the masked-dense alternative (every expert on every token, then
/// masked), plus Nexus vs linear router at inference with E precomputed.
/// </summary>
public static class MoeStep
{
    public static Dictionary<string, object> Run(BenchArguments arguments)
    {
        int hidden = arguments.GetInt("hidden", 512), intermediate = arguments.GetInt("intermediate", 1536);
        int tokens = arguments.GetInt("tokens", 2048), experts = arguments.GetInt("experts", 4), repeats = arguments.GetInt("repeats", 20);
        torch.set_num_threads(arguments.GetInt("threads", 2));
        NativeAllocator.Configure();
        torch.manual_seed(0);

        var x = randn([tokens, hidden]) * 0.5;
        using var dense = new LlamaMlp(hidden, intermediate);
        var routed = Enumerable.Range(0, experts).Select(_ => new LlamaMlp(hidden, intermediate)).ToList();
        using var linear = new SharedExpertMoe(new LlamaMlp(hidden, intermediate), routed, new LinearRouter(hidden, experts));
        var nexusRouter = new NexusRouter(randn([experts, hidden]), hidden, hidden);
        using var nexus = new SharedExpertMoe(new LlamaMlp(hidden, intermediate), routed, nexusRouter);

        double Time(Func<Tensor> forward, bool backward)
        {
            var samples = new List<double>();
            for (var i = 0; i < repeats + 3; i++)
            {
                using var scope = NewDisposeScope();
                using var grad = backward ? enable_grad() : no_grad();
                var clock = Stopwatch.StartNew();
                var y = forward();
                if (backward) y.pow(2).mean().backward();
                else y.sum().item<float>();
                clock.Stop();
                if (i >= 3) samples.Add(clock.Elapsed.TotalMilliseconds);
            }
            samples.Sort();
            return samples[samples.Count / 2];
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
        var nexusTrainMs = Time(() => nexus.Forward(x).Hidden, backward: true);
        // Inference, alternating the two routers in rounds so that machine drift hits both alike.
        nexusRouter.Precompute();
        var linearRounds = new List<double>();
        var nexusRounds = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            linearRounds.Add(Time(() => linear.Forward(x).Hidden, backward: false));
            nexusRounds.Add(Time(() => nexus.Forward(x).Hidden, backward: false));
        }
        var linearInferMs = linearRounds.Order().ElementAt(2);
        var nexusInferMs = nexusRounds.Order().ElementAt(2);
        return new Dictionary<string, object>
        {
            ["tokens"] = tokens, ["hidden"] = hidden, ["intermediate"] = intermediate, ["experts"] = experts,
            ["dense_fwd_bwd_ms"] = denseMs,
            ["moe_linear_fwd_bwd_ms"] = moeMs,
            ["masked_dense_fwd_bwd_ms"] = maskedMs,
            ["moe_nexus_fwd_bwd_ms"] = nexusTrainMs,
            ["moe_linear_inference_ms"] = linearInferMs,
            ["moe_nexus_inference_ms"] = nexusInferMs,
            ["nexus_over_linear_inference"] = nexusInferMs / linearInferMs,
            ["moe_over_dense_fwd_bwd"] = moeMs / denseMs,
            ["masked_over_moe_fwd_bwd"] = maskedMs / moeMs,
        };
    }
}
