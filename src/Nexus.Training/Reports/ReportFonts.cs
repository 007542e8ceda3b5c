using System.Text;
using SkiaSharp;

namespace Nexus.Training.Reports;

/// <summary>
/// DejaVu Sans, regular and bold, carried inside this assembly so that report images have readable text on a
/// machine without any font installed (a slim container, say) and look the same everywhere. The files are
/// cut to Latin, Greek, Cyrillic and common punctuation by scripts/subset-report-fonts.sh; text needing
/// other characters falls back to an installed font where one has them (see <see cref="Fit"/>).
/// </summary>
internal static class ReportFonts
{
    private static readonly Lazy<SKTypeface> RegularFont = new(() => Load("DejaVuSans.ttf"));
    private static readonly Lazy<SKTypeface> BoldFont = new(() => Load("DejaVuSans-Bold.ttf"));

    public static SKTypeface Regular => RegularFont.Value;
    public static SKTypeface Bold => BoldFont.Value;

    /// <summary>
    /// The typeface to draw all of <paramref name="texts"/> with, and the texts to draw. The embedded font
    /// when it has every glyph; otherwise an installed font that has the first missing one, if it misses
    /// fewer (ScottPlot draws a label in one typeface, so one choice serves them all). Characters the chosen
    /// typeface still lacks become U+FFFD, so that a reader sees that something is missing.
    /// </summary>
    public static (SKTypeface Typeface, string[] Texts) Fit(bool bold, IReadOnlyList<string> texts)
    {
        var typeface = bold ? Bold : Regular;
        var codePoints = texts.SelectMany(text => text.EnumerateRunes()).Select(rune => rune.Value).Distinct().ToList();
        var missing = codePoints.Where(codePoint => !typeface.ContainsGlyph(codePoint)).ToList();
        if (missing.Count == 0)
            return (typeface, texts.ToArray());

        var installed = SKFontManager.Default.MatchCharacter(null, bold ? SKFontStyle.Bold : SKFontStyle.Normal, null, missing[0]);
        if (installed is not null && codePoints.Count(codePoint => !installed.ContainsGlyph(codePoint)) < missing.Count)
            typeface = installed;
        var chosen = typeface;
        return (typeface, texts.Select(text => string.Concat(text.EnumerateRunes()
            .Select(rune => chosen.ContainsGlyph(rune.Value) ? rune : Rune.ReplacementChar))).ToArray());
    }

    private static SKTypeface Load(string fileName)
    {
        var name = $"Nexus.Training.Reports.Fonts.{fileName}";
        using var stream = typeof(ReportFonts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded font {name} is missing from {typeof(ReportFonts).Assembly.GetName().Name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        // From a copy of the bytes: a typeface made from a stream reads it lazily, after this method returns.
        using var data = SKData.CreateCopy(copy.ToArray());
        return SKTypeface.FromData(data)
            ?? throw new InvalidOperationException($"Embedded font {name} could not be read by SkiaSharp.");
    }
}
