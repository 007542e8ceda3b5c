using System.Runtime.InteropServices;
using Nexus.Model.Safetensors;

namespace Nexus.Model.Tests.Safetensors;

public sealed class SafetensorsConversionsTests
{
    [Fact]
    public void EveryBFloat16ValueSurvivesARoundTripThroughSingle()
    {
        for (var bits = 0; bits <= ushort.MaxValue; bits++)
        {
            var value = SafetensorsConversions.BFloat16ToSingle((ushort)bits);
            var back = SafetensorsConversions.SingleToBFloat16(value);
            if (float.IsNaN(value))
            {
                Assert.True(float.IsNaN(SafetensorsConversions.BFloat16ToSingle(back)));
            }
            else
            {
                Assert.Equal((ushort)bits, back);
            }
        }
    }

    [Theory]
    [InlineData(0x3F808000u, (ushort)0x3F80)] // 1 + 2^-8: a tie, the lower neighbour is even
    [InlineData(0x3F818000u, (ushort)0x3F82)] // a tie whose lower neighbour is odd rounds up
    [InlineData(0x3F808001u, (ushort)0x3F81)] // just above the tie
    [InlineData(0x3F807FFFu, (ushort)0x3F80)] // just below the tie
    [InlineData(0xBF818000u, (ushort)0xBF82)] // negative ties round the magnitude the same way
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)] // float.MaxValue overflows to +infinity
    [InlineData(0x7F800000u, (ushort)0x7F80)] // +infinity
    [InlineData(0xFF800000u, (ushort)0xFF80)] // -infinity
    [InlineData(0x80000000u, (ushort)0x8000)] // -0 keeps its sign
    [InlineData(0x00000001u, (ushort)0x0000)] // the smallest subnormal rounds to zero
    public void SingleToBFloat16RoundsToNearestEven(uint singleBits, ushort expected)
    {
        Assert.Equal(expected, SafetensorsConversions.SingleToBFloat16(BitConverter.UInt32BitsToSingle(singleBits)));
    }

    [Theory]
    [InlineData(0x7FC00000u)]
    [InlineData(0xFFC00000u)]
    [InlineData(0x7F800001u)] // payload only in the low half: plain rounding would turn it into infinity
    [InlineData(0x7FFFFFFFu)] // plain rounding would carry into the sign bit
    public void NaNStaysNaN(uint singleBits)
    {
        var bf16 = SafetensorsConversions.SingleToBFloat16(BitConverter.UInt32BitsToSingle(singleBits));
        Assert.Equal(SafetensorsConversions.BFloat16NaN, bf16);
        Assert.True(float.IsNaN(SafetensorsConversions.BFloat16ToSingle(bf16)));
    }

    [Fact]
    public void EveryHalfValueSurvivesARoundTripThroughSingle()
    {
        var halves = new Half[ushort.MaxValue + 1];
        for (var bits = 0; bits <= ushort.MaxValue; bits++)
        {
            halves[bits] = BitConverter.UInt16BitsToHalf((ushort)bits);
        }

        var singles = new float[halves.Length];
        var back = new Half[halves.Length];
        SafetensorsConversions.HalfToSingle(halves, singles);
        SafetensorsConversions.SingleToHalf(singles, back);

        for (var bits = 0; bits <= ushort.MaxValue; bits++)
        {
            if (Half.IsNaN(halves[bits]))
            {
                Assert.True(Half.IsNaN(back[bits]));
            }
            else
            {
                Assert.Equal((ushort)bits, BitConverter.HalfToUInt16Bits(back[bits]));
            }
        }
    }

    [Theory]
    [InlineData(SafetensorsDtype.F32)]
    [InlineData(SafetensorsDtype.F16)]
    [InlineData(SafetensorsDtype.BF16)]
    public void ByteLevelConversionRoundTripsRepresentableValues(SafetensorsDtype dtype)
    {
        float[] values = [0f, -0f, 1f, -2.5f, 0.15625f, 1024f, float.PositiveInfinity, float.NegativeInfinity];
        var bytes = new byte[values.Length * dtype.ElementSize()];
        SafetensorsConversions.FromSingle(dtype, values, bytes);
        var back = new float[values.Length];
        SafetensorsConversions.ToSingle(dtype, bytes, back);
        Assert.Equal(values, back);

        if (dtype == SafetensorsDtype.BF16)
        {
            Assert.Equal((ushort)0x3F80, MemoryMarshal.Cast<byte, ushort>(bytes)[2]);
        }
    }

    [Fact]
    public void ByteLevelConversionRejectsIntegerDtypesAndShortDestinations()
    {
        Assert.Throws<NotSupportedException>(() => SafetensorsConversions.ToSingle(SafetensorsDtype.I32, new byte[4], new float[1]));
        Assert.Throws<ArgumentException>(() => SafetensorsConversions.ToSingle(SafetensorsDtype.F16, new byte[3], new float[2]));
        Assert.Throws<ArgumentException>(() => SafetensorsConversions.ToSingle(SafetensorsDtype.BF16, new byte[8], new float[3]));
        Assert.Throws<ArgumentException>(() => SafetensorsConversions.FromSingle(SafetensorsDtype.F32, new float[2], new byte[4]));
    }

    [Fact]
    public void DtypeStringsAndSizesMatchTheFormat()
    {
        var expected = new Dictionary<SafetensorsDtype, (string Text, int Size)>
        {
            [SafetensorsDtype.F64] = ("F64", 8),
            [SafetensorsDtype.F32] = ("F32", 4),
            [SafetensorsDtype.F16] = ("F16", 2),
            [SafetensorsDtype.BF16] = ("BF16", 2),
            [SafetensorsDtype.I64] = ("I64", 8),
            [SafetensorsDtype.I32] = ("I32", 4),
            [SafetensorsDtype.I16] = ("I16", 2),
            [SafetensorsDtype.I8] = ("I8", 1),
            [SafetensorsDtype.U8] = ("U8", 1),
            [SafetensorsDtype.BOOL] = ("BOOL", 1),
        };
        Assert.Equal(Enum.GetValues<SafetensorsDtype>().Length, expected.Count);
        foreach (var (dtype, (text, size)) in expected)
        {
            Assert.Equal(text, dtype.ToFormatString());
            Assert.Equal(size, dtype.ElementSize());
            Assert.Equal(dtype, SafetensorsDtypeExtensions.ParseFormatString(text));
        }

        Assert.False(SafetensorsDtypeExtensions.TryParseFormatString("bf16", out _));
        Assert.False(SafetensorsDtypeExtensions.TryParseFormatString("1", out _));
        Assert.Throws<FormatException>(() => SafetensorsDtypeExtensions.ParseFormatString("F8_E4M3"));
    }
}
