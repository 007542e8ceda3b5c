using Nexus.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

public class LlamaTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChangingAFutureTokenNeverChangesEarlierLogits(bool sdpa)
    {
        using var model = TinyModels.Create();
        model.UseSdpa = sdpa;
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(24, model.Config.VocabSize, seed: 1);
        var altered = ids.clone();
        altered[0, 15] = (ids[0, 15] + 1) % model.Config.VocabSize;

        var before = model.Forward(ids);
        var after = model.Forward(altered);

        Assert.True(before[.., ..15].allclose(after[.., ..15], rtol: 0, atol: 1e-6), "logits before the change moved");
        Assert.False(before[.., 15..].allclose(after[.., 15..], rtol: 0, atol: 1e-3), "logits at and after the change did not move");
    }

    [Fact]
    public void SdpaAndExplicitAttentionAgree()
    {
        using var model = TinyModels.Create();
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(32, model.Config.VocabSize, seed: 2, batch: 3);
        model.UseSdpa = true;
        var fast = model.Forward(ids);
        model.UseSdpa = false;
        var plain = model.Forward(ids);
        Assert.True(fast.allclose(plain, rtol: 1e-4, atol: 1e-4));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CachedDecodingEqualsFullForward(bool sdpa)
    {
        using var model = TinyModels.Create();
        model.UseSdpa = sdpa;
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(20, model.Config.VocabSize, seed: 3, batch: 2);
        var full = model.Forward(ids);

        using var cache = model.NewCache(2, 20);
        var prefill = model.Forward(ids[.., ..8], cache);            // nothing cached: causal prefill
        var chunk = model.Forward(ids[.., 8..12], cache);            // several tokens after a cached past
        var steps = Enumerable.Range(12, 8).Select(t => model.Forward(ids[.., t..(t + 1)], cache)).ToList();
        var incremental = cat([prefill, chunk, .. steps], dim: 1);

        Assert.Equal(20, cache.Length);
        Assert.True(full.allclose(incremental, rtol: 1e-4, atol: 1e-4), $"max diff {(full - incremental).abs().max().item<float>()}");
    }

    [Fact]
    public void ParameterNamesAndShapesFollowHuggingFace()
    {
        foreach (var tied in new[] { true, false })
        {
            var config = TinyModels.Config(tied);
            using var model = new LlamaForCausalLM(config);
            var actual = model.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))).OrderBy(p => p.name).ToList();
            var expected = config.ParameterShapes().Select(p => (p.Name, string.Join("x", p.Shape))).OrderBy(p => p.Name).ToList();
            Assert.Equal(expected, actual);
            Assert.Contains(actual, p => p.name == "model.layers.1.self_attn.k_proj.weight");
            Assert.Equal(!tied, actual.Any(p => p.name == "lm_head.weight"));
        }
    }

    [Fact]
    public void TiedHeadUsesTheEmbeddingMatrix()
    {
        using var model = TinyModels.Create(TinyModels.Config(tied: true));
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(5, model.Config.VocabSize, seed: 4);
        var hidden = model.HiddenStates(ids);
        var expected = hidden.matmul(model.Decoder.EmbedTokens.weight!.t());
        Assert.True(model.Forward(ids).allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void GradientsReachEveryParameter()
    {
        using var model = TinyModels.Create(TinyModels.Config(tied: false));
        model.train();
        var ids = TinyModels.RandomIds(12, model.Config.VocabSize, seed: 5, batch: 2);
        var logits = model.Forward(ids);
        nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), ids.view(-1)).backward();
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.True(parameter.grad is not null && parameter.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");
        }
    }

    [Fact]
    public void ContextBeyondMaxPositionsIsAClearError()
    {
        using var model = TinyModels.Create();
        using var noGrad = no_grad();
        var ids = TinyModels.RandomIds(model.Config.MaxPositionEmbeddings + 1, model.Config.VocabSize, seed: 6);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(ids));
        Assert.Contains("max_position_embeddings", error.Message);
    }
}
