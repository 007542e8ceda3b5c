using Nexus.Model;
using ScottPlot;

namespace Nexus.Training.Reports;

/// <summary>One line of a <see cref="LineChart"/>: its name, its points and, optionally, each point's range (min and max over runs).</summary>
public sealed record LineSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y,
    IReadOnlyList<double>? Low = null, IReadOnlyList<double>? High = null);

/// <summary>
/// Lines with markers and min–max error bars, drawn with ScottPlot as PNG in the embedded report font. Each
/// line is named at its last point rather than in a legend box, so the picture needs no installed font.
/// </summary>
public static class LineChart
{
    private const float TitleFontSize = 18, AxisLabelFontSize = 15, TickFontSize = 13, NameFontSize = 13;
    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<LineSeries> series,
        int width = 720, int height = 440)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Validate(series);
        using var plot = new Plot();
        Caption(plot.Axes.Title.Label, TitleFontSize, title);
        Caption(plot.Axes.Bottom.Label, AxisLabelFontSize, xLabel);
        Caption(plot.Axes.Left.Label, AxisLabelFontSize, yLabel);
        foreach (var axis in new IAxis[] { plot.Axes.Bottom, plot.Axes.Left })
        {
            axis.TickLabelStyle.FontSize = TickFontSize;
            axis.TickLabelStyle.Font = ReportFonts.Regular;
        }

        for (var i = 0; i < series.Count; i++)
        {
            var line = series[i];
            var color = Palette.GetColor(i);
            double[] xs = [.. line.X], ys = [.. line.Y];
            var scatter = plot.Add.Scatter(xs, ys, color);
            scatter.LineWidth = 2;
            scatter.MarkerSize = 8;
            if (line.Low is not null && line.High is not null)
            {
                var bars = plot.Add.ErrorBar(xs, ys, new double[xs.Length]);
                bars.YErrorNegative = [.. ys.Select((y, p) => y - line.Low[p])];
                bars.YErrorPositive = [.. ys.Select((y, p) => line.High[p] - y)];
                bars.Color = color;
            }
        }
        // A legend of coloured names in the top right corner, in the embedded font, above the data.
        plot.Axes.AutoScale();
        var limits = plot.Axes.GetLimits();
        double spanX = limits.Right - limits.Left, spanY = limits.Top - limits.Bottom, step = spanY * 0.09;
        var top = limits.Top + step * (series.Count + 0.5);
        plot.Axes.SetLimits(limits.Left - spanX * 0.04, limits.Right + spanX * 0.04, limits.Bottom, top);
        for (var i = 0; i < series.Count; i++)
        {
            var name = plot.Add.Text("—— " + series[i].Name, limits.Right + spanX * 0.02, top - step * (i + 0.5));
            (name.LabelStyle.Font, var drawn) = ReportFonts.Fit(bold: true, [name.LabelText]);
            name.LabelText = drawn[0];
            name.LabelFontSize = NameFontSize;
            name.LabelFontColor = Palette.GetColor(i);
            name.LabelAlignment = Alignment.MiddleRight;
        }

        var png = plot.GetImageBytes(width, height, ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    private static void Caption(LabelStyle style, float size, string text)
    {
        style.FontSize = size;
        style.Bold = true;
        (style.Font, var drawn) = ReportFonts.Fit(bold: true, [text]);
        style.Text = drawn[0];
    }

    private static void Validate(IReadOnlyList<LineSeries> series)
    {
        if (series.Count == 0) throw new ArgumentException("A line chart needs at least one series.");
        foreach (var line in series)
        {
            var points = line.X.Count;
            if (points == 0 || line.Y.Count != points || (line.Low?.Count ?? points) != points || (line.High?.Count ?? points) != points)
                throw new ArgumentException($"Series '{line.Name}': X, Y, Low and High must have the same, non-zero number of points.");
            if (line.X.Concat(line.Y).Concat(line.Low ?? []).Concat(line.High ?? []).Any(v => !double.IsFinite(v)))
                throw new ArgumentException($"Series '{line.Name}' has a value that is not a finite number.");
        }
    }
}
