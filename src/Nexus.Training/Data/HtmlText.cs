using System.Net;
using System.Text.RegularExpressions;

namespace Nexus.Training.Data;

/// <summary>The readable text of an HTML fragment: scripts, styles and comments dropped, block ends as line breaks, entities decoded.</summary>
public static partial class HtmlText
{
    /// <summary>Whether the text is obviously HTML (a mail part without a content type, say).</summary>
    public static bool LooksLikeHtml(string text) => HtmlStart().IsMatch(text);

    public static string ToText(string html)
    {
        var text = Hidden().Replace(html, " ");
        text = BlockEnd().Replace(text, "\n");
        text = Tag().Replace(text, "");
        text = WebUtility.HtmlDecode(text).Replace('\u00A0', ' ');
        var lines = text.Split('\n').Select(line => Spaces().Replace(line, " ").Trim());
        return string.Join('\n', lines);
    }

    [GeneratedRegex(@"^\s*(<!DOCTYPE\s+html|<html[\s>]|<head[\s>]|<body[\s>])|<(body|table|font|p|div)[\s>][\s\S]*</(body|html|table|font|p|div)>", RegexOptions.IgnoreCase)]
    private static partial Regex HtmlStart();

    [GeneratedRegex(@"<!--[\s\S]*?-->|<(script|style|head|title)[\s>][\s\S]*?</\1\s*>", RegexOptions.IgnoreCase)]
    private static partial Regex Hidden();

    [GeneratedRegex(@"<br\b[^>]*>|</(p|div|tr|li|h[1-6]|table|blockquote|pre)\s*>|<(p|li|tr|div)\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex BlockEnd();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"[ \t]+")]
    private static partial Regex Spaces();
}
