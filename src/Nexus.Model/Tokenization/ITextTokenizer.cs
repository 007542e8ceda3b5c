namespace Nexus.Model.Tokenization;

/// <summary>Turns text into token ids for a model and back.</summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the tokenizer can produce: every id lies in [0, VocabSize).</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, or null when the tokenizer has none.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, or null when the tokenizer has none.</summary>
    int? EosId { get; }

    /// <summary>Encodes <paramref name="text"/>, preceded by <see cref="BosId"/> when <paramref name="addBos"/> is set.</summary>
    /// <exception cref="InvalidOperationException"><paramref name="addBos"/> is set but the tokenizer has no BOS token.</exception>
    int[] Encode(string text, bool addBos = false);

    /// <summary>
    /// Decodes ids to text. Special tokens (BOS, EOS, control tokens) are left out; byte sequences that are not
    /// valid UTF-8 become U+FFFD instead of failing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside [0, VocabSize).</exception>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>
    /// The UTF-8 bytes that <paramref name="id"/> stands for; empty for special tokens. A token may hold only part of
    /// a multi-byte character, which is why streaming output goes through <see cref="StreamingDecoder"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The id lies outside [0, VocabSize).</exception>
    ReadOnlySpan<byte> GetTokenBytes(int id);
}
