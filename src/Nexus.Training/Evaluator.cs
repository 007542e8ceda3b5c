using Nexus.Model;
using static TorchSharp.torch;

namespace Nexus.Training;

/// <summary>
/// Mean next-token loss over a token stream; for an MoE also how often each expert was chosen in each layer
/// (<c>Routing[layer][expert]</c>, counting each of a token's k choices once).
/// </summary>
public sealed record EvalResult(double Loss, long Tokens, long[][]? Routing = null)
{
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>Mean next-token cross-entropy over consecutive, non-overlapping windows of a token stream.</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(CausalLanguageModel model, int[] tokens, int sequenceLength, int batchSize, long maxTokens)
    {
        var windows = (int)Math.Min((tokens.Length - 1) / sequenceLength, Math.Max(1, maxTokens / sequenceLength));
        if (windows < 1)
            throw new ArgumentException($"The validation split holds {tokens.Length} tokens, fewer than one window of {sequenceLength + 1}.");
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double lossSum = 0;
            long counted = 0;
            long[][]? routing = null;
            for (var first = 0; first < windows; first += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = Math.Min(batchSize, windows - first);
                var inputs = new long[rows * sequenceLength];
                var targets = new long[rows * sequenceLength];
                for (var r = 0; r < rows; r++)
                    TokenWindow.Copy(tokens, (first + r) * sequenceLength, sequenceLength, inputs, targets, r);
                var output = model.ForwardDetailed(tensor(inputs, [rows, sequenceLength]));
                var logits = output.Logits;
                var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), tensor(targets), reduction: nn.Reduction.Sum);
                lossSum += loss.item<float>();
                counted += rows * sequenceLength;
                if (output.ExpertsPerLayer.Count > 0) Count(ref routing, output.ExpertsPerLayer, model.Config);
            }
            return new EvalResult(lossSum / counted, counted, routing);
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    private static void Count(ref long[][]? routing, IReadOnlyList<Tensor> expertsPerLayer, LlamaConfig config)
    {
        var experts = ((NexusMoeConfig)config).NumExperts;
        routing ??= expertsPerLayer.Select(_ => new long[experts]).ToArray();
        for (var layer = 0; layer < expertsPerLayer.Count; layer++)
        {
            var counts = expertsPerLayer[layer].reshape(-1).bincount(null, experts).data<long>().ToArray();
            for (var e = 0; e < experts; e++) routing[layer][e] += counts[e];
        }
    }
}
