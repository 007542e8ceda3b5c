using System.Buffers.Binary;
using Nexus.Training.Reports;
using SkiaSharp;

namespace Nexus.Training.Tests.Reports;

public sealed class HeatMapTests : IDisposable
{
    private static readonly string[] Domains = ["code", "legal", "news"];
    private static readonly string[] Experts = ["e0", "e1", "e2", "e3"];
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    // Row 0 routes everything to e0, row 1 nothing anywhere but e3, row 2 is even.
    private static double[,] Shares() => new double[,]
    {
        { 1.0, 0.0, 0.0, 0.0 },
        { 0.0, 0.0, 0.0, 1.0 },
        { 0.25, 0.25, 0.25, 0.25 },
    };

    private string Save(double[,]? values = null, string name = "routing.png")
    {
        var path = Path.Combine(temp.Path, name);
        HeatMap.Save(path, "Routing, mean over layers", Domains, Experts, values ?? Shares());
        return path;
    }

    [Fact]
    public void WritesAPngOfTheSizeItsLayoutGives()
    {
        var bytes = File.ReadAllBytes(Save());

        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        var layout = HeatMap.Layout("Routing, mean over layers", Domains, Experts);
        Assert.Equal(layout.Width, (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(layout.Height, (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(20)));
        Assert.True(layout.GridLeft + Experts.Length * layout.CellWidth < layout.Width);
        Assert.True(layout.GridTop + Domains.Length * layout.CellHeight < layout.Height);
    }

    [Fact]
    public void EachRowOrColumnAddsExactlyOneCell()
    {
        string[] Labels(int n) => Enumerable.Range(0, n).Select(i => $"e{i}").ToArray();
        var baseLayout = HeatMap.Layout("t", Labels(4), Labels(6));
        var wider = HeatMap.Layout("t", Labels(4), Labels(7));
        var taller = HeatMap.Layout("t", Labels(5), Labels(6));

        Assert.True(baseLayout.CellWidth >= HeatMap.MinCellWidth && baseLayout.CellHeight >= HeatMap.MinCellHeight);
        Assert.Equal(baseLayout.Width + baseLayout.CellWidth, wider.Width);
        Assert.Equal(baseLayout.Height, wider.Height);
        Assert.Equal(baseLayout.Height + baseLayout.CellHeight, taller.Height);
        Assert.Equal(baseLayout.Width, taller.Width);
    }

    [Fact]
    public void LongColumnLabelsTurnVerticalAndTheirLengthIsReserved()
    {
        var shortLabels = HeatMap.Layout("t", Domains, Experts);
        var longLabels = HeatMap.Layout("t", Domains, ["a-very-long-expert-name", "e1", "e2", "e3"]);

        Assert.False(shortLabels.ColumnLabelsVertical);
        Assert.True(longLabels.ColumnLabelsVertical);
        Assert.Equal(shortLabels.CellWidth, longLabels.CellWidth);
        Assert.True(longLabels.Height - shortLabels.Height > 100, $"{longLabels.Height} vs {shortLabels.Height}");
    }

    [Fact]
    public void HighSharesAreBrightAndLowSharesDarkRowsTopToBottom()
    {
        var layout = HeatMap.Layout("Routing, mean over layers", Domains, Experts);
        using var image = SKBitmap.Decode(Save());

        // Sampled near a cell's corner, away from its printed value.
        SKColor Cell(int row, int column) =>
            image.GetPixel(layout.GridLeft + column * layout.CellWidth + 4, layout.GridTop + row * layout.CellHeight + 4);
        var full = Cell(0, 0);
        var empty = Cell(0, 1);
        var quarter = Cell(2, 0);

        Assert.Equal(full, Cell(1, 3));
        Assert.Equal(empty, Cell(1, 0));
        Assert.True(Luminance(full) > Luminance(quarter) + 40 && Luminance(quarter) > Luminance(empty) + 20,
            $"full {full}, quarter {quarter}, empty {empty}");
        Assert.True(full.Red > 200 && full.Green > 200 && full.Blue < 100, $"1.0 is Viridis yellow, got {full}");
        Assert.True(empty.Blue > empty.Green && empty.Red > empty.Green, $"0.0 is Viridis purple, got {empty}");
        Assert.Equal(Cell(2, 0), Cell(2, 3));
    }

    [Fact]
    public void TheColourScaleIsFixedToZeroOneNotStretchedToTheData()
    {
        var layout = HeatMap.Layout("Routing, mean over layers", Domains, Experts);
        using var full = SKBitmap.Decode(Save());
        var even = new double[3, 4];
        for (var r = 0; r < 3; r++)
        for (var c = 0; c < 4; c++)
            even[r, c] = c == 0 ? 0.25 : 0.2;
        using var narrow = SKBitmap.Decode(Save(even, "even.png"));

        var (x, y) = (layout.GridLeft + 4, layout.GridTop + 2 * layout.CellHeight + 4);
        Assert.Equal(full.GetPixel(x, y), narrow.GetPixel(x, y));
    }

    [Fact]
    public void PrintedValuesContrastWithTheirCell()
    {
        var layout = HeatMap.Layout("Routing, mean over layers", Domains, Experts);
        using var image = SKBitmap.Decode(Save());

        IEnumerable<double> Inside(int row, int column)
        {
            var (x, y) = layout.CellCenter(row, column);
            for (var dx = -layout.CellWidth / 3; dx <= layout.CellWidth / 3; dx++)
            for (var dy = -layout.CellHeight / 4; dy <= layout.CellHeight / 4; dy++)
                yield return Luminance(image.GetPixel(x + dx, y + dy));
        }

        Assert.True(Inside(0, 0).Min() < 60, "dark text on the bright cell");
        Assert.True(Inside(0, 1).Max() > 200, "light text on the dark cell");
    }

    [Fact]
    public void TitleAndLabelsAreDrawn()
    {
        var layout = HeatMap.Layout("Routing, mean over layers", Domains, Experts);
        using var image = SKBitmap.Decode(Save());

        int DarkPixels(int left, int top, int right, int bottom)
        {
            var count = 0;
            for (var x = left; x < right; x++)
            for (var y = top; y < bottom; y++)
                if (Luminance(image.GetPixel(x, y)) < 100) count++;
            return count;
        }

        var gridRight = layout.GridLeft + Experts.Length * layout.CellWidth;
        var gridBottom = layout.GridTop + Domains.Length * layout.CellHeight;
        Assert.True(DarkPixels(layout.GridLeft, 0, gridRight, layout.GridTop - 2) > 200, "title");
        Assert.True(DarkPixels(0, layout.GridTop, layout.GridLeft - 6, gridBottom) > 100, "row labels");
        Assert.True(DarkPixels(layout.GridLeft, gridBottom + 6, gridRight, layout.Height) > 100, "column labels");
    }

    [Fact]
    public void AnExistingFileIsReplacedWholeAndNoTempFileIsLeft()
    {
        var path = Path.Combine(temp.Path, "routing.png");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)'x', 4 << 20).ToArray());
        using var oldFile = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        Save();

        // Renamed over, not rewritten in place: a reader that had the old file open still reads it whole.
        Assert.Equal(4 << 20, oldFile.Length);
        Assert.Equal((byte)'x', (byte)oldFile.ReadByte());
        Assert.Equal([path], Directory.GetFileSystemEntries(temp.Path));
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length < 1 << 20, $"{bytes.Length} bytes: the old file's tail survived");
        using var image = SKBitmap.Decode(bytes);
        Assert.NotNull(image);
    }

    [Fact]
    public void InvalidInputLeavesTheExistingFileAlone()
    {
        var path = Save();
        var before = File.ReadAllBytes(path);
        var bad = Shares();
        bad[1, 2] = double.NaN;

        Assert.Throws<ArgumentException>(() => Save(bad));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(temp.Path));
    }

    [Fact]
    public void ACharacterNoFontHasIsDrawnAsAReplacementNotAnError()
    {
        var path = Path.Combine(temp.Path, "cjk.png");
        HeatMap.Save(path, "路由", ["日本語", "русский"], ["e0"], new double[,] { { 0.5 }, { 0.5 } });
        using var image = SKBitmap.Decode(path);
        Assert.NotNull(image);
    }

    [Fact]
    public void SharesPrintAsPercentagesWithOneDecimal()
    {
        Assert.Equal("0.0%", HeatMap.FormatShare(0));
        Assert.Equal("0.1%", HeatMap.FormatShare(0.001));
        Assert.Equal("37.5%", HeatMap.FormatShare(0.375));
        Assert.Equal("100.0%", HeatMap.FormatShare(1));
    }

    public static TheoryData<string, string[], string[], double[,], string, string[]> InvalidInputs => new()
    {
        { "row labels", ["a", "b"], ["e0", "e1"], new double[3, 2], "rowLabels", ["3 rows", "2 row labels"] },
        { "column labels", ["a", "b"], ["e0"], new double[2, 2], "columnLabels", ["2 columns", "1 column label;"] },
        { "no rows", [], ["e0"], new double[0, 1], "values", ["empty", "0 × 1"] },
        { "no columns", ["a"], [], new double[1, 0], "values", ["empty", "1 × 0"] },
        { "NaN", ["a", "b"], ["e0"], new[,] { { 0.5 }, { double.NaN } }, "values", ["[1, 0]", "NaN"] },
        { "above one", ["a"], ["e0", "e1"], new[,] { { 0.5, 1.5 } }, "values", ["[0, 1]", "1.5", "outside [0, 1]"] },
        { "percentages", ["a"], ["e0"], new[,] { { 37.5 } }, "values", ["37.5", "not percentages"] },
        { "negative", ["a"], ["e0"], new[,] { { -0.01 } }, "values", ["-0.01", "outside [0, 1]"] },
        { "infinite", ["a"], ["e0"], new[,] { { double.PositiveInfinity } }, "values", ["Infinity", "outside [0, 1]"] },
        { "null label", ["a", null!], ["e0"], new double[2, 1], "rowLabels", ["Row label 1 is null"] },
    };

    [Theory]
    [MemberData(nameof(InvalidInputs))]
    public void InvalidInputIsAnErrorThatNamesTheProblem(
        string problem, string[] rows, string[] columns, double[,] values, string parameter, string[] phrases)
    {
        var error = Assert.Throws<ArgumentException>(() =>
            HeatMap.Save(Path.Combine(temp.Path, "x.png"), "t", rows, columns, values));

        Assert.Equal(parameter, error.ParamName);
        foreach (var phrase in phrases)
            Assert.True(error.Message.Contains(phrase, StringComparison.Ordinal), $"{problem}: '{error.Message}' lacks '{phrase}'");
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    private static double Luminance(SKColor color) => 0.2126 * color.Red + 0.7152 * color.Green + 0.0722 * color.Blue;
}
