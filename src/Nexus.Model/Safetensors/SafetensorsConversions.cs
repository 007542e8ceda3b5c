using System.Runtime.InteropServices;

namespace Nexus.Model.Safetensors;

/// <summary>
/// Element conversions between the half-precision formats and float. BF16 values are carried as their raw ushort
/// bits because the BCL has no bfloat16 type. Byte overloads assume a little-endian host, like the file format.
/// </summary>
public static class SafetensorsConversions
{
    /// <summary>The bits PyTorch produces for any NaN (a positive quiet NaN).</summary>
    public const ushort BFloat16NaN = 0x7FC0;

    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Rounds to nearest, ties to even, matching c10::BFloat16 in PyTorch.</summary>
    public static ushort SingleToBFloat16(float value)
    {
        if (float.IsNaN(value))
        {
            return BFloat16NaN;
        }

        var bits = BitConverter.SingleToUInt32Bits(value);
        var roundingBias = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static void BFloat16ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        EnsureFits(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = BFloat16ToSingle(source[i]);
        }
    }

    public static void SingleToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        EnsureFits(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = SingleToBFloat16(source[i]);
        }
    }

    public static void HalfToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        EnsureFits(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = (float)source[i];
        }
    }

    /// <summary>Rounds to nearest even, as System.Half does; values beyond the F16 range become infinities.</summary>
    public static void SingleToHalf(ReadOnlySpan<float> source, Span<Half> destination)
    {
        EnsureFits(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = (Half)source[i];
        }
    }

    /// <summary>Decodes raw tensor bytes of a floating dtype (F32, F16, BF16) into floats.</summary>
    public static void ToSingle(SafetensorsDtype dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        EnsureWholeElements(dtype, source.Length);
        switch (dtype)
        {
            case SafetensorsDtype.F32:
                var floats = MemoryMarshal.Cast<byte, float>(source);
                EnsureFits(floats.Length, destination.Length);
                floats.CopyTo(destination);
                break;
            case SafetensorsDtype.F16:
                HalfToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case SafetensorsDtype.BF16:
                BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), destination);
                break;
            default:
                throw new NotSupportedException($"Conversion from {dtype.ToFormatString()} to F32 is not supported.");
        }
    }

    /// <summary>Encodes floats as raw tensor bytes of a floating dtype (F32, F16, BF16).</summary>
    public static void FromSingle(SafetensorsDtype dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        EnsureWholeElements(dtype, destination.Length);
        switch (dtype)
        {
            case SafetensorsDtype.F32:
                var floats = MemoryMarshal.Cast<byte, float>(destination);
                EnsureFits(source.Length, floats.Length);
                source.CopyTo(floats);
                break;
            case SafetensorsDtype.F16:
                SingleToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                break;
            case SafetensorsDtype.BF16:
                SingleToBFloat16(source, MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            default:
                throw new NotSupportedException($"Conversion from F32 to {dtype.ToFormatString()} is not supported.");
        }
    }

    private static void EnsureFits(int sourceLength, int destinationLength)
    {
        if (destinationLength < sourceLength)
        {
            throw new ArgumentException(
                $"The destination holds {destinationLength} elements but the source has {sourceLength}.", "destination");
        }
    }

    private static void EnsureWholeElements(SafetensorsDtype dtype, int byteLength)
    {
        if (byteLength % dtype.ElementSize() != 0)
        {
            throw new ArgumentException(
                $"{byteLength} bytes is not a whole number of {dtype.ToFormatString()} elements.");
        }
    }
}
