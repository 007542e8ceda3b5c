using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nexus.Training;

/// <summary>One JSON object per line, flushed as written, so a crashed run keeps what it measured.</summary>
public sealed class MetricsLog : IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly StreamWriter writer;

    public MetricsLog(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public void Write(object record) => writer.WriteLine(JsonSerializer.Serialize(record, record.GetType(), Json));

    public void Dispose() => writer.Dispose();
}

public sealed record TrainMetric(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("grad_norm")] double GradNorm,
    [property: JsonPropertyName("tokens_seen")] long TokensSeen,
    [property: JsonPropertyName("tokens_per_second")] double TokensPerSecond,
    [property: JsonPropertyName("elapsed_seconds")] double ElapsedSeconds,
    [property: JsonPropertyName("aux_loss")] double? AuxLoss = null);

public sealed record EvalMetric(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("step")] long Step,
    [property: JsonPropertyName("loss")] double Loss,
    [property: JsonPropertyName("perplexity")] double Perplexity,
    [property: JsonPropertyName("tokens")] long Tokens);
