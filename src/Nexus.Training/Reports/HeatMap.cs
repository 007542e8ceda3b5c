using System.Globalization;
using Nexus.Model;
using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace Nexus.Training.Reports;

/// <summary>
/// Where a heat map's cells land in its picture, in pixels from the top-left corner: row r, column c spans
/// x in [GridLeft + c·CellWidth, +CellWidth) and y in [GridTop + r·CellHeight, +CellHeight).
/// </summary>
public sealed record HeatMapLayout(
    int Width, int Height, int GridLeft, int GridTop, int CellWidth, int CellHeight, bool ColumnLabelsVertical)
{
    public (int X, int Y) CellCenter(int row, int column) =>
        (GridLeft + column * CellWidth + CellWidth / 2, GridTop + row * CellHeight + CellHeight / 2);
}

/// <summary>
/// Heat maps of shares (routing: the share of each domain's tokens that each expert receives), drawn with
/// ScottPlot as PNG. The colour scale is fixed to [0, 1], so pictures of different layers compare by eye.
/// </summary>
public static class HeatMap
{
    public const int MinCellWidth = 72;
    public const int MinCellHeight = 40;
    // Room for the colour bar's ticks when there are only a row or two.
    private const int MinGridHeight = 80;
    // Column labels up to this wide (with padding) widen their cells; longer ones are turned vertical.
    private const int MaxCellWidthForLabels = 128;
    private const int LabelPadding = 12;
    private const int Margin = 12;
    private const float CellFontSize = 14;
    private const float TickFontSize = 14;
    private const float AxisLabelFontSize = 15;
    private const float TitleFontSize = 18;
    private static readonly IColormap Colormap = new ScottPlot.Colormaps.Viridis();
    private static readonly ScottPlot.Range ShareRange = new(0, 1);

    /// <summary>
    /// Renders rows × columns shares (each in [0, 1]) as a PNG with the value printed in each cell (as a
    /// percentage), row and column labels, a title and a colour bar; written atomically. Rows run top to
    /// bottom and columns left to right in the order given. Cells are at least
    /// <see cref="MinCellWidth"/> × <see cref="MinCellHeight"/> pixels, so the picture grows with the matrix.
    /// </summary>
    public static void Save(string path, string title, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        double[,] values, string rowAxisLabel = "domain", string columnAxisLabel = "expert")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ValidateLabels(title, rowLabels, columnLabels, rowAxisLabel, columnAxisLabel);
        ValidateValues(values, rowLabels.Count, columnLabels.Count);

        using var plot = Build(title, rowLabels, columnLabels, values, rowAxisLabel, columnAxisLabel, out var layout);
        var png = plot.GetImageBytes(layout.Width, layout.Height, ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    /// <summary>The size of the picture <see cref="Save"/> draws for these labels, and where each cell lands in it.</summary>
    public static HeatMapLayout Layout(string title, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string rowAxisLabel = "domain", string columnAxisLabel = "expert")
    {
        ValidateLabels(title, rowLabels, columnLabels, rowAxisLabel, columnAxisLabel);
        if (rowLabels.Count == 0 || columnLabels.Count == 0)
            throw new ArgumentException($"A heat map needs at least one row and one column (got {rowLabels.Count} × {columnLabels.Count}).");
        using var plot = Build(title, rowLabels, columnLabels, new double[rowLabels.Count, columnLabels.Count],
            rowAxisLabel, columnAxisLabel, out var layout);
        return layout;
    }

    /// <summary>"37.5%": one decimal, so that a small share never reads as zero unless it is under 0.05%.</summary>
    public static string FormatShare(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>Black or white, whichever contrasts more with <paramref name="background"/> (WCAG relative luminance).</summary>
    private static Color TextColorOn(Color background)
    {
        static double Linear(byte channel)
        {
            var c = channel / 255.0;
            return c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }
        var luminance = 0.2126 * Linear(background.R) + 0.7152 * Linear(background.G) + 0.0722 * Linear(background.B);
        // Contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05); they are equal at L ≈ 0.179.
        return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? Colors.Black : Colors.White;
    }

    private static string FormatColorTick(double share) => (share * 100).ToString("0", CultureInfo.InvariantCulture) + "%";

    private static Color CellColor(double share) => Colormap.GetColor(share, ShareRange);

    private static Plot Build(string title, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        double[,] values, string rowAxisLabel, string columnAxisLabel, out HeatMapLayout layout)
    {
        int rows = rowLabels.Count, columns = columnLabels.Count;
        var plot = new Plot();
        try
        {
            plot.HideGrid();
            title = Caption(plot.Axes.Title.Label, TitleFontSize, title);

            var heatmap = plot.Add.Heatmap(values);
            heatmap.Colormap = Colormap;
            heatmap.ManualRange = ShareRange;
            // Cell (r, c) covers x in [c, c + 1], y in [rows - r - 1, rows - r]. (Heatmap.Rectangle would say
            // the same but divides by rows - 1 and columns - 1, which breaks a single row or column.)
            heatmap.CellAlignment = Alignment.LowerLeft;
            plot.Axes.SetLimits(0, columns, 0, rows);

            // Row r is drawn at the top when r = 0: its centre is at y = rows - r - 0.5.
            var left = plot.Axes.Left;
            left.TickGenerator = new NumericManual(Enumerable.Range(0, rows).Select(r => rows - r - 0.5).ToArray(),
                Style(left.TickLabelStyle, TickFontSize, bold: false, rowLabels));
            rowAxisLabel = Caption(left.Label, AxisLabelFontSize, rowAxisLabel);

            var bottom = plot.Axes.Bottom;
            columnLabels = Style(bottom.TickLabelStyle, TickFontSize, bold: false, columnLabels);
            bottom.TickGenerator = new NumericManual(Enumerable.Range(0, columns).Select(c => c + 0.5).ToArray(), [.. columnLabels]);
            Caption(bottom.Label, AxisLabelFontSize, columnAxisLabel);

            foreach (var axis in new IAxis[] { left, bottom })
            {
                axis.MajorTickStyle.Length = 4;
                axis.MinorTickStyle.Length = 0;
            }

            var colorBar = plot.Add.ColorBar(heatmap);
            Caption(colorBar.LabelStyle, AxisLabelFontSize, "share of tokens");
            Style(colorBar.Axis.TickLabelStyle, TickFontSize, bold: false, ["0123456789%"]);

            using var paint = Paint.NewDisposablePaint();
            var (cellWidth, cellHeight, vertical) = CellSize(title, rowAxisLabel, columnLabels, rows, columns, paint, plot);
            double[] colorTicks = rows * cellHeight >= 120 ? [0, 0.25, 0.5, 0.75, 1] : [0, 0.5, 1];
            colorBar.Axis.TickGenerator = new NumericManual(colorTicks, [.. colorTicks.Select(FormatColorTick)]);
            if (vertical)
            {
                // ScottPlot measures tick labels unrotated; reserve their length instead of their height.
                bottom.TickLabelStyle.Rotation = -90;
                bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
                var widest = columnLabels.Max(label => bottom.TickLabelStyle.Measure(label, paint).Width);
                var lineHeight = bottom.TickLabelStyle.Measure("Xg", paint).Height;
                bottom.MinimumSize = bottom.Measure(paint) - lineHeight + widest + 4;
            }

            // Measure every panel (ticks, labels, title, colour bar) as ScottPlot would, then fix the grid size.
            var probe = new PixelRect(0, 4000, 4000, 0);
            var measured = new ScottPlot.LayoutEngines.Automatic().GetLayout(probe, plot, paint).DataRect;
            var padLeft = (int)Math.Ceiling(measured.Left) + Margin;
            var padTop = (int)Math.Ceiling(measured.Top) + Margin;
            var padRight = (int)Math.Ceiling(probe.Right - measured.Right) + Margin;
            var padBottom = (int)Math.Ceiling(probe.Bottom - measured.Bottom) + Margin;
            plot.Layout.Fixed(new PixelPadding(padLeft, padRight, padBottom, padTop));
            layout = new HeatMapLayout(padLeft + columns * cellWidth + padRight, padTop + rows * cellHeight + padBottom,
                padLeft, padTop, cellWidth, cellHeight, vertical);

            for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
            {
                var text = plot.Add.Text(FormatShare(values[r, c]), c + 0.5, rows - r - 0.5);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = CellFontSize;
                text.LabelFontColor = TextColorOn(CellColor(values[r, c]));
                text.LabelStyle.Font = ReportFonts.Regular;
            }
            return plot;
        }
        catch
        {
            plot.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Cells fit their percentage; they widen for column labels up to <see cref="MaxCellWidthForLabels"/>
    /// (longer labels are turned vertical instead), and for a title or row-axis label longer than the grid;
    /// a grid of one or two rows is made tall enough for the colour bar's ticks.
    /// </summary>
    private static (int Width, int Height, bool ColumnLabelsVertical) CellSize(string title, string rowAxisLabel,
        IReadOnlyList<string> columnLabels, int rows, int columns, Paint paint, Plot plot)
    {
        var widestLabel = columnLabels.Max(label => plot.Axes.Bottom.TickLabelStyle.Measure(label, paint).Width);
        var labelFit = (int)Math.Ceiling(widestLabel) + LabelPadding;
        var width = labelFit <= MaxCellWidthForLabels ? Math.Max(MinCellWidth, labelFit) : MinCellWidth;
        var titleWidth = plot.Axes.Title.Label.Measure(title, paint).Width;
        width = Math.Max(width, (int)Math.Ceiling((titleWidth + LabelPadding) / columns));

        var rowAxisLabelLength = plot.Axes.Left.Label.Measure(rowAxisLabel, paint).Width;
        var gridHeight = Math.Max(MinGridHeight, rowAxisLabelLength + LabelPadding);
        var height = Math.Max(MinCellHeight, (int)Math.Ceiling(gridHeight / rows));
        return (width, height, labelFit > width);
    }

    /// <summary>Sets a style's size and typeface for <paramref name="texts"/>; returns them as they will be drawn.</summary>
    private static string[] Style(LabelStyle style, float size, bool bold, IReadOnlyList<string> texts)
    {
        style.FontSize = size;
        style.Bold = bold;
        style.ForeColor = Colors.Black;
        (style.Font, var drawn) = ReportFonts.Fit(bold, texts);
        return drawn;
    }

    /// <summary>A bold one-line label (title, axis name): styled, set, and returned as drawn.</summary>
    private static string Caption(LabelStyle style, float size, string text) =>
        style.Text = Style(style, size, bold: true, [text])[0];

    private static void ValidateLabels(string title, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string rowAxisLabel, string columnAxisLabel)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(rowLabels);
        ArgumentNullException.ThrowIfNull(columnLabels);
        ArgumentNullException.ThrowIfNull(rowAxisLabel);
        ArgumentNullException.ThrowIfNull(columnAxisLabel);
        for (var i = 0; i < rowLabels.Count; i++)
            if (rowLabels[i] is null) throw new ArgumentException($"Row label {i} is null.", nameof(rowLabels));
        for (var i = 0; i < columnLabels.Count; i++)
            if (columnLabels[i] is null) throw new ArgumentException($"Column label {i} is null.", nameof(columnLabels));
    }

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    private static void ValidateValues(double[,] values, int rowLabelCount, int columnLabelCount)
    {
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.GetLength(0), columns = values.GetLength(1);
        if (rows == 0 || columns == 0)
            throw new ArgumentException($"The values matrix is empty ({rows} × {columns}); a heat map needs at least one row and one column.", nameof(values));
        if (rowLabelCount != rows)
            throw new ArgumentException($"The values have {Count(rows, "row")} but there are {Count(rowLabelCount, "row label")}; give one label per row.", "rowLabels");
        if (columnLabelCount != columns)
            throw new ArgumentException($"The values have {Count(columns, "column")} but there are {Count(columnLabelCount, "column label")}; give one label per column.", "columnLabels");
        for (var r = 0; r < rows; r++)
        for (var c = 0; c < columns; c++)
        {
            var value = values[r, c];
            if (double.IsNaN(value))
                throw new ArgumentException($"Value [{r}, {c}] is NaN; shares must be numbers in [0, 1].", nameof(values));
            if (value is < 0 or > 1)
                throw new ArgumentException(
                    $"Value [{r}, {c}] = {value.ToString(CultureInfo.InvariantCulture)} is outside [0, 1]; shares are fractions, not percentages.",
                    nameof(values));
        }
    }
}
