using Nexus.Model;
using static TorchSharp.torch;

namespace Nexus.Training;

public sealed record EvalResult(double Loss, long Tokens)
{
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>Mean next-token cross-entropy over consecutive, non-overlapping windows of a token stream.</summary>
public static class Evaluator
{
    public static EvalResult Evaluate(LlamaForCausalLM model, int[] tokens, int sequenceLength, int batchSize, long maxTokens)
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
            for (var first = 0; first < windows; first += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = Math.Min(batchSize, windows - first);
                var inputs = new long[rows * sequenceLength];
                var targets = new long[rows * sequenceLength];
                for (var r = 0; r < rows; r++)
                {
                    var start = (first + r) * sequenceLength;
                    for (var t = 0; t < sequenceLength; t++)
                    {
                        inputs[r * sequenceLength + t] = tokens[start + t];
                        targets[r * sequenceLength + t] = tokens[start + t + 1];
                    }
                }
                var logits = model.Forward(tensor(inputs, [rows, sequenceLength]));
                var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), tensor(targets), reduction: nn.Reduction.Sum);
                lossSum += loss.item<float>();
                counted += rows * sequenceLength;
            }
            return new EvalResult(lossSum / counted, counted);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
