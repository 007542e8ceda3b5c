using Nexus.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Model.Tests;

public class MoeTests
{
    private const int Hidden = 16, Intermediate = 24, Experts = 4;

    private static LlamaMlp Mlp(long seed, double scale = 0.3)
    {
        var mlp = new LlamaMlp(Hidden, Intermediate);
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, p) in mlp.named_parameters()) p.normal_(0, scale, generator);
        return mlp;
    }

    private static SharedExpertMoe Layer(IRouter router, int topK = 1) =>
        new(Mlp(100), Enumerable.Range(0, Experts).Select(i => Mlp(i)).ToList(), router, topK);

    private static LinearRouter RandomLinearRouter() => new(Hidden, Experts, new Generator(7));

    private static NexusRouter RandomNexusRouter(int domainWidth = 12)
    {
        var router = new NexusRouter(randn([Experts, domainWidth], generator: new Generator(8)), projection: 20, Hidden);
        using var noGrad = no_grad();
        var generator = new Generator(9);
        foreach (var (_, p) in router.named_parameters()) p.normal_(0, 0.5, generator);
        return router;
    }

    /// <summary>Token by token: y = shared(x) + Σ over the top-k experts of p · expert(x).</summary>
    private static Tensor Reference(SharedExpertMoe layer, IReadOnlyList<LlamaMlp> experts, LlamaMlp shared, Tensor x)
    {
        var tokens = x.reshape(-1, Hidden);
        var rows = new List<Tensor>();
        for (var n = 0; n < tokens.shape[0]; n++)
        {
            var token = tokens[n..(n + 1)];
            var probabilities = nn.functional.softmax(layer.Router.Logits(token), -1)[0];
            var (gates, chosen) = probabilities.topk(layer.TopK);
            var y = shared.call(token);
            for (var j = 0; j < layer.TopK; j++)
                y = y + gates[j] * experts[(int)chosen[j].item<long>()].call(token);
            rows.Add(y);
        }
        return cat(rows, 0).reshape(x.shape);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    [InlineData(3, true)]
    public void SortedDispatchEqualsPerTokenReferenceForwardAndBackward(int topK, bool nexus)
    {
        var shared = Mlp(100);
        var experts = Enumerable.Range(0, Experts).Select(i => Mlp(i)).ToList();
        IRouter router = nexus ? RandomNexusRouter() : RandomLinearRouter();
        using var layer = new SharedExpertMoe(shared, experts, router, topK);
        var x = randn([3, 7, Hidden], generator: new Generator(11));
        var weights = randn([3, 7, Hidden], generator: new Generator(12));

        var fast = layer.Forward(x).Hidden;
        (fast * weights).sum().backward();
        var fastGrads = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        foreach (var (_, p) in layer.named_parameters()) p.grad = null;

        var slow = Reference(layer, experts, shared, x);
        (slow * weights).sum().backward();

        Assert.True(fast.allclose(slow, rtol: 1e-5, atol: 1e-5), $"max diff {(fast - slow).abs().max().item<float>()}");
        foreach (var (name, p) in layer.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} got no gradient from the reference");
            Assert.True(fastGrads[name].allclose(p.grad!, rtol: 1e-4, atol: 1e-5), $"gradient of {name} differs");
        }
    }

    [Fact]
    public void OneExpertWithNoSharedContributionIsTheDenseFfn()
    {
        var dense = Mlp(1);
        var shared = Mlp(2);
        using (no_grad()) foreach (var (_, p) in shared.named_parameters()) p.zero_();
        using var layer = new SharedExpertMoe(shared, [dense], new LinearRouter(Hidden, 1), topK: 1);
        using var noGrad = no_grad();
        var x = randn([2, 5, Hidden], generator: new Generator(3));
        Assert.True(layer.Forward(x).Hidden.allclose(dense.call(x), rtol: 1e-6, atol: 1e-6)); // softmax over one expert: gate 1
    }

    [Fact]
    public void GatesAreTheUnrenormalisedTopProbability()
    {
        var ffn = Mlp(1);
        var shared = Mlp(2);
        using (no_grad()) foreach (var (_, p) in shared.named_parameters()) p.zero_();
        var copies = Enumerable.Range(0, Experts).Select(_ => ffn).ToList();
        var router = RandomLinearRouter();
        using var layer = new SharedExpertMoe(shared, copies, router, topK: 1);
        using var noGrad = no_grad();
        var x = randn([10, Hidden], generator: new Generator(4));
        var top = nn.functional.softmax(router.Logits(x), -1).max(-1).values.unsqueeze(1);
        Assert.True(layer.Forward(x).Hidden.allclose(top * ffn.call(x), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void NexusRouterTrainsItsProjectionAndKeepsDomainEmbeddingsFixed()
    {
        var router = RandomNexusRouter();
        var before = router.DomainEmbeddings.clone();
        using var layer = Layer(router);
        Assert.DoesNotContain(layer.named_parameters(), p => p.name.Contains("domain_embeddings"));

        var x = randn([4, 6, Hidden], generator: new Generator(5));
        var output = layer.Forward(x);
        (output.Hidden.pow(2).mean() + output.AuxLoss).backward();
        foreach (var name in new[] { "router.gate_proj.weight", "router.up_proj.weight", "router.down_proj.weight" })
        {
            var p = layer.named_parameters().Single(q => q.name == name).parameter;
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");
        }
        using (no_grad()) foreach (var (_, p) in layer.named_parameters()) p.add_(p.grad! * -0.1);
        Assert.True((router.DomainEmbeddings == before).all().item<bool>());
    }

    [Fact]
    public void PrecomputedExpertEmbeddingsGiveTheTrainingForward()
    {
        var router = RandomNexusRouter();
        using var layer = Layer(router, topK: 2);
        using var noGrad = no_grad();
        var x = randn([3, 8, Hidden], generator: new Generator(6));
        var training = layer.Forward(x);
        router.Precompute();
        Assert.True(router.IsPrecomputed);
        var inference = layer.Forward(x);
        Assert.True(training.Hidden.allclose(inference.Hidden, rtol: 0, atol: 1e-6));
        Assert.True((training.ExpertIndices == inference.ExpertIndices).all().item<bool>());
        router.ClearPrecomputed();
        Assert.False(router.IsPrecomputed);
    }

    [Fact]
    public void AuxLossIsTheSwitchFormula()
    {
        var router = RandomLinearRouter();
        using var layer = Layer(router);
        using var noGrad = no_grad();
        var x = randn([32, Hidden], generator: new Generator(13));
        var output = layer.Forward(x);
        var probabilities = nn.functional.softmax(router.Logits(x), -1);
        var expected = 0.0;
        for (var e = 0; e < Experts; e++)
        {
            var share = output.ExpertIndices.eq(e).to(float32).mean().item<float>();
            expected += share * probabilities[.., e].mean().item<float>();
        }
        Assert.Equal(0.05 * Experts * expected, output.AuxLoss.item<float>(), 5);
    }

    [Fact]
    public void RouterLogitsAreFp32()
    {
        var router = RandomLinearRouter();
        Assert.Equal(ScalarType.Float32, router.Logits(randn([2, Hidden]).to(bfloat16)).dtype);
    }

    [Fact]
    public void InconsistentLayersAreClearErrors()
    {
        var experts = Enumerable.Range(0, Experts).Select(i => Mlp(i)).ToList();
        Assert.Contains("scores 3 experts", Assert.Throws<ArgumentException>(() => new SharedExpertMoe(Mlp(9), experts, new LinearRouter(Hidden, 3))).Message);
        Assert.Contains("top-k", Assert.Throws<ArgumentOutOfRangeException>(() => new SharedExpertMoe(Mlp(9), experts, RandomLinearRouter(), topK: 5)).Message);
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => new SharedExpertMoe(Mlp(9), [], new LinearRouter(Hidden, 1))).Message);
        Assert.Contains("[experts, width]", Assert.Throws<ArgumentException>(() => new NexusRouter(randn(5), 8, Hidden)).Message);
    }
}
