using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training;

/// <summary>
/// N dense models of one architecture → one dense model whose every tensor is the uniform mean over them
/// (parameter averaging, the "merge the experts into one dense model" baseline). Streamed tensor by
/// tensor like <see cref="Upcycler"/>: memory holds one tensor, whatever the number of models.
/// </summary>
public static class DenseAverager
{
    public static LlamaConfig Run(IReadOnlyList<string> modelDirectories, string outputDirectory)
    {
        if (modelDirectories.Count == 0) throw new ArgumentException("Averaging needs at least one model; none was given.");
        var first = modelDirectories[0];
        var config = LlamaConfig.Load(Path.Combine(first, ModelCheckpoint.ConfigFile));
        foreach (var directory in modelDirectories.Skip(1))
        {
            var other = LlamaConfig.Load(Path.Combine(directory, ModelCheckpoint.ConfigFile));
            if (CheckpointTensors.ArchitectureOf(other) != CheckpointTensors.ArchitectureOf(config))
                throw new InvalidDataException(
                    $"{directory} does not share the architecture of {first}: {CheckpointTensors.ArchitectureOf(other)} vs {CheckpointTensors.ArchitectureOf(config)}.");
        }

        AtomicDirectory.Write(outputDirectory, staging =>
        {
            var sources = modelDirectories.Select(SafetensorsCheckpoint.Open).ToList();
            try
            {
                var layout = sources[0].Names.Select(name =>
                {
                    var entry = sources[0].Entry(name);
                    return new TensorSpec(name, SafetensorsDtype.F32, entry.Shape);
                }).ToList();
                using var writer = SafetensorsWriter.Create(Path.Combine(staging, ModelCheckpoint.WeightsFile), layout,
                    new Dictionary<string, string> { ["format"] = "pt", ["nexus.step"] = "average" });
                foreach (var spec in layout)
                {
                    var sum = new double[spec.ElementCount];
                    foreach (var source in sources)
                    {
                        var values = CheckpointTensors.ReadFloats(source, spec.Name, spec.Shape);
                        for (var i = 0; i < values.Length; i++) sum[i] += values[i];
                    }
                    var mean = new float[sum.Length];
                    for (var i = 0; i < sum.Length; i++) mean[i] = (float)(sum[i] / sources.Count);
                    CheckpointTensors.WriteFloats(writer, spec, mean);
                }
                writer.Commit();
            }
            finally
            {
                foreach (var source in sources) source.Dispose();
            }
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            Nexus.Model.Tokenization.TokenizerFiles.CopyTo(first, staging);
        });
        return config;
    }
}
