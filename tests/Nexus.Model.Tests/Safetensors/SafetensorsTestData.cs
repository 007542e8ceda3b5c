using Nexus.Model.Safetensors;

namespace Nexus.Model.Tests.Safetensors;

internal static class SafetensorsTestData
{
    /// <summary>Deterministic pseudo-random bytes so failures reproduce.</summary>
    public static byte[] Bytes(long length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static (TensorSpec Spec, ReadOnlyMemory<byte> Bytes) Tensor(
        string name, SafetensorsDtype dtype, long[] shape, int seed)
    {
        var spec = new TensorSpec(name, dtype, shape);
        return (spec, Bytes(spec.ByteLength, seed));
    }
}
