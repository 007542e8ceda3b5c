using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;
using Nexus.Training.Export;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Nexus.Training.Tests.Export;

/// <summary>
/// Runs apart from the parallel collections (xunit orders it after <see cref="MemoryTests"/>). In among them, its
/// forwards, which start after a Python run of seconds, overlap the trainer tests' libtorch work, and
/// MemoryTests then saw its resident memory grow by 20–40 MiB in every full run (likely libtorch's extra worker
/// threads and their malloc arenas; bisected to the overlap, not proven).
/// </summary>
[CollectionDefinition(nameof(ExportTests), DisableParallelization = true)]
[Collection(nameof(ExportTests))]
public sealed class ExportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private string Dir(string name) => Path.Combine(temp.Path, name);

    private static float[] Floats(SafetensorsCheckpoint checkpoint, string name)
    {
        var entry = checkpoint.Entry(name);
        var values = new float[entry.ElementCount];
        SafetensorsConversions.ToSingle(entry.Dtype, checkpoint.GetBytes(name), values);
        return values;
    }

    private static JsonObject ReadConfig(string directory) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!.AsObject();

    [PythonReferenceTheory]
    [InlineData("qwen2-moe", RouterKind.Nexus, 1, true)]
    [InlineData("deepseek-moe", RouterKind.Nexus, 1, false)]
    [InlineData("qwen2-moe", RouterKind.Nexus, 2, false)]
    [InlineData("deepseek-moe", RouterKind.Nexus, 2, true)]
    [InlineData("qwen2-moe", RouterKind.Linear, 1, false)]
    [InlineData("deepseek-moe", RouterKind.Linear, 2, true)]
    public void ExportedCheckpointGivesOurLogitsInTheHuggingFaceReferenceForward(string format, RouterKind router, int topK, bool tied)
    {
        using var model = TinyMoe.Create(TinyMoe.Config(router, topK, tied), seed: 11 + topK);
        var source = TinyMoe.Save(model, Dir("moe"));
        HfExporter.Run(source, HfMoeFormat.Parse(format), Dir("hf"));

        var ids = TinyMoe.RandomIds(batch: 2, length: 16, model.Config.VocabSize, seed: 5);
        var reference = PythonReference.Run(Dir("hf"), ids, temp.Path);

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ours = model.ForwardDetailed(tensor(ids.SelectMany(s => s).ToArray(), [ids.Length, ids[0].Length]));
        Assert.Equal(ours.Logits.shape, reference.Shape);
        var logits = ours.Logits.contiguous().data<float>().ToArray();
        var maxDiff = logits.Zip(reference.Logits, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"{format}, {router} router, top-{topK}, tied {tied}: max |logit difference| = {maxDiff:E2} " +
                         $"(logits up to {logits.Max(Math.Abs):F2})");
        Assert.True(maxDiff < 1e-4, $"max logit difference {maxDiff}");

        // The same experts for every token in every layer, and the model really routes: each layer uses
        // at least three of the four experts and every expert is chosen somewhere.
        var used = new HashSet<int>();
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
        {
            var chosen = ours.ExpertsPerLayer[layer].data<long>().ToArray();
            var perToken = reference.Experts[layer];
            Assert.Equal(chosen.Length, perToken.Length * topK);
            for (var token = 0; token < perToken.Length; token++)
                Assert.Equal(chosen.Skip(token * topK).Take(topK).Order(), perToken[token].Select(e => (long)e).Order());
            var inLayer = perToken.SelectMany(e => e).ToHashSet();
            Assert.True(inLayer.Count >= 3, $"layer {layer} routes to only {inLayer.Count} experts");
            used.UnionWith(inLayer);
        }
        Assert.Equal(TinyMoe.ExpertNames.Length, used.Count);
    }

    [Theory]
    [InlineData("qwen2-moe")]
    [InlineData("deepseek-moe")]
    public void RouterGateIsThePrecomputedExpertEmbeddings(string format)
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true), seed: 3);
        HfExporter.Run(TinyMoe.Save(model, Dir("moe")), HfMoeFormat.Parse(format), Dir("hf"));

        using var exported = SafetensorsCheckpoint.Open(Dir("hf"));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
        {
            var router = Assert.IsType<NexusRouter>(model.Decoder.Layers[layer].Moe.Router);
            var expected = router.ExpertEmbeddings().contiguous().data<float>().ToArray();
            var gate = Floats(exported, $"model.layers.{layer}.mlp.gate.weight");
            Assert.Equal([TinyMoe.ExpertNames.Length, model.Config.HiddenSize], exported.Entry($"model.layers.{layer}.mlp.gate.weight").Shape);
            // E in double rounded once vs libtorch's float32 matmuls: equal to within float rounding.
            var scale = expected.Max(Math.Abs);
            var maxDiff = expected.Zip(gate, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxDiff <= 1e-6 * scale, $"layer {layer}: gate differs from E by {maxDiff} (|E| up to {scale})");
        }
    }

    [Fact]
    public void LinearRouterWeightBecomesTheGateBitForBit()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Linear, topK: 2, tied: false), seed: 4);
        var source = TinyMoe.Save(model, Dir("moe"));
        HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("hf"));
        using var ours = SafetensorsCheckpoint.Open(source);
        using var exported = SafetensorsCheckpoint.Open(Dir("hf"));
        Assert.True(exported.GetBytes("model.layers.1.mlp.gate.weight").SequenceEqual(ours.GetBytes("model.layers.1.mlp.router.weight")));
    }

    [Fact]
    public void Qwen2MoeHoldsTheSameWeightsWithAHalfGatedDoubledSharedExpertAndZeroBiases()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: false), seed: 6);
        var source = TinyMoe.Save(model, Dir("moe"));
        var summary = HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("hf"));

        using var ours = SafetensorsCheckpoint.Open(source);
        using var exported = SafetensorsCheckpoint.Open(Dir("hf"));
        var expectedNames = HfMoeFormat.Qwen2Moe.Tensors(model.MoeConfig).Select(t => t.Name).ToHashSet();
        Assert.Equal(expectedNames.Order(), exported.Names.Order());
        Assert.Equal(summary.Tensors, expectedNames.Count);
        Assert.Contains("lm_head.weight", expectedNames);
        foreach (var name in ours.Names.Where(n => !n.Contains(".mlp.", StringComparison.Ordinal)))
            Assert.True(exported.GetBytes(name).SequenceEqual(ours.GetBytes(name)), $"{name} is not copied bit for bit");
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
        {
            var p = $"model.layers.{layer}.";
            for (var e = 0; e < TinyMoe.ExpertNames.Length; e++)
                foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
                    Assert.True(exported.GetBytes($"{p}mlp.experts.{e}.{proj}.weight").SequenceEqual(ours.GetBytes($"{p}mlp.experts.{e}.{proj}.weight")));
            Assert.True(exported.GetBytes($"{p}mlp.shared_expert.up_proj.weight").SequenceEqual(ours.GetBytes($"{p}mlp.shared_expert.up_proj.weight")));
            Assert.Equal(Floats(ours, $"{p}mlp.shared_expert.down_proj.weight").Select(v => 2 * v), Floats(exported, $"{p}mlp.shared_expert.down_proj.weight"));
            Assert.Equal([1, model.Config.HiddenSize], exported.Entry($"{p}mlp.shared_expert_gate.weight").Shape);
            Assert.All(Floats(exported, $"{p}mlp.shared_expert_gate.weight"), v => Assert.Equal(0f, v));
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj" })
            {
                Assert.Equal(exported.Entry($"{p}self_attn.{proj}.weight").Shape[0], exported.Entry($"{p}self_attn.{proj}.bias").Shape.Single());
                Assert.All(Floats(exported, $"{p}self_attn.{proj}.bias"), v => Assert.Equal(0f, v));
            }
        }

        var config = ReadConfig(Dir("hf"));
        Assert.Equal("qwen2_moe", (string?)config["model_type"]);
        Assert.Equal("Qwen2MoeForCausalLM", (string?)config["architectures"]![0]);
        Assert.Equal(4, (int?)config["num_experts"]);
        Assert.Equal(1, (int?)config["num_experts_per_tok"]);
        Assert.False((bool?)config["norm_topk_prob"]);
        Assert.Equal(model.Config.IntermediateSize, (int?)config["moe_intermediate_size"]);
        Assert.Equal(model.Config.IntermediateSize, (int?)config["shared_expert_intermediate_size"]);
        Assert.Equal(1, (int?)config["decoder_sparse_step"]);
        Assert.Empty(config["mlp_only_layers"]!.AsArray());
        Assert.False((bool?)config["use_sliding_window"]);
        Assert.False((bool?)config["tie_word_embeddings"]);
        Assert.Equal("float32", (string?)config["torch_dtype"]);
        Assert.Equal(TinyMoe.ExpertNames, config["nexus_expert_names"]!.AsArray().Select(n => (string?)n));
        Assert.IsType<ByteTokenizer>(TokenizerFiles.Load(Dir("hf")));
    }

    [Fact]
    public void DeepseekMoeHoldsTheSameWeightsWithAnUngatedSharedExpert()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 2, tied: true), seed: 8);
        var source = TinyMoe.Save(model, Dir("moe"));
        HfExporter.Run(source, HfMoeFormat.DeepseekMoe, Dir("hf"));

        using var ours = SafetensorsCheckpoint.Open(source);
        using var exported = SafetensorsCheckpoint.Open(Dir("hf"));
        Assert.Equal(HfMoeFormat.DeepseekMoe.Tensors(model.MoeConfig).Select(t => t.Name).Order(), exported.Names.Order());
        Assert.False(exported.Contains("lm_head.weight"));
        Assert.DoesNotContain(exported.Names, n => n.EndsWith(".bias", StringComparison.Ordinal) || n.Contains("router", StringComparison.Ordinal));
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
            foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
                Assert.True(exported.GetBytes($"model.layers.{layer}.mlp.shared_experts.{proj}.weight")
                    .SequenceEqual(ours.GetBytes($"model.layers.{layer}.mlp.shared_expert.{proj}.weight")));

        var config = ReadConfig(Dir("hf"));
        Assert.Equal("deepseek", (string?)config["model_type"]);
        Assert.Equal("DeepseekForCausalLM", (string?)config["architectures"]![0]);
        Assert.Equal(4, (int?)config["n_routed_experts"]);
        Assert.Equal(1, (int?)config["n_shared_experts"]);
        Assert.Equal(2, (int?)config["num_experts_per_tok"]);
        Assert.Equal(0, (int?)config["first_k_dense_replace"]);
        Assert.Equal(1, (int?)config["moe_layer_freq"]);
        Assert.Equal("softmax", (string?)config["scoring_func"]);
        Assert.False((bool?)config["norm_topk_prob"]);
        Assert.False((bool?)config["attention_bias"]);
        Assert.Equal(model.MoeConfig.RouterAuxLossCoefficient, (double?)config["aux_loss_alpha"]);
        Assert.EndsWith("modeling_deepseek.DeepseekForCausalLM", (string?)config["auto_map"]!["AutoModelForCausalLM"]);
        Assert.True((bool?)config["tie_word_embeddings"]);
    }

    [Theory]
    [InlineData("bf16", SafetensorsDtype.BF16, "bfloat16")]
    [InlineData("f16", SafetensorsDtype.F16, "float16")]
    public void HalfPrecisionExportsAreTheF32ExportRounded(string dtypeName, SafetensorsDtype dtype, string torchDtype)
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true), seed: 9);
        var source = TinyMoe.Save(model, Dir("moe"));
        HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("f32"));
        HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("half"), ModelWeights.ParseDtype(dtypeName));

        Assert.Equal(torchDtype, (string?)ReadConfig(Dir("half"))["torch_dtype"]);
        using var full = SafetensorsCheckpoint.Open(Dir("f32"));
        using var half = SafetensorsCheckpoint.Open(Dir("half"));
        foreach (var name in full.Names)
        {
            Assert.Equal(dtype, half.Entry(name).Dtype);
            var values = Floats(full, name);
            var rounded = new byte[values.Length * dtype.ElementSize()];
            SafetensorsConversions.FromSingle(dtype, values, rounded);
            Assert.True(half.GetBytes(name).SequenceEqual(rounded), $"{name} is not the f32 export rounded to {dtypeName}");
        }
    }

    [Fact]
    public void ExportReplacesAnEarlierExportWhole()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true), seed: 2);
        var source = TinyMoe.Save(model, Dir("moe"));
        HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("hf"));
        File.WriteAllText(Path.Combine(Dir("hf"), "stale.txt"), "from before");
        HfExporter.Run(source, HfMoeFormat.DeepseekMoe, Dir("hf"));
        Assert.False(File.Exists(Path.Combine(Dir("hf"), "stale.txt")));
        Assert.Equal("deepseek", (string?)ReadConfig(Dir("hf"))["model_type"]);
        Assert.Empty(Directory.GetDirectories(temp.Path, ".hf*"));
    }

    [Fact]
    public void UnknownFormatNamesTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => HfMoeFormat.Parse("mixtral"));
        Assert.Equal("Unknown export format 'mixtral': use qwen2-moe or deepseek-moe.", error.Message);
    }

    [Fact]
    public void MissingModelFolderIsNamed()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() => HfExporter.Run(Dir("nowhere"), HfMoeFormat.Qwen2Moe, Dir("hf")));
        Assert.Contains("nowhere' does not exist", error.Message);
        Assert.False(Directory.Exists(Dir("hf")));
    }

    [Fact]
    public void DenseCheckpointIsRefusedBecauseItIsAlreadyLlama()
    {
        using var dense = new LlamaForCausalLM(LlamaConfig.Preset("tiny"));
        ModelCheckpoint.Save(dense, Dir("dense"), TokenizerFiles.SaveByte);
        var error = Assert.Throws<ArgumentException>(() => HfExporter.Run(Dir("dense"), HfMoeFormat.DeepseekMoe, Dir("hf")));
        Assert.StartsWith("export needs a Nexus MoE; dense checkpoints are already Llama", error.Message);
        Assert.False(Directory.Exists(Dir("hf")));
    }

    [Theory]
    [InlineData("qwen2-moe")]
    [InlineData("deepseek-moe")]
    public void HeadDimOtherThanHiddenOverHeadsIsRefused(string format)
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true, headDim: 32), seed: 1);
        var source = TinyMoe.Save(model, Dir("moe"));
        var error = Assert.Throws<ArgumentException>(() => HfExporter.Run(source, HfMoeFormat.Parse(format), Dir("hf")));
        Assert.Equal($"{format} derives head_dim as hidden_size / num_attention_heads (64 / 4), but this model has head_dim 32; " +
                     $"it cannot be exported as {format}.", error.Message);
        Assert.False(Directory.Exists(Dir("hf")));
    }

    [Fact]
    public void WeightsThatDoNotMatchTheConfigAreRefusedByName()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true), seed: 1);
        var source = TinyMoe.Save(model, Dir("moe"));
        (model.MoeConfig with { ExpertNames = [.. TinyMoe.ExpertNames, "extra"] }).Save(Path.Combine(source, "config.json"));
        var error = Assert.Throws<InvalidDataException>(() => HfExporter.Run(source, HfMoeFormat.Qwen2Moe, Dir("hf")));
        Assert.Contains("missing tensors: model.layers.0.mlp.experts.4.gate_proj.weight", error.Message);
        Assert.Contains("model.layers.0.mlp.router.domain_embeddings has shape [4, 12], config.json implies [5, 12]", error.Message);
        Assert.False(Directory.Exists(Dir("hf")));
    }

    [Fact]
    public void OutputThatWouldReplaceTheModelIsRefused()
    {
        using var model = TinyMoe.Create(TinyMoe.Config(RouterKind.Nexus, topK: 1, tied: true), seed: 1);
        var source = TinyMoe.Save(model, Dir("moe"));
        Assert.Throws<ArgumentException>(() => HfExporter.Run(source, HfMoeFormat.Qwen2Moe, source));
        var error = Assert.Throws<ArgumentException>(() => HfExporter.Run(source, HfMoeFormat.Qwen2Moe, temp.Path));
        Assert.Contains("would replace the model folder", error.Message);
        Assert.True(File.Exists(Path.Combine(source, "model.safetensors")));
    }
}
