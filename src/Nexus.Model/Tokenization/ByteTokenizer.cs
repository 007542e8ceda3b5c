using System.Text;

namespace Nexus.Model.Tokenization;

/// <summary>
/// Tokenizer without a vocabulary file: ids 0..255 are the UTF-8 bytes of the text, 256 is BOS and 257 is EOS.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public const int Bos = 256;
    public const int Eos = 257;

    private static readonly UTF8Encoding LenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private static readonly byte[] AllBytes = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();

    public int VocabSize => 258;
    public int? BosId => Bos;
    public int? EosId => Eos;

    public int[] Encode(string text, bool addBos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var offset = addBos ? 1 : 0;
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[offset + bytes.Length];
        if (addBos) ids[0] = Bos;
        for (var i = 0; i < bytes.Length; i++) ids[offset + i] = bytes[i];
        return ids;
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        var count = 0;
        foreach (var id in ids)
        {
            CheckRange(id);
            if (id < 256) bytes[count++] = (byte)id;
        }
        return LenientUtf8.GetString(bytes, 0, count);
    }

    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        CheckRange(id);
        return id < 256 ? AllBytes.AsSpan(id, 1) : ReadOnlySpan<byte>.Empty;
    }

    private void CheckRange(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the byte tokenizer's vocabulary [0, {VocabSize}).");
    }
}
