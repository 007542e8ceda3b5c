using System.Text.RegularExpressions;
using Nexus.Model;
using Nexus.Model.Safetensors;

namespace Nexus.Training;

/// <summary>A dense expert to upcycle: its name, its model folder, and (for the Nexus router) its domain embedding.</summary>
public sealed record UpcycleExpert(string Name, string ModelDirectory, float[]? DomainEmbedding);

/// <summary>
/// Seed + N dense experts → a Nexus MoE checkpoint, tensor by tensor, as DESIGN.md states it: the seed's
/// FFN becomes the shared expert, each expert's FFN a routed expert, every other tensor is the uniform
/// mean over the experts, and the router is initialised fresh (N(0, 0.02), seeded). Nothing but the
/// tensor being written is held in memory, so peak memory does not grow with the number of experts or
/// the model's size. No libtorch: bytes in, bytes out.
/// </summary>
public static partial class Upcycler
{
    [GeneratedRegex(@"^(?<prefix>model\.layers\.\d+\.mlp\.)(?:shared_expert|experts\.(?<expert>\d+))\.(?<proj>(?:gate|up|down)_proj\.weight)$")]
    private static partial Regex FfnName();

    public static NexusMoeConfig Run(string seedDirectory, IReadOnlyList<UpcycleExpert> experts, RouterKind router,
        string outputDirectory, long seed = 0, int topK = 1, double auxLossCoefficient = 0.05, int? routerProjectionSize = null)
    {
        if (experts.Count == 0) throw new ArgumentException("Upcycling needs at least one expert; none was given.");
        var duplicate = experts.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Expert name '{duplicate.Key}' is given twice; names must be unique.");

        var seedConfig = LlamaConfig.Load(Path.Combine(seedDirectory, ModelCheckpoint.ConfigFile));
        foreach (var expert in experts)
        {
            var expertConfig = LlamaConfig.Load(Path.Combine(expert.ModelDirectory, ModelCheckpoint.ConfigFile));
            if (ArchitectureOf(expertConfig) != ArchitectureOf(seedConfig))
                throw new InvalidDataException(
                    $"Expert '{expert.Name}' ({expert.ModelDirectory}) does not share the seed's architecture: {ArchitectureOf(expertConfig)} vs seed {ArchitectureOf(seedConfig)}.");
        }

        var width = 0;
        if (router == RouterKind.Nexus)
        {
            var missing = experts.FirstOrDefault(e => e.DomainEmbedding is null);
            if (missing is not null) throw new ArgumentException($"Expert '{missing.Name}' has no domain embedding; the nexus router needs one per expert (run `nexus embed`).");
            width = experts[0].DomainEmbedding!.Length;
            var odd = experts.FirstOrDefault(e => e.DomainEmbedding!.Length != width);
            if (odd is not null)
                throw new ArgumentException($"Domain embedding of '{odd.Name}' has width {odd.DomainEmbedding!.Length}, but '{experts[0].Name}' has {width}; all must be the same width.");
            if (width == 0) throw new ArgumentException("Domain embeddings are empty.");
        }

        var config = NexusMoeConfig.FromDense(seedConfig, experts.Select(e => e.Name).ToList(), router,
            width, routerProjectionSize ?? seedConfig.HiddenSize, topK, auxLossCoefficient);
        config.Validate();

        AtomicDirectory.Write(outputDirectory, staging =>
        {
            using var seedWeights = SafetensorsCheckpoint.Open(seedDirectory);
            var expertWeights = experts.Select(e => SafetensorsCheckpoint.Open(e.ModelDirectory)).ToList();
            try
            {
                var layout = config.TensorShapes().Select(t => new TensorSpec(t.Name, SafetensorsDtype.F32, t.Shape)).ToList();
                using var writer = SafetensorsWriter.Create(Path.Combine(staging, ModelCheckpoint.WeightsFile), layout,
                    new Dictionary<string, string> { ["format"] = "pt", ["nexus.step"] = "upcycle" });
                foreach (var spec in layout)
                {
                    var values = new float[spec.ElementCount];
                    Fill(spec, values, seedWeights, expertWeights, experts, seed);
                    writer.WriteTensor(spec.Name, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                }
                writer.Commit();
            }
            finally
            {
                foreach (var weights in expertWeights) weights.Dispose();
            }
            config.Save(Path.Combine(staging, ModelCheckpoint.ConfigFile));
            Nexus.Model.Tokenization.TokenizerFiles.CopyTo(seedDirectory, staging);
        });
        return config;
    }

    private static void Fill(TensorSpec spec, float[] values, SafetensorsCheckpoint seed, IReadOnlyList<SafetensorsCheckpoint> experts,
        IReadOnlyList<UpcycleExpert> sources, long randomSeed)
    {
        var ffn = FfnName().Match(spec.Name);
        if (ffn.Success)
        {
            var denseName = ffn.Groups["prefix"].Value + ffn.Groups["proj"].Value;
            var source = ffn.Groups["expert"].Success ? experts[int.Parse(ffn.Groups["expert"].Value)] : seed;
            Read(source, denseName, spec, values);
        }
        else if (spec.Name.EndsWith(".router.domain_embeddings", StringComparison.Ordinal))
        {
            for (var e = 0; e < sources.Count; e++) sources[e].DomainEmbedding!.CopyTo(values, e * sources[e].DomainEmbedding!.Length);
        }
        else if (spec.Name.Contains(".router.", StringComparison.Ordinal))
        {
            var random = new DeterministicRandom(StableHash(spec.Name) ^ (ulong)randomSeed);
            for (var i = 0; i < values.Length; i++) values[i] = (float)(0.02 * Gaussian(ref random));
        }
        else
        {
            // Every non-FFN tensor: the uniform mean over the experts, accumulated in expert order.
            var scratch = new float[values.Length];
            foreach (var expert in experts)
            {
                Read(expert, spec.Name, spec, scratch);
                for (var i = 0; i < values.Length; i++) values[i] += scratch[i];
            }
            var scale = 1f / experts.Count;
            for (var i = 0; i < values.Length; i++) values[i] *= scale;
        }
    }

    private static void Read(SafetensorsCheckpoint checkpoint, string name, TensorSpec spec, float[] destination)
    {
        if (!checkpoint.Contains(name)) throw new InvalidDataException($"{checkpoint.Path} has no tensor {name}.");
        var entry = checkpoint.Entry(name);
        if (!entry.Shape.SequenceEqual(spec.Shape))
            throw new InvalidDataException($"{checkpoint.Path}: {name} has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", spec.Shape)}].");
        SafetensorsConversions.ToSingle(entry.Dtype, checkpoint.GetBytes(name), destination);
    }

    private static string ArchitectureOf(LlamaConfig c) =>
        $"vocab {c.VocabSize}, hidden {c.HiddenSize}, intermediate {c.IntermediateSize}, layers {c.NumHiddenLayers}, " +
        $"heads {c.NumAttentionHeads}/{c.NumKeyValueHeads}, head_dim {c.HeadDim}, tied {c.TieWordEmbeddings}, rope_theta {c.RopeTheta}";

    private static ulong StableHash(string text)
    {
        var hash = 14695981039346656037UL; // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (var c in text) hash = (hash ^ c) * 1099511628211UL;
        return hash;
    }

    private static double Gaussian(ref DeterministicRandom random)
    {
        var u1 = (random.NextUInt64() >> 11) * (1.0 / (1UL << 53));
        var u2 = (random.NextUInt64() >> 11) * (1.0 / (1UL << 53));
        return Math.Sqrt(-2 * Math.Log(1 - u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
