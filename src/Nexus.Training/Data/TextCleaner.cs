using System.Security.Cryptography;
using System.Text;

namespace Nexus.Training.Data;

/// <summary>
/// The cleaning every document gets, whatever its source: newlines normalised to \n, control characters
/// (other than tab and newline) and byte-order marks removed, trailing spaces cut, runs of blank lines
/// collapsed to one, and the whole trimmed. Pure functions of the text.
/// </summary>
public static class TextCleaner
{
    public static string Normalize(string text)
    {
        var lines = text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        var builder = new StringBuilder(text.Length);
        var blank = 0;
        foreach (var raw in lines)
        {
            var line = RemoveControlCharacters(raw).TrimEnd();
            if (line.Length == 0)
            {
                blank++;
                continue;
            }
            if (builder.Length > 0) builder.Append(blank > 0 ? "\n\n" : "\n");
            builder.Append(line);
            blank = 0;
        }
        return builder.ToString();
    }

    /// <summary>
    /// Cuts <paramref name="text"/> to at most <paramref name="maxChars"/> characters, at the last line break
    /// (or else sentence end, or else space) in the second half of the limit, never inside a surrogate pair.
    /// </summary>
    public static string Truncate(string text, int maxChars)
    {
        if (text.Length <= maxChars) return text;
        var head = text[..maxChars];
        if (char.IsHighSurrogate(head[^1])) head = head[..^1];
        foreach (var boundary in new[] { "\n", ". ", " " })
        {
            var at = head.LastIndexOf(boundary, StringComparison.Ordinal);
            if (at >= maxChars / 2) return head[..(at + boundary.TrimEnd().Length)].TrimEnd();
        }
        return head;
    }

    /// <summary>
    /// The identity of a document for de-duplication and splitting: the SHA-256 (hex) of its text with
    /// every run of whitespace made one space, so documents that differ only in spacing are one document.
    /// </summary>
    public static string ContentKey(string text)
    {
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                space = builder.Length > 0;
                continue;
            }
            if (space) builder.Append(' ');
            builder.Append(c);
            space = false;
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(builder.ToString())));
    }

    private static string RemoveControlCharacters(string line)
    {
        if (!line.Any(IsRemoved)) return line;
        var builder = new StringBuilder(line.Length);
        foreach (var c in line)
            if (!IsRemoved(c)) builder.Append(c);
        return builder.ToString();
    }

    private static bool IsRemoved(char c) => c == '\uFEFF' || (char.IsControl(c) && c != '\t');
}
