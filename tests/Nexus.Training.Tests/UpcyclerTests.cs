using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Training.Tests;

public sealed class UpcyclerTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private string SaveDense(string name, long seed, LlamaConfig? config = null)
    {
        torch.manual_seed(seed);
        using var model = new LlamaForCausalLM(config ?? LlamaConfig.Preset("tiny"));
        model.InitializeWeights(seed);
        var directory = Path.Combine(temp.Path, name);
        ModelCheckpoint.Save(model, directory, TokenizerFiles.SaveByte);
        return directory;
    }

    private static float[] Embedding(int seed, int width = 6) =>
        Enumerable.Range(0, width).Select(i => (float)Math.Sin(seed * 7 + i)).ToArray();

    private static float[] Floats(SafetensorsCheckpoint checkpoint, string name)
    {
        var entry = checkpoint.Entry(name);
        var values = new float[entry.ElementCount];
        SafetensorsConversions.ToSingle(entry.Dtype, checkpoint.GetBytes(name), values);
        return values;
    }

    [Fact]
    public void DenseAverageIsTheMeanOfEveryTensorAndLoadsAsADenseModel()
    {
        var models = new[] { SaveDense("a", 21), SaveDense("b", 22), SaveDense("c", 23) };
        var output = Path.Combine(temp.Path, "average");

        DenseAverager.Run(models, output);

        using var average = SafetensorsCheckpoint.Open(output);
        var sources = models.Select(SafetensorsCheckpoint.Open).ToList();
        try
        {
            Assert.Equal(sources[0].Names.OrderBy(n => n), average.Names.OrderBy(n => n));
            foreach (var name in average.Names)
            {
                var actual = Floats(average, name);
                var each = sources.Select(s => Floats(s, name)).ToList();
                for (var i = 0; i < actual.Length; i++) Assert.True(Math.Abs(each.Average(v => (double)v[i]) - actual[i]) < 1e-6, $"{name}[{i}] is not the mean");
            }
        }
        finally
        {
            foreach (var s in sources) s.Dispose();
        }
        using var model = ModelCheckpoint.LoadDense(output);
        Assert.Throws<InvalidDataException>(() => DenseAverager.Run([models[0], SaveDense("other", 24, LlamaConfig.Preset("small"))], Path.Combine(temp.Path, "bad")));
    }

    [Fact]
    public void ExpertsAreCopiedBitForBitAndTheRestIsTheMean()
    {
        var seed = SaveDense("seed", 1);
        var experts = new[] { "law", "code", "poems" }.Select((name, i) => new UpcycleExpert(name, SaveDense(name, 10 + i), Embedding(i))).ToList();
        var output = Path.Combine(temp.Path, "moe");

        var config = Upcycler.Run(seed, experts, RouterKind.Nexus, output, seed: 3);

        Assert.Equal(["law", "code", "poems"], config.ExpertNames);
        using var moe = SafetensorsCheckpoint.Open(output);
        using var seedWeights = SafetensorsCheckpoint.Open(seed);
        var sources = experts.Select(e => SafetensorsCheckpoint.Open(e.ModelDirectory)).ToList();
        try
        {
            for (var layer = 0; layer < config.NumHiddenLayers; layer++)
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
            {
                var dense = $"model.layers.{layer}.mlp.{proj}.weight";
                Assert.True(moe.GetBytes($"model.layers.{layer}.mlp.shared_expert.{proj}.weight").SequenceEqual(seedWeights.GetBytes(dense)));
                for (var e = 0; e < experts.Count; e++)
                    Assert.True(moe.GetBytes($"model.layers.{layer}.mlp.experts.{e}.{proj}.weight").SequenceEqual(sources[e].GetBytes(dense)),
                        $"expert {e} layer {layer} {proj} is not a bit-for-bit copy");
            }
            foreach (var name in new[] { "model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight" })
            {
                var actual = Floats(moe, name);
                var each = sources.Select(s => Floats(s, name)).ToList();
                for (var i = 0; i < actual.Length; i++) Assert.True(Math.Abs(each.Average(v => (double)v[i]) - actual[i]) < 1e-6, $"{name}[{i}] is not the mean");
            }
            var domain = Floats(moe, "model.layers.0.mlp.router.domain_embeddings");
            Assert.Equal(experts.SelectMany(e => e.DomainEmbedding!), domain);
            // The projection's first layer is fan-in scaled (1/√6 for these 6-wide embeddings), its second HF's 0.02.
            static double Rms(float[] values) => Math.Sqrt(values.Average(v => (double)v * v));
            foreach (var w1 in new[] { "gate_proj", "up_proj" })
                Assert.InRange(Rms(Floats(moe, $"model.layers.1.mlp.router.{w1}.weight")), 0.85 / Math.Sqrt(6), 1.15 / Math.Sqrt(6));
            Assert.InRange(Rms(Floats(moe, "model.layers.1.mlp.router.down_proj.weight")), 0.017, 0.023);
        }
        finally
        {
            foreach (var s in sources) s.Dispose();
        }

        using var model = new NexusMoeForCausalLM(NexusMoeConfig.Load(Path.Combine(output, "config.json")));
        using (var weights = SafetensorsCheckpoint.Open(output)) ModelWeights.Load(model, weights, model.Config);
        using var noGrad = no_grad();
        var logits = model.Forward(tensor(new long[] { 1, 2, 3, 4 }, [1, 4]));
        Assert.Equal(new long[] { 1, 4, config.VocabSize }, logits.shape);
        Assert.IsType<ByteTokenizer>(TokenizerFiles.Load(output));
    }

    [Fact]
    public void RouterInitialisationIsSeededAndLinearRoutersNeedNoEmbeddings()
    {
        var seed = SaveDense("seed", 1);
        var experts = new[] { "a", "b" }.Select((n, i) => new UpcycleExpert(n, SaveDense(n, 20 + i), null)).ToList();
        Upcycler.Run(seed, experts, RouterKind.Linear, Path.Combine(temp.Path, "one"), seed: 5);
        Upcycler.Run(seed, experts, RouterKind.Linear, Path.Combine(temp.Path, "two"), seed: 5);
        using var one = SafetensorsCheckpoint.Open(Path.Combine(temp.Path, "one"));
        using var two = SafetensorsCheckpoint.Open(Path.Combine(temp.Path, "two"));
        var router = Floats(one, "model.layers.0.mlp.router.weight");
        Assert.Equal(router, Floats(two, "model.layers.0.mlp.router.weight"));
        var std = Math.Sqrt(router.Average(v => (double)v * v));
        Assert.InRange(std, 0.01, 0.04);
    }

    [Fact]
    public void BadInputsFailClearly()
    {
        var seed = SaveDense("seed", 1);
        var a = new UpcycleExpert("a", SaveDense("a", 2), Embedding(1));
        var wider = new UpcycleExpert("wide", SaveDense("wide", 3, LlamaConfig.Preset("tiny") with { IntermediateSize = 200 }), Embedding(2));
        var output = Path.Combine(temp.Path, "out");

        Assert.Contains("at least one expert", Assert.Throws<ArgumentException>(() => Upcycler.Run(seed, [], RouterKind.Nexus, output)).Message);
        Assert.Contains("does not share the seed's architecture", Assert.Throws<InvalidDataException>(() => Upcycler.Run(seed, [a, wider], RouterKind.Nexus, output)).Message);
        Assert.Contains("no domain embedding", Assert.Throws<ArgumentException>(() => Upcycler.Run(seed, [a, a with { Name = "b", DomainEmbedding = null }], RouterKind.Nexus, output)).Message);
        Assert.Contains("has width 4", Assert.Throws<ArgumentException>(() => Upcycler.Run(seed, [a, a with { Name = "b", DomainEmbedding = Embedding(3, width: 4) }], RouterKind.Nexus, output)).Message);
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() => Upcycler.Run(seed, [a, a], RouterKind.Nexus, output)).Message);
        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetDirectories(temp.Path), d => Path.GetFileName(d).Contains("out", StringComparison.Ordinal)); // no staging left
    }

    [Fact]
    public void AnExpertMissingATensorFailsMidStreamAndLeavesNothing()
    {
        var seed = SaveDense("seed", 1);
        var whole = new UpcycleExpert("whole", SaveDense("whole", 2), Embedding(1));
        var holed = SaveDense("holed", 3);
        var missing = "model.layers.1.self_attn.k_proj.weight";
        var weights = Path.Combine(holed, ModelCheckpoint.WeightsFile);
        var kept = new List<(TensorSpec Spec, ReadOnlyMemory<byte> Bytes)>();
        using (var original = SafetensorsCheckpoint.Open(weights))
            foreach (var name in original.Names.Where(n => n != missing))
            {
                var entry = original.Entry(name);
                kept.Add((new TensorSpec(name, entry.Dtype, entry.Shape), original.GetBytes(name).ToArray()));
            }
        SafetensorsWriter.Write(weights, kept);
        var output = Path.Combine(temp.Path, "out");

        var error = Assert.Throws<InvalidDataException>(() => Upcycler.Run(seed, [whole, new UpcycleExpert("holed", holed, Embedding(2))], RouterKind.Nexus, output));

        Assert.Contains(missing, error.Message);
        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetDirectories(temp.Path), d => Path.GetFileName(d).Contains("out", StringComparison.Ordinal));
    }
}
