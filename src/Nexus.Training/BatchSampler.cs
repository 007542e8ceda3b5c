using static TorchSharp.torch;

namespace Nexus.Training;

/// <summary>The batches of a run: a pure function of (step, micro-batch), so a resumed run sees the same data.</summary>
public interface ITrainingBatches
{
    (Tensor Inputs, Tensor Targets) Batch(long step, int microBatch);
}

/// <summary>Random windows of <c>sequenceLength + 1</c> tokens; inputs are the first T, targets the last T.</summary>
public sealed class BatchSampler : ITrainingBatches
{
    private readonly int[] tokens;
    private readonly int batchSize;
    private readonly int sequenceLength;
    private readonly long seed;

    public BatchSampler(int[] tokens, int batchSize, int sequenceLength, long seed)
    {
        if (tokens.Length < sequenceLength + 2)
            throw new ArgumentException(
                $"The training split holds {tokens.Length} tokens, fewer than one window of {sequenceLength + 1}; add data or lower --seq-len.");
        this.tokens = tokens;
        this.batchSize = batchSize;
        this.sequenceLength = sequenceLength;
        this.seed = seed;
    }

    public (Tensor Inputs, Tensor Targets) Batch(long step, int microBatch)
    {
        var random = DeterministicRandom.For(seed, step, microBatch);
        var inputs = new long[batchSize * sequenceLength];
        var targets = new long[batchSize * sequenceLength];
        var starts = tokens.Length - sequenceLength - 1;
        for (var b = 0; b < batchSize; b++)
        {
            var start = (int)random.NextInt64(starts + 1);
            for (var t = 0; t < sequenceLength; t++)
            {
                inputs[b * sequenceLength + t] = tokens[start + t];
                targets[b * sequenceLength + t] = tokens[start + t + 1];
            }
        }
        return (tensor(inputs, [batchSize, sequenceLength]), tensor(targets, [batchSize, sequenceLength]));
    }
}
