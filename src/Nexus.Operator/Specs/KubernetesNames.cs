using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Nexus.Operator.Specs;

/// <summary>
/// Object names and label values derived from user-chosen names. User names are DNS subdomains of up to 253
/// characters; Job names, label values and Service names must be at most 63. A name that does not fit is truncated and
/// given a short hash of the whole, so it stays deterministic (a restarted operator finds what it created) and two long
/// names sharing a prefix do not collide.
/// </summary>
public static partial class KubernetesNames
{
    public const int MaxLength = 63;

    /// <summary>Hex characters of SHA-256 appended to a shortened name.</summary>
    public const int HashLength = 8;

    /// <summary>Lowercase hex SHA-256 of <paramref name="text"/>, cut to <see cref="HashLength"/>.</summary>
    public static string ShortHash(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..HashLength];

    /// <summary>True when <paramref name="name"/> is an RFC 1123 label: lowercase alphanumerics and '-', 63 at most.</summary>
    public static bool IsDns1123Label(string name) => name.Length <= MaxLength && Dns1123Label().IsMatch(name);

    /// <summary>True when <paramref name="name"/> is an RFC 1035 label (a Service name): a 1123 label starting with a letter.</summary>
    public static bool IsDns1035Label(string name) => name.Length <= MaxLength && Dns1035Label().IsMatch(name);

    /// <summary>
    /// <paramref name="prefix"/>-<paramref name="suffix"/> as an RFC 1123 label. When that is too long or not a label
    /// (a name with dots), the prefix is cut and the hash of the whole candidate goes between the two, so the suffix
    /// (the step, the generation) stays readable: <c>very-long-na-3f2a9c1b-train-g3</c>.
    /// </summary>
    public static string Label(string prefix, string suffix)
    {
        var candidate = $"{prefix}-{suffix}";
        if (IsDns1123Label(candidate))
        {
            return candidate;
        }

        var hash = ShortHash(candidate);
        var room = MaxLength - suffix.Length - hash.Length - 2;
        if (room < 1 || !IsDns1123Label(Sanitize(suffix)))
        {
            return Truncated(Sanitize(candidate), hash);
        }

        var head = Sanitize(prefix);
        head = head[..Math.Min(head.Length, room)].Trim('-');
        return head.Length == 0 ? $"{hash}-{Sanitize(suffix)}" : $"{head}-{hash}-{Sanitize(suffix)}";
    }

    /// <summary>A label value for <paramref name="name"/> (an object name): itself when it has at most 63 characters,
    /// else its first characters and a hash of the whole.</summary>
    public static string LabelValue(string name) =>
        name.Length <= MaxLength ? name : Truncated(name, ShortHash(name), trim: "-_.");

    /// <summary>
    /// An RFC 1035 label (Services need one) for <paramref name="name"/>: itself when it is one, else a sanitized,
    /// shortened form with a hash of the original, starting with a letter.
    /// </summary>
    public static string Dns1035Label(string name)
    {
        if (IsDns1035Label(name))
        {
            return name;
        }

        var sanitized = Sanitize(name);
        if (sanitized.Length == 0 || !char.IsAsciiLetterLower(sanitized[0]))
        {
            sanitized = "m-" + sanitized;
        }

        return Truncated(sanitized, ShortHash(name));
    }

    /// <summary>Lowercase, every character outside [a-z0-9-] replaced by '-', no '-' at either end.</summary>
    private static string Sanitize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var character in text.ToLowerInvariant())
        {
            builder.Append(char.IsAsciiLetterLower(character) || char.IsAsciiDigit(character) ? character : '-');
        }

        return builder.ToString().Trim('-');
    }

    private static string Truncated(string text, string hash, string trim = "-")
    {
        var head = text[..Math.Min(text.Length, MaxLength - hash.Length - 1)].Trim(trim.ToCharArray());
        return head.Length == 0 ? hash : $"{head}-{hash}";
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1123Label();

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1035Label();
}
