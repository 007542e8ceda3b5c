using Nexus.Model;

namespace Nexus.Bench.Tests;

public sealed class ServeModelsTests
{
    private static readonly LlamaConfig Seed = new()
    {
        HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        MaxPositionEmbeddings = 128, TieWordEmbeddings = false,
    };

    [Fact]
    public void The_dense_model_has_the_moes_active_ffn_width_and_every_other_shape()
    {
        var moe = ServeModels.Moe(Seed, experts: 4, topK: 2);
        var dense = ServeModels.MatchingDense(moe);

        Assert.Equal(4, moe.NumExperts);
        Assert.Equal(2, moe.NumExpertsPerToken);
        Assert.Equal(RouterKind.Nexus, moe.Router);
        Assert.Equal("llama", dense.ModelType);
        Assert.Equal(3 * 96, dense.IntermediateSize); // shared expert + 2 routed
        Assert.Equal((Seed with { IntermediateSize = 3 * 96 }).ToJson(), dense.ToJson());
    }

    [Fact]
    public void Active_parameters_of_the_moe_are_total_less_unused_experts_and_router_projection_plus_e()
    {
        var moe = ServeModels.Moe(Seed, experts: 4, topK: 2);
        long h = 64, i = 96, layers = 3, ffn = 3 * h * i, m = moe.DomainEmbeddingSize, p = moe.RouterProjectionSize;

        // Counted another way: every trainable parameter, less per layer the 2 experts a token skips and the router's
        // projection P (which runs once at load), plus E [4, h] which every token is scored against.
        var expected = moe.ParameterCount() - layers * (2 * ffn + 2 * p * m + h * p) + layers * 4 * h;
        Assert.Equal(expected, ServeModels.ActiveParameters(moe));

        var dense = ServeModels.MatchingDense(moe);
        Assert.Equal(dense.ParameterCount(), ServeModels.ActiveParameters(dense));
        Assert.Equal(layers * 4 * h, ServeModels.ActiveParameters(moe) - ServeModels.ActiveParameters(dense));
    }
}
