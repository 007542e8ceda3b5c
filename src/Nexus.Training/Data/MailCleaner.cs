using System.Text;
using System.Text.RegularExpressions;

namespace Nexus.Training.Data;

/// <summary>
/// The human-written text of a raw mail message: headers dropped; MIME parts walked (text/plain preferred,
/// text/html turned into text, attachments and signatures skipped); quoted-printable and base64 decoded;
/// then quoted replies ("&gt; …" and the "… wrote:" line before them), forwarded originals, PGP armour,
/// signatures ("-- ") and mailing-list footers cut.
/// </summary>
public static partial class MailCleaner
{
    public static string Body(string message)
    {
        var (headers, body) = SplitHeaders(message.Replace("\r\n", "\n"));
        return CleanText(PartText(headers, body, depth: 0));
    }

    private static (Dictionary<string, string> Headers, string Body) SplitHeaders(string message)
    {
        var end = message.IndexOf("\n\n", StringComparison.Ordinal);
        var head = end < 0 ? message : message[..end];
        var body = end < 0 ? "" : message[(end + 2)..];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (var line in head.Split('\n'))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && last is not null)
            {
                headers[last] += " " + line.Trim();
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            last = line[..colon].Trim();
            headers[last] = line[(colon + 1)..].Trim();
        }
        return (headers, body);
    }

    /// <summary>The text of one MIME entity (a whole message or a part).</summary>
    private static string PartText(Dictionary<string, string> headers, string body, int depth)
    {
        var contentType = headers.GetValueOrDefault("Content-Type") ?? "text/plain";
        var mediaType = contentType.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType.StartsWith("multipart/", StringComparison.Ordinal) && depth < 5 && Parameter(contentType, "boundary") is { } boundary)
        {
            var parts = SplitMultipart(body, boundary).Select(SplitHeaders).ToList();
            bool IsType(Dictionary<string, string> h, string type) =>
                (h.GetValueOrDefault("Content-Type") ?? "text/plain").Split(';')[0].Trim().Equals(type, StringComparison.OrdinalIgnoreCase);
            var chosen = mediaType == "multipart/alternative" && parts.Any(p => IsType(p.Headers, "text/plain"))
                ? parts.Where(p => IsType(p.Headers, "text/plain")).Take(1)
                : mediaType == "multipart/alternative" ? parts.Take(1) : parts;
            return string.Join("\n\n", chosen.Select(p => PartText(p.Headers, p.Body, depth + 1)).Where(t => t.Length > 0));
        }
        var disposition = headers.GetValueOrDefault("Content-Disposition") ?? "";
        if (disposition.StartsWith("attachment", StringComparison.OrdinalIgnoreCase)) return "";
        if (mediaType is not ("text/plain" or "text/html" or "text")) return "";
        var text = Decode(body, headers.GetValueOrDefault("Content-Transfer-Encoding"), Parameter(contentType, "charset"));
        return mediaType == "text/html" || HtmlText.LooksLikeHtml(text) ? HtmlText.ToText(text) : text;
    }

    private static IEnumerable<string> SplitMultipart(string body, string boundary)
    {
        var delimiter = "--" + boundary;
        var lines = body.Split('\n');
        StringBuilder? part = null;
        foreach (var line in lines)
        {
            var trimmed = line.TrimEnd();
            if (trimmed == delimiter + "--")
            {
                if (part is not null) yield return part.ToString();
                yield break;
            }
            if (trimmed == delimiter)
            {
                if (part is not null) yield return part.ToString();
                part = new StringBuilder();
                continue;
            }
            part?.Append(line).Append('\n');
        }
        if (part is not null) yield return part.ToString();
    }

    private static string Decode(string body, string? transferEncoding, string? charset)
    {
        var encoding = (transferEncoding ?? "").Trim().ToLowerInvariant();
        byte[] bytes;
        if (encoding == "quoted-printable") bytes = QuotedPrintable(body);
        else if (encoding == "base64")
        {
            try
            {
                bytes = Convert.FromBase64String(string.Concat(body.Where(c => !char.IsWhiteSpace(c))));
            }
            catch (FormatException)
            {
                return "";
            }
        }
        else return body;
        return CharsetOf(charset).GetString(bytes);
    }

    private static Encoding CharsetOf(string? charset) =>
        (charset ?? "").Trim('"', ' ').ToLowerInvariant() switch
        {
            "utf-8" or "utf8" => new UTF8Encoding(false, false),
            "us-ascii" or "ascii" => Encoding.ASCII,
            _ => Encoding.Latin1, // iso-8859-1 and windows-1252, the usual charsets of this mail; close enough for the rest
        };

    private static byte[] QuotedPrintable(string body)
    {
        var bytes = new List<byte>(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c == '=' && i + 1 < body.Length && body[i + 1] == '\n')
            {
                i++; // soft line break
                continue;
            }
            if (c == '=' && i + 2 < body.Length && Uri.IsHexDigit(body[i + 1]) && Uri.IsHexDigit(body[i + 2]))
            {
                bytes.Add(Convert.ToByte(body.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            if (c < 256) bytes.Add((byte)c);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return [.. bytes];
    }

    private static string? Parameter(string header, string name)
    {
        var match = Regex.Match(header, $@";\s*{name}\s*=\s*(""(?<v>[^""]*)""|(?<v>[^;\s]+))", RegexOptions.IgnoreCase);
        return match.Success ? match.Groups["v"].Value : null;
    }

    /// <summary>Drops what the writer did not write: quotes, forwarded originals, PGP armour, signatures, list footers.</summary>
    private static string CleanText(string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var kept = new List<string>(lines.Count);
        var inSignatureBlock = false;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            var trimmed = line.Trim();
            if (trimmed == "-----BEGIN PGP SIGNATURE-----") inSignatureBlock = true;
            if (inSignatureBlock)
            {
                if (trimmed == "-----END PGP SIGNATURE-----") inSignatureBlock = false;
                continue;
            }
            if (trimmed == "-----BEGIN PGP SIGNED MESSAGE-----")
            {
                if (i + 1 < lines.Count && lines[i + 1].StartsWith("Hash:", StringComparison.Ordinal)) i++;
                continue;
            }
            if (IsEndOfWriting(lines, i)) break;
            if (IsQuote(trimmed)) continue;
            if (Attribution().IsMatch(trimmed) && NextTextIsQuote(lines, i)) continue;
            kept.Add(line);
        }
        return string.Join('\n', kept);
    }

    /// <summary>A signature ("-- "), a forwarded or quoted original, or a mailing-list footer: nothing after it is the writer's.</summary>
    private static bool IsEndOfWriting(List<string> lines, int index)
    {
        var line = lines[index];
        if (line is "-- " or "--") return true;
        var trimmed = line.Trim();
        if (OriginalMessage().IsMatch(trimmed)) return true;
        if (trimmed.Length >= 20 && trimmed.All(c => c == '_')) return true; // mailman's footer rule
        if (ListFooterRule().IsMatch(trimmed))
        {
            // A dashed rule near the end is a list sponsor's or group's footer; one mid-message is the writer's.
            var rest = lines.Skip(index + 1).Sum(l => l.Length + 1);
            return rest < 1200;
        }
        return false;
    }

    private static bool NextTextIsQuote(List<string> lines, int index)
    {
        for (var j = index + 1; j < lines.Count; j++)
        {
            var next = lines[j].Trim();
            if (next.Length == 0) continue;
            return IsQuote(next);
        }
        return false;
    }

    /// <summary>"&gt; text", and the initials style some mailers use ("GS&gt; text").</summary>
    private static bool IsQuote(string trimmed) => trimmed.StartsWith('>') || InitialsQuote().IsMatch(trimmed);

    [GeneratedRegex(@"^[A-Za-z]{1,3}>")]
    private static partial Regex InitialsQuote();

    [GeneratedRegex(@"\b(wrote|writes|said|says|mentioned|quoth|schrieb|typed|posted)\b[^:]{0,80}:$|^on .{0,200}\b(wrote|writes|said|mentioned)\b|^quoting ", RegexOptions.IgnoreCase)]
    private static partial Regex Attribution();

    [GeneratedRegex(@"^-{3,}\s*(Original Message|Forwarded Message|Forwarded by)\b|^Begin forwarded message:", RegexOptions.IgnoreCase)]
    private static partial Regex OriginalMessage();

    [GeneratedRegex(@"^(-{20,}~?|-{5,}.*(Yahoo! Groups Sponsor|Sponsor).*-*~?)$")]
    private static partial Regex ListFooterRule();
}
