using Nexus.Model;
using static TorchSharp.torch;

namespace Nexus.Training;

/// <summary>
/// A domain's embedding from the seed model itself (DESIGN.md): the mean final-norm hidden state over a sample
/// of the domain's training tokens, taken as windows spread evenly over the whole stream so that the sample
/// sees every part of the data, and the same tokens every time.
/// </summary>
public static class DomainEmbedder
{
    public static DomainEmbedding Compute(CausalLanguageModel seed, string name, int[] tokens, long sampleTokens,
        int sequenceLength, int batchSize, string? source = null)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("--name must not be empty.");
        if (sampleTokens < 1) throw new ArgumentException($"--sample-tokens must be positive (got {sampleTokens}).");
        if (sequenceLength < 1 || sequenceLength > seed.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--seq-len must be between 1 and the model's max_position_embeddings ({seed.Config.MaxPositionEmbeddings}); got {sequenceLength}.");
        if (batchSize < 1) throw new ArgumentException($"--batch-size must be positive (got {batchSize}).");
        if (tokens.Length < sequenceLength)
            throw new ArgumentException($"Domain '{name}' holds {tokens.Length} tokens, fewer than one window of {sequenceLength}; add data or lower --seq-len.");

        var available = tokens.Length / sequenceLength;
        var windows = (int)Math.Min(available, (sampleTokens + sequenceLength - 1) / sequenceLength);
        var stride = windows > 1 ? (tokens.Length - sequenceLength) / (double)(windows - 1) : 0;
        var starts = Enumerable.Range(0, windows).Select(i => (int)Math.Round(i * stride)).ToArray();

        var wasTraining = seed.training;
        seed.eval();
        try
        {
            using var noGrad = no_grad();
            var sum = zeros(seed.Config.HiddenSize, dtype: float64);
            for (var first = 0; first < windows; first += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = Math.Min(batchSize, windows - first);
                var ids = new long[rows * sequenceLength];
                for (var r = 0; r < rows; r++)
                    for (var t = 0; t < sequenceLength; t++)
                        ids[r * sequenceLength + t] = tokens[starts[first + r] + t];
                var hidden = seed.HiddenStates(tensor(ids, [rows, sequenceLength]));
                sum.add_(hidden.to(float64).sum([0, 1]));
            }
            var count = (long)windows * sequenceLength;
            var mean = (sum / count).to(float32).data<float>().ToArray();
            sum.Dispose();
            return new DomainEmbedding { Name = name, Source = source, Tokens = count, Vector = mean };
        }
        finally
        {
            seed.train(wasTraining);
        }
    }
}
