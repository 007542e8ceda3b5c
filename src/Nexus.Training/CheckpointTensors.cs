using System.Runtime.InteropServices;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training;

/// <summary>
/// The pieces every streaming checkpoint rewrite (upcycle, extend, remove) needs: a tensor looked up by
/// name with its shape checked, read as floats or written from them in a given dtype, the architecture
/// that two checkpoints must share to be merged, and the seeded N(0, σ) router initialisation.
/// </summary>
internal static class CheckpointTensors
{
    /// <summary>The tensor's entry; fails naming the checkpoint when it is absent or of another shape.</summary>
    public static TensorEntry Entry(SafetensorsCheckpoint checkpoint, string name, long[] shape)
    {
        if (!checkpoint.Contains(name)) throw new InvalidDataException($"{checkpoint.Path} has no tensor {name}.");
        var entry = checkpoint.Entry(name);
        if (!entry.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{checkpoint.Path}: {name} has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", shape)}].");
        return entry;
    }

    public static float[] ReadFloats(SafetensorsCheckpoint checkpoint, string name, long[] shape)
    {
        var entry = Entry(checkpoint, name, shape);
        var values = new float[entry.ElementCount];
        SafetensorsConversions.ToSingle(entry.Dtype, checkpoint.GetBytes(name), values);
        return values;
    }

    /// <summary>Encodes <paramref name="values"/> in the tensor's dtype and writes them (F32 without a copy).</summary>
    public static void WriteFloats(SafetensorsWriter writer, TensorSpec spec, ReadOnlySpan<float> values)
    {
        if (spec.Dtype == SafetensorsDtype.F32)
        {
            writer.WriteTensor(spec.Name, MemoryMarshal.AsBytes(values));
            return;
        }
        var bytes = new byte[spec.ByteLength];
        SafetensorsConversions.FromSingle(spec.Dtype, values, bytes);
        writer.WriteTensor(spec.Name, bytes);
    }

    /// <summary>What two checkpoints must agree on for their tensors to be mixed.</summary>
    public static string ArchitectureOf(LlamaConfig c) =>
        $"vocab {c.VocabSize}, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}, layers {c.NumHiddenLayers}, " +
        $"heads {c.NumAttentionHeads}/{c.NumKeyValueHeads}, head_dim {c.HeadDim}, tied {c.TieWordEmbeddings}, rope_theta {c.RopeTheta}";

    /// <summary>N(0, <paramref name="std"/>) values from a stream that is a pure function of (key, seed).</summary>
    public static void FillGaussian(Span<float> values, string key, long seed, double std = 0.02)
    {
        var random = new DeterministicRandom(StableHash(key) ^ (ulong)seed);
        for (var i = 0; i < values.Length; i++) values[i] = (float)(std * Gaussian(random.NextUInt64(), random.NextUInt64()));
    }

    public static ulong StableHash(string text)
    {
        var hash = 14695981039346656037UL; // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (var c in text) hash = (hash ^ c) * 1099511628211UL;
        return hash;
    }

    /// <summary>A standard normal value by Box–Muller (the cosine branch) from two uniform draws.</summary>
    public static double Gaussian(ulong first, ulong second)
    {
        var u1 = (first >> 11) * (1.0 / (1UL << 53));
        var u2 = (second >> 11) * (1.0 / (1UL << 53));
        return Math.Sqrt(-2 * Math.Log(1 - u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
