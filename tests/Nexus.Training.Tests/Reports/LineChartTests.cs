using Nexus.Training.Reports;
using SkiaSharp;

namespace Nexus.Training.Tests.Reports;

public sealed class LineChartTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void DrawsEachSeriesInItsOwnColourAtTheRequestedSize()
    {
        var path = Path.Combine(temp.Path, "chart.png");
        LineChart.Save(path, "Extension: code perplexity", "steps", "perplexity",
        [
            new LineSeries("linear router", [8, 20, 40], [30, 20, 12], [28, 19, 11], [33, 22, 13]),
            new LineSeries("Nexus", [8, 20, 40], [25, 15, 10]),
        ]);

        using var bitmap = SKBitmap.Decode(path);
        Assert.Equal((720, 440), (bitmap.Width, bitmap.Height));
        // Category10's first two colours, blue (31, 119, 180) and orange (255, 127, 14), are both drawn.
        var pixels = bitmap.Pixels;
        Assert.Contains(pixels, p => p.Red == 31 && p.Green == 119 && p.Blue == 180);
        Assert.Contains(pixels, p => p.Red == 255 && p.Green == 127 && p.Blue == 14);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp*"));
    }

    [Fact]
    public void MismatchedOrNonFinitePointsNameTheSeries()
    {
        var path = Path.Combine(temp.Path, "bad.png");
        var error = Assert.Throws<ArgumentException>(() => LineChart.Save(path, "t", "x", "y", [new LineSeries("Nexus", [1, 2], [3])]));
        Assert.Contains("Series 'Nexus'", error.Message);
        error = Assert.Throws<ArgumentException>(() => LineChart.Save(path, "t", "x", "y", [new LineSeries("linear", [1], [double.NaN])]));
        Assert.Contains("'linear' has a value that is not a finite number", error.Message);
        Assert.False(File.Exists(path));
    }
}
