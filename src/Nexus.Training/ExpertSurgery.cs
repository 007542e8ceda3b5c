using System.Text.RegularExpressions;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;

namespace Nexus.Training;

/// <summary>
/// Adds an expert to a Nexus MoE checkpoint or takes one out, tensor by tensor, as DESIGN.md's Extension
/// states it. Like <see cref="Upcycler"/>, no libtorch and nothing in memory but the tensor being written.
/// <list type="bullet">
/// <item><b>Extend</b> (n → n+1 experts): the new expert's FFN is appended as expert n and the old experts,
/// the shared expert and the Nexus router's projection are copied bit for bit; every non-FFN tensor
/// becomes φ = (1−λ)·φ_moe + λ·φ_new with λ = 1/(n+1). The Nexus router gains the new domain embedding as
/// a row, so the trained projection gives the new expert's embedding at once; a linear router cannot
/// score an expert it has never seen and is reset (N(0, 0.02), seeded). No finetuning happens here.</item>
/// <item><b>Remove</b> (n → n−1): expert i's FFN and its router row go, later experts move down one,
/// and every other tensor is copied bit for bit. The remaining experts' router logits are unchanged.</item>
/// </list>
/// Tensors keep the input MoE's dtypes; copies are byte copies.
/// </summary>
public static partial class ExpertSurgery
{
    [GeneratedRegex(@"^(?<prefix>model\.layers\.\d+\.mlp\.)(?:shared_expert|experts\.(?<expert>\d+))\.(?<proj>(?:gate|up|down)_proj\.weight)$")]
    private static partial Regex FfnName();

    /// <summary>Appends <paramref name="expert"/> (a dense model of the MoE's architecture) as the last routed expert.</summary>
    /// <param name="seed">Seeds the reset of a linear router; unused by the Nexus router.</param>
    public static NexusMoeConfig Extend(string moeDirectory, UpcycleExpert expert, string outputDirectory, long seed = 0)
    {
        var moe = LoadMoe(moeDirectory);
        if (string.IsNullOrWhiteSpace(expert.Name)) throw new ArgumentException("The new expert needs a name.");
        if (moe.ExpertNames.Contains(expert.Name, StringComparer.Ordinal))
            throw new ArgumentException($"The model already has an expert named '{expert.Name}' (experts: {string.Join(", ", moe.ExpertNames)}); names must be unique.");
        if (!Directory.Exists(expert.ModelDirectory))
            throw new DirectoryNotFoundException($"Expert '{expert.Name}': model directory '{expert.ModelDirectory}' does not exist.");
        var dense = LlamaConfig.Load(Path.Combine(expert.ModelDirectory, ModelCheckpoint.ConfigFile));
        if (CheckpointTensors.ArchitectureOf(dense) != CheckpointTensors.ArchitectureOf(moe))
            throw new InvalidDataException(
                $"Expert '{expert.Name}' ({expert.ModelDirectory}) does not share the MoE's architecture: " +
                $"{CheckpointTensors.ArchitectureOf(dense)} vs MoE ({moeDirectory}) {CheckpointTensors.ArchitectureOf(moe)}.");
        if (moe.Router == RouterKind.Nexus)
        {
            if (expert.DomainEmbedding is null)
                throw new ArgumentException($"Expert '{expert.Name}' has no domain embedding; this model's nexus router needs one (run `nexus embed`).");
            if (expert.DomainEmbedding.Length != moe.DomainEmbeddingSize)
                throw new ArgumentException(
                    $"Domain embedding of '{expert.Name}' has width {expert.DomainEmbedding.Length}; this model's router expects {moe.DomainEmbeddingSize}.");
        }

        var config = moe with { ExpertNames = [.. moe.ExpertNames, expert.Name] };
        config.Validate();
        var added = moe.NumExperts;
        var lambda = 1.0 / config.NumExperts;
        var sourceShapes = moe.TensorShapes().ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);

        AtomicDirectory.Write(outputDirectory, staging =>
        {
            using var moeWeights = SafetensorsCheckpoint.Open(moeDirectory);
            using var denseWeights = SafetensorsCheckpoint.Open(expert.ModelDirectory);

            // Each output tensor: its layout entry and how to write it. Every source is checked (presence,
            // shape) here, before a byte is written.
            var plan = new List<(TensorSpec Spec, Action<SafetensorsWriter, TensorSpec> Write)>();
            foreach (var (name, shape) in config.TensorShapes())
            {
                var ffn = FfnName().Match(name);
                if (ffn.Success && ffn.Groups["expert"].Success && int.Parse(ffn.Groups["expert"].Value) == added)
                {
                    var denseName = ffn.Groups["prefix"].Value + ffn.Groups["proj"].Value;
                    var denseEntry = CheckpointTensors.Entry(denseWeights, denseName, shape);
                    var slot = CheckpointTensors.Entry(moeWeights, ffn.Groups["prefix"].Value + "experts.0." + ffn.Groups["proj"].Value, shape);
                    // In the MoE's dtype: a byte copy when the dtypes agree, else converted (exact when widening).
                    Action<SafetensorsWriter, TensorSpec> write = denseEntry.Dtype == slot.Dtype
                        ? (writer, spec) => writer.WriteTensor(spec.Name, denseWeights.GetBytes(denseName))
                        : (writer, spec) => CheckpointTensors.WriteFloats(writer, spec, CheckpointTensors.ReadFloats(denseWeights, denseName, shape));
                    plan.Add((new TensorSpec(name, slot.Dtype, shape), write));
                }
                else if (ffn.Success || (name.Contains(".router.", StringComparison.Ordinal) && moe.Router == RouterKind.Nexus
                                         && !name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal)))
                {
                    // Shared expert, old experts, the Nexus router's trained projection.
                    var entry = CheckpointTensors.Entry(moeWeights, name, shape);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) => writer.WriteTensor(spec.Name, moeWeights.GetBytes(spec.Name))));
                }
                else if (name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal))
                {
                    var entry = CheckpointTensors.Entry(moeWeights, name, sourceShapes[name]);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) =>
                    {
                        writer.WriteTensor(spec.Name, moeWeights.GetBytes(spec.Name));
                        var row = new byte[spec.ByteLength / config.NumExperts];
                        SafetensorsConversions.FromSingle(spec.Dtype, expert.DomainEmbedding!, row);
                        writer.WriteTensor(spec.Name, row);
                    }));
                }
                else if (name.EndsWith(".router.weight", StringComparison.Ordinal))
                {
                    // The linear router is reset; the stream is keyed by the new expert count, so a reset
                    // never reproduces the upcycle's initialisation (or an earlier reset) for the old rows.
                    var entry = CheckpointTensors.Entry(moeWeights, name, sourceShapes[name]);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) =>
                    {
                        var values = new float[spec.ElementCount];
                        CheckpointTensors.FillGaussian(values, $"{spec.Name} reset for {config.NumExperts} experts", seed);
                        CheckpointTensors.WriteFloats(writer, spec, values);
                    }));
                }
                else
                {
                    var entry = CheckpointTensors.Entry(moeWeights, name, shape);
                    CheckpointTensors.Entry(denseWeights, name, shape);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) =>
                    {
                        var merged = CheckpointTensors.ReadFloats(moeWeights, spec.Name, shape);
                        var incoming = CheckpointTensors.ReadFloats(denseWeights, spec.Name, shape);
                        for (var i = 0; i < merged.Length; i++) merged[i] = (float)((1 - lambda) * merged[i] + lambda * incoming[i]);
                        CheckpointTensors.WriteFloats(writer, spec, merged);
                    }));
                }
            }
            Write(staging, plan, "extend");
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            TokenizerFiles.CopyTo(moeDirectory, staging);
        });
        return config;
    }

    /// <summary>Drops the expert named <paramref name="expertName"/>; nothing is retrained.</summary>
    /// <param name="topK">Experts per token in the result; default: the input's. It must not exceed the experts that remain.</param>
    public static NexusMoeConfig Remove(string moeDirectory, string expertName, string outputDirectory, int? topK = null)
    {
        var moe = LoadMoe(moeDirectory);
        var removed = Array.IndexOf(moe.ExpertNames, expertName);
        if (removed < 0)
            throw new ArgumentException($"The model has no expert named '{expertName}'; its experts are: {string.Join(", ", moe.ExpertNames)}.");
        if (moe.NumExperts == 1)
            throw new ArgumentException($"'{expertName}' is the model's only expert; an MoE keeps at least one, so it cannot be removed.");
        var names = moe.ExpertNames.Where((_, i) => i != removed).ToArray();
        var k = topK ?? moe.NumExpertsPerToken;
        if (k < 1 || k > names.Length)
            throw new ArgumentException(topK is null
                ? $"The model routes each token to {moe.NumExpertsPerToken} experts (num_experts_per_tok), but only {names.Length} would remain; " +
                  $"choose a top-k of at most {names.Length} (--top-k)."
                : $"top-k must be between 1 and the {names.Length} remaining experts; got {k}.");

        var config = moe with { ExpertNames = names, NumExpertsPerToken = k };
        config.Validate();
        var sourceShapes = moe.TensorShapes().ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);

        AtomicDirectory.Write(outputDirectory, staging =>
        {
            using var moeWeights = SafetensorsCheckpoint.Open(moeDirectory);
            var plan = new List<(TensorSpec Spec, Action<SafetensorsWriter, TensorSpec> Write)>();
            foreach (var (name, shape) in config.TensorShapes())
            {
                var ffn = FfnName().Match(name);
                if (ffn.Success && ffn.Groups["expert"].Success)
                {
                    var index = int.Parse(ffn.Groups["expert"].Value);
                    var source = $"{ffn.Groups["prefix"].Value}experts.{(index < removed ? index : index + 1)}.{ffn.Groups["proj"].Value}";
                    var entry = CheckpointTensors.Entry(moeWeights, source, shape);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) => writer.WriteTensor(spec.Name, moeWeights.GetBytes(source))));
                }
                else if (name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal) || name.EndsWith(".router.weight", StringComparison.Ordinal))
                {
                    // Router rows are per expert ([E, width]): every row but the removed one, in order.
                    var entry = CheckpointTensors.Entry(moeWeights, name, sourceShapes[name]);
                    var rowBytes = (int)(entry.ByteLength / moe.NumExperts);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) =>
                    {
                        var rows = moeWeights.GetBytes(spec.Name);
                        writer.WriteTensor(spec.Name, rows[..(removed * rowBytes)]);
                        writer.WriteTensor(spec.Name, rows[((removed + 1) * rowBytes)..]);
                    }));
                }
                else
                {
                    var entry = CheckpointTensors.Entry(moeWeights, name, shape);
                    plan.Add((new TensorSpec(name, entry.Dtype, shape), (writer, spec) => writer.WriteTensor(spec.Name, moeWeights.GetBytes(spec.Name))));
                }
            }
            Write(staging, plan, "remove");
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            TokenizerFiles.CopyTo(moeDirectory, staging);
        });
        return config;
    }

    private static NexusMoeConfig LoadMoe(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model directory '{directory}' does not exist.");
        return NexusMoeConfig.Load(Path.Combine(directory, ModelCheckpoint.ConfigFile));
    }

    private static void Write(string staging, List<(TensorSpec Spec, Action<SafetensorsWriter, TensorSpec> Write)> plan, string step)
    {
        using var writer = SafetensorsWriter.Create(Path.Combine(staging, ModelCheckpoint.WeightsFile), plan.Select(p => p.Spec).ToList(),
            new Dictionary<string, string> { ["format"] = "pt", ["nexus.step"] = step });
        foreach (var (spec, write) in plan) write(writer, spec);
        writer.Commit();
    }
}
