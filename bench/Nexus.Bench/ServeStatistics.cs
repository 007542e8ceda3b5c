using System.Globalization;
using System.Text.Json;

namespace Nexus.Bench;

/// <summary>One server-sent event line of a streamed completion, as the load generator reads it.</summary>
public abstract record SseLine
{
    /// <summary>A completion chunk: its text (possibly empty) and finish_reason (null until the last chunk).</summary>
    public sealed record Chunk(string Text, string? FinishReason) : SseLine;

    /// <summary><c>data: [DONE]</c>, the end of a complete stream.</summary>
    public sealed record Done : SseLine;

    /// <summary>An error event (<c>data: {"error":{...}}</c>), or a data line that is not a chunk.</summary>
    public sealed record Error(string Message) : SseLine;

    /// <summary>A blank separator, comment or other field: nothing to record.</summary>
    public sealed record Other : SseLine;

    public static SseLine Parse(string line)
    {
        if (!line.StartsWith("data:", StringComparison.Ordinal)) return new Other();
        var data = line.AsSpan(5).Trim();
        if (data.SequenceEqual("[DONE]")) return new Done();
        try
        {
            using var document = JsonDocument.Parse(data.ToString());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return new Error($"data is not a JSON object: {Shorten(data)}");
            if (root.TryGetProperty("error", out var error))
                return new Error(error.TryGetProperty("message", out var message) ? message.GetString() ?? "" : error.ToString());
            if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() != 1)
                return new Error($"chunk without exactly one choice: {Shorten(data)}");
            var choice = choices[0];
            var text = choice.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : null;
            if (text is null) return new Error($"chunk without text: {Shorten(data)}");
            var finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            return new Chunk(text, finish);
        }
        catch (JsonException)
        {
            return new Error($"data is not JSON: {Shorten(data)}");
        }
    }

    private static string Shorten(ReadOnlySpan<char> data) => data.Length <= 80 ? data.ToString() : data[..80].ToString() + "…";
}

/// <summary>The pure arithmetic of the serving benchmark: percentiles, position buckets, Prometheus counters.</summary>
public static class ServeStatistics
{
    /// <summary>Nearest-rank percentile (<paramref name="percent"/> in (0, 100]) of unsorted values; NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> values, double percent)
    {
        if (percent is <= 0 or > 100) throw new ArgumentOutOfRangeException(nameof(percent), percent, "A percentile is in (0, 100].");
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    /// <summary>
    /// Inter-token latencies grouped by the position of the token they end in the sequence (prompt included), buckets of
    /// <paramref name="width"/> positions: bucket b holds positions [b·width, (b+1)·width). Empty buckets are left out.
    /// </summary>
    public static IReadOnlyList<PositionBucket> BucketByPosition(IEnumerable<(int Position, double Latency)> samples, int width)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "A bucket holds at least one position.");
        return samples
            .GroupBy(s => s.Position / width)
            .OrderBy(g => g.Key)
            .Select(g => new PositionBucket(g.Key * width, (g.Key + 1) * width - 1, g.Select(s => s.Latency).ToList()))
            .ToList();
    }

    /// <summary>
    /// Sums of the Prometheus text format's samples by series name (labels summed over), or for one label value when
    /// <paramref name="label"/> is given as name=value; histograms' _bucket/_sum/_count are separate names.
    /// </summary>
    public static double SumSamples(string exposition, string name, string? label = null)
    {
        double total = 0;
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd < 0 || line[..nameEnd] != name) continue;
            if (label is not null)
            {
                var (key, value) = (label[..label.IndexOf('=')], label[(label.IndexOf('=') + 1)..]);
                if (!line.Contains($"{key}=\"{value}\"", StringComparison.Ordinal)) continue;
            }
            var valueStart = line.LastIndexOf(' ');
            total += double.Parse(line[(valueStart + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return total;
    }

    /// <summary>Every label value of <paramref name="labelName"/> that series <paramref name="name"/> has.</summary>
    public static IReadOnlyList<string> LabelValues(string exposition, string name, string labelName)
    {
        var values = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var raw in exposition.Split('\n'))
        {
            var line = raw.Trim();
            if (!line.StartsWith(name + "{", StringComparison.Ordinal)) continue;
            var start = line.IndexOf(labelName + "=\"", StringComparison.Ordinal);
            if (start < 0) continue;
            start += labelName.Length + 2;
            values.Add(line[start..line.IndexOf('"', start)]);
        }
        return values.ToList();
    }
}

/// <summary>Latencies of the tokens at positions <see cref="From"/>..<see cref="To"/> (inclusive).</summary>
public sealed record PositionBucket(int From, int To, IReadOnlyList<double> Latencies)
{
    public double Median => ServeStatistics.Percentile(Latencies, 50);
}
