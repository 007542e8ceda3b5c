namespace Nexus.Training;

/// <summary>
/// SplitMix64: a tiny, fast generator whose stream is a pure function of its seed. Batches are drawn
/// from a generator seeded by (run seed, step, micro-batch), so a resumed run draws exactly the
/// batches the uninterrupted run would have, with no sampler state to checkpoint.
/// </summary>
public struct DeterministicRandom(ulong seed)
{
    private ulong state = seed;

    public static DeterministicRandom For(long seed, long step, int microBatch) =>
        new(Mix(Mix(Mix((ulong)seed) ^ (ulong)step) ^ (ulong)microBatch));

    public ulong NextUInt64()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>Uniform in [0, exclusiveMax).</summary>
    public long NextInt64(long exclusiveMax)
    {
        if (exclusiveMax <= 0) throw new ArgumentOutOfRangeException(nameof(exclusiveMax));
        return (long)(NextUInt64() % (ulong)exclusiveMax);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
