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
            TokenWindow.Copy(tokens, (int)random.NextInt64(starts + 1), sequenceLength, inputs, targets, b);
        }
        return (tensor(inputs, [batchSize, sequenceLength]), tensor(targets, [batchSize, sequenceLength]));
    }
}

/// <summary>One training window: inputs are tokens[start, start + T), targets the same shifted by one.</summary>
internal static class TokenWindow
{
    public static void Copy(int[] tokens, int start, int length, long[] inputs, long[] targets, int row)
    {
        for (var t = 0; t < length; t++)
        {
            inputs[row * length + t] = tokens[start + t];
            targets[row * length + t] = tokens[start + t + 1];
        }
    }
}
