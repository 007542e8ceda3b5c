using Nexus.Model;
using Nexus.Model.Safetensors;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

public class NexusMoeModelTests
{
    private static NexusMoeConfig MoeConfig(LlamaConfig dense, int experts, RouterKind router = RouterKind.Nexus) =>
        NexusMoeConfig.FromDense(dense, Enumerable.Range(0, experts).Select(i => $"expert-{i}").ToList(), router, domainEmbeddingSize: 12);

    /// <summary>Copies every tensor the two models share by name; returns the names copied.</summary>
    private static HashSet<string> CopyShared(nn.Module from, nn.Module to)
    {
        var source = from.state_dict();
        var copied = new HashSet<string>();
        using var noGrad = no_grad();
        foreach (var (name, tensor) in to.state_dict())
            if (source.TryGetValue(name, out var value) && value.shape.SequenceEqual(tensor.shape))
            {
                tensor.copy_(value);
                copied.Add(name);
            }
        return copied;
    }

    [Fact]
    public void OneRoutedCopyOfTheDenseFfnWithNoSharedExpertGivesTheDenseLogits()
    {
        using var dense = TinyModels.Create();
        using var moe = new NexusMoeForCausalLM(MoeConfig(dense.Config, experts: 1));
        var copied = CopyShared(dense, moe);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", copied);
        using (no_grad())
        {
            var denseState = dense.state_dict();
            foreach (var (name, tensor) in moe.state_dict())
            {
                if (name.Contains(".mlp.experts.0.")) tensor.copy_(denseState[name.Replace(".mlp.experts.0.", ".mlp.")]);
                else if (name.Contains(".mlp.shared_expert.")) tensor.zero_();
            }
        }
        moe.eval();
        using var noGrad2 = no_grad();
        var ids = TinyModels.RandomIds(12, dense.Config.VocabSize, seed: 3, batch: 2);
        var expected = dense.Forward(ids);
        var actual = moe.Forward(ids); // softmax over one expert: the gate is exactly 1
        Assert.True(expected.allclose(actual, rtol: 1e-5, atol: 1e-5), $"max diff {(expected - actual).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(RouterKind.Nexus)]
    [InlineData(RouterKind.Linear)]
    public void RoundTripsThroughSafetensorsIncludingDomainEmbeddings(RouterKind router)
    {
        using var temp = new TempDirectory();
        using var dense = TinyModels.Create();
        var config = MoeConfig(dense.Config, experts: 3, router);
        using var moe = new NexusMoeForCausalLM(config);
        using (no_grad()) foreach (var (_, tensor) in moe.state_dict()) tensor.normal_(0, 0.2);
        var path = temp.File("model.safetensors");
        ModelWeights.Save(moe, path);
        using (var file = SafetensorsFile.Open(path))
            Assert.Equal(router == RouterKind.Nexus, file.Contains("model.layers.1.mlp.router.domain_embeddings"));

        var back = NexusMoeConfig.FromJson(config.ToJson());
        Assert.Equal(config.ToJson(), back.ToJson());
        using var loaded = new NexusMoeForCausalLM(back);
        using (var checkpoint = SafetensorsCheckpoint.Open(path)) ModelWeights.Load(loaded, checkpoint, back);
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(9, config.VocabSize, seed: 4);
        Assert.True(moe.Forward(ids).allclose(loaded.Forward(ids), rtol: 0, atol: 0));
    }

    [Fact]
    public void PrecomputedRoutersGiveTheSameLogitsAndRoutes()
    {
        using var dense = TinyModels.Create();
        using var moe = new NexusMoeForCausalLM(MoeConfig(dense.Config, experts: 4));
        using (no_grad()) foreach (var (_, tensor) in moe.state_dict()) tensor.normal_(0, 0.3);
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(16, dense.Config.VocabSize, seed: 5);
        var training = moe.ForwardDetailed(ids);
        moe.PrepareForInference();
        var inference = moe.ForwardDetailed(ids);
        Assert.True(training.Logits.allclose(inference.Logits, rtol: 0, atol: 1e-5));
        Assert.All(training.ExpertsPerLayer.Zip(inference.ExpertsPerLayer), p => Assert.True((p.First == p.Second).all().item<bool>()));
        Assert.True(training.AuxLoss!.item<float>() > 0);
    }

    [Theory]
    [InlineData("""{"model_type":"nexus_moe","expert_names":[]}""", "expert_names")]
    [InlineData("""{"model_type":"nexus_moe","expert_names":["a","a"],"domain_embedding_size":4,"router_projection_size":4}""", "repeat")]
    [InlineData("""{"model_type":"nexus_moe","expert_names":["a","b"],"num_experts_per_tok":3,"domain_embedding_size":4,"router_projection_size":4}""", "num_experts_per_tok")]
    [InlineData("""{"model_type":"nexus_moe","expert_names":["a","b"],"router_type":"hash"}""", "router_type")]
    [InlineData("""{"model_type":"nexus_moe","expert_names":["a","b"]}""", "domain_embedding_size")]
    [InlineData("""{"model_type":"llama"}""", "model_type")]
    public void InvalidMoeConfigsNameTheKey(string json, string expected)
    {
        var error = Assert.Throws<InvalidModelConfigException>(() => NexusMoeConfig.FromJson(json));
        Assert.Contains(expected, error.Message);
    }
}

public class NexusMoeLayoutTests
{
    [Theory]
    [InlineData(RouterKind.Nexus, true)]
    [InlineData(RouterKind.Linear, false)]
    public void TensorShapesListExactlyTheModelsState(RouterKind router, bool tied)
    {
        var dense = TinyModels.Config(tied);
        var config = NexusMoeConfig.FromDense(dense, ["a", "b", "c"], router, domainEmbeddingSize: 10);
        using var model = new NexusMoeForCausalLM(config);
        var actual = model.state_dict().Select(p => (p.Key, string.Join("x", p.Value.shape))).OrderBy(p => p.Key).ToList();
        var expected = config.TensorShapes().Select(p => (p.Name, string.Join("x", p.Shape))).OrderBy(p => p.Name).ToList();
        Assert.Equal(expected, actual);
    }
}
