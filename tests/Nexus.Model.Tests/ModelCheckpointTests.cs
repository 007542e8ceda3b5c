using Nexus.Model;
using Nexus.Model.Safetensors;
using Nexus.Model.Tokenization;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

public class ModelCheckpointTests
{
    private static void AssertSameLogits(CausalLanguageModel expected, CausalLanguageModel actual, double tolerance)
    {
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(10, expected.Config.VocabSize, seed: 9);
        Assert.True(expected.Forward(ids).allclose(actual.Forward(ids), rtol: tolerance, atol: tolerance));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SavedModelLoadsWithIdenticalLogits(bool tied)
    {
        using var temp = new TempDirectory();
        using var model = TinyModels.Create(TinyModels.Config(tied));
        ModelCheckpoint.Save(model, temp.Path, TokenizerFiles.SaveByte);

        var (loaded, tokenizer) = ModelCheckpoint.Load(temp.Path);
        using var _ = loaded;
        Assert.IsType<ByteTokenizer>(tokenizer);
        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
        AssertSameLogits(model, loaded, 0);
    }

    [Fact]
    public void Bf16WeightsLoadIntoAnFp32Model()
    {
        using var temp = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, temp.Path, TokenizerFiles.SaveByte, SafetensorsDtype.BF16);
        using var file = SafetensorsFile.Open(Path.Combine(temp.Path, ModelCheckpoint.WeightsFile));
        Assert.All(file.Tensors, t => Assert.Equal(SafetensorsDtype.BF16, t.Dtype));

        using var loaded = ModelCheckpoint.LoadDense(temp.Path);
        Assert.Equal(ScalarType.Float32, loaded.Decoder.EmbedTokens.weight!.dtype);
        foreach (var ((name, a), (_, b)) in model.named_parameters().Zip(loaded.named_parameters()))
            Assert.True(a.allclose(b, rtol: 1e-2, atol: 1e-2), $"{name} differs beyond bf16 rounding");
    }

    [Fact]
    public void ShardedHubStyleCheckpointLoadsByName()
    {
        using var temp = new TempDirectory();
        using var model = TinyModels.Create(TinyModels.Config(tied: true));
        model.Config.Save(Path.Combine(temp.Path, ModelCheckpoint.ConfigFile));
        // As the Hub writes them: reversed order, sharded, a redundant lm_head copy and rotary frequencies.
        var tensors = model.named_parameters().Reverse()
            .Select(p => (Name: p.name, Tensor: p.parameter.detach()))
            .Append((Name: "lm_head.weight", Tensor: model.Decoder.EmbedTokens.weight!.detach()))
            .Append((Name: "model.layers.0.self_attn.rotary_emb.inv_freq", Tensor: ones(8)))
            .ToList();
        var layout = tensors.Select(t => new TensorSpec(t.Name, SafetensorsDtype.F32, t.Tensor.shape)).ToList();
        using (var writer = SafetensorsCheckpointWriter.Create(temp.Path, layout, maxShardBytes: 40_000))
        {
            foreach (var (name, tensor) in tensors) writer.WriteTensor(name, tensor.contiguous().bytes);
            writer.Commit();
        }
        TokenizerFiles.SaveByte(temp.Path);
        Assert.True(File.Exists(Path.Combine(temp.Path, "model.safetensors.index.json")));

        using var loaded = ModelCheckpoint.LoadDense(temp.Path);
        AssertSameLogits(model, loaded, 0);
    }

    [Fact]
    public void ACheckpointOfAnotherShapeIsAClearError()
    {
        using var temp = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, temp.Path, TokenizerFiles.SaveByte);
        var wider = model.Config with { IntermediateSize = model.Config.IntermediateSize * 2 };
        wider.Save(Path.Combine(temp.Path, ModelCheckpoint.ConfigFile));

        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadDense(temp.Path));
        Assert.Contains("mlp.gate_proj.weight has shape", error.Message);
    }

    [Fact]
    public void MissingTensorsAreNamed()
    {
        using var temp = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, temp.Path, TokenizerFiles.SaveByte);
        (model.Config with { NumHiddenLayers = 3 }).Save(Path.Combine(temp.Path, ModelCheckpoint.ConfigFile));

        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadDense(temp.Path));
        Assert.Contains("missing tensors: model.layers.2.", error.Message);
    }

    [Fact]
    public void SavingOverAModelReplacesItWhole()
    {
        using var temp = new TempDirectory();
        using var first = TinyModels.Create(seed: 1);
        using var second = TinyModels.Create(seed: 2);
        ModelCheckpoint.Save(first, temp.Path, TokenizerFiles.SaveByte);
        ModelCheckpoint.Save(second, temp.Path, TokenizerFiles.SaveByte);
        using var loaded = ModelCheckpoint.LoadDense(temp.Path);
        AssertSameLogits(second, loaded, 0);
        var leftovers = Directory.GetDirectories(Path.GetDirectoryName(temp.Path)!)
            .Where(d => d != temp.Path && Path.GetFileName(d).Contains(Path.GetFileName(temp.Path), StringComparison.Ordinal));
        Assert.Empty(leftovers); // no staging or replaced folder left behind
    }

    [Fact]
    public void GreedyGenerationIsDeterministicAndStopsAtStopSequences()
    {
        using var model = TinyModels.Create();
        var generator = new TextGenerator(model, new ByteTokenizer());
        var options = new SamplingOptions { MaxNewTokens = 24, Temperature = 0 };
        var streamed = new List<string>();
        var text = generator.Generate("abc", options, streamed.Add);
        Assert.Equal(text, generator.Generate("abc", options));
        Assert.Equal(text, string.Concat(streamed));

        var sampled = new SamplingOptions { MaxNewTokens = 24, Temperature = 1.0, TopP = 0.9, Seed = 5 };
        Assert.Equal(generator.Generate("abc", sampled), generator.Generate("abc", sampled));

        var ids = generator.GenerateIds(new ByteTokenizer().Encode("abc", addBos: true), options).ToList();
        Assert.True(ids.Count > 3);
        var stop = new ByteTokenizer().Decode(ids.Skip(2).Take(2).ToArray());
        var stopped = generator.Generate("abc", options with { Stop = [stop] });
        Assert.DoesNotContain(stop, stopped);
        Assert.True(stopped.Length < text.Length || !text.Contains(stop));
    }
}
