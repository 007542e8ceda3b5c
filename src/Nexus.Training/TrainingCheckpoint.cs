using System.Text.Json;
using System.Text.Json.Serialization;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training;

/// <summary>Where a run stood when it was checkpointed. Batches are a pure function of (seed, step).</summary>
public sealed record TrainerState
{
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("elapsed_seconds")] public double ElapsedSeconds { get; init; }
    [JsonPropertyName("options")] public required TrainerOptions Options { get; init; }
}

/// <summary>
/// Checkpoints under <c>{run}/checkpoints/step-000100/</c>: config.json, model.safetensors,
/// optimizer.safetensors and state.json, written through <see cref="AtomicDirectory"/>, so every
/// checkpoint directory that exists is complete.
/// </summary>
public static class TrainingCheckpoint
{
    private const string Prefix = "step-";
    private const string StateFile = "state.json";
    private const string OptimizerFile = "optimizer.safetensors";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static string Folder(string runDirectory) => Path.Combine(runDirectory, "checkpoints");

    public static string Save(string runDirectory, CausalLanguageModel model, AdamW optimizer, TrainerState state, int keep)
    {
        var root = Folder(runDirectory);
        Directory.CreateDirectory(root);
        var final = Path.Combine(root, $"{Prefix}{state.Step:D6}");
        AtomicDirectory.Write(final, staging =>
        {
            model.Config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            ModelWeights.Save(model, Path.Combine(staging, ModelCheckpoint.WeightsFile));
            optimizer.Save(Path.Combine(staging, OptimizerFile));
            AtomicFile.WriteAllText(Path.Combine(staging, StateFile), JsonSerializer.Serialize(state, Json));
        });
        foreach (var stale in List(runDirectory).SkipLast(keep)) Directory.Delete(stale, recursive: true);
        return final;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public static IReadOnlyList<string> List(string runDirectory)
    {
        var root = Folder(runDirectory);
        if (!Directory.Exists(root)) return [];
        return Directory.EnumerateDirectories(root, Prefix + "*")
            .Where(d => File.Exists(Path.Combine(d, StateFile)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public static string? Latest(string runDirectory) => List(runDirectory).LastOrDefault();

    public static TrainerState Restore(string checkpoint, CausalLanguageModel model, AdamW optimizer)
    {
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, StateFile)), Json)
                    ?? throw new InvalidDataException($"{checkpoint}/{StateFile} is empty.");
        using (var weights = SafetensorsCheckpoint.Open(Path.Combine(checkpoint, ModelCheckpoint.WeightsFile)))
        {
            ModelWeights.Load(model, weights, model.Config);
        }
        optimizer.Load(Path.Combine(checkpoint, OptimizerFile));
        return state;
    }
}
