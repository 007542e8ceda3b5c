namespace Nexus.Model.Safetensors;

/// <summary>Element types of the safetensors format that this project reads and writes.</summary>
public enum SafetensorsDtype
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}

public static class SafetensorsDtypeExtensions
{
    /// <summary>Bytes per element; BOOL is stored as one byte per element like the reference implementation.</summary>
    public static int ElementSize(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F64 or SafetensorsDtype.I64 => 8,
        SafetensorsDtype.F32 or SafetensorsDtype.I32 => 4,
        SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.I16 => 2,
        SafetensorsDtype.I8 or SafetensorsDtype.U8 or SafetensorsDtype.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>The dtype's spelling in a safetensors header ("F32", "BF16", ...).</summary>
    public static string ToFormatString(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.F64 => "F64",
        SafetensorsDtype.F32 => "F32",
        SafetensorsDtype.F16 => "F16",
        SafetensorsDtype.BF16 => "BF16",
        SafetensorsDtype.I64 => "I64",
        SafetensorsDtype.I32 => "I32",
        SafetensorsDtype.I16 => "I16",
        SafetensorsDtype.I8 => "I8",
        SafetensorsDtype.U8 => "U8",
        SafetensorsDtype.BOOL => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>
    /// Parses a header dtype string. Matching is exact (case-sensitive) because the format defines exact spellings
    /// and Enum.TryParse would also accept numbers and other casings.
    /// </summary>
    public static bool TryParseFormatString(string text, out SafetensorsDtype dtype)
    {
        foreach (var candidate in Enum.GetValues<SafetensorsDtype>())
        {
            if (string.Equals(candidate.ToFormatString(), text, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }

        dtype = default;
        return false;
    }

    public static SafetensorsDtype ParseFormatString(string text) =>
        TryParseFormatString(text, out var dtype)
            ? dtype
            : throw new FormatException($"'{text}' is not a supported safetensors dtype.");
}
