using static TorchSharp.torch;

namespace Nexus.Training.Tests;

public class DomainMixTests
{
    /// <summary>A domain whose tokens all lie in [first, first + 10), so a window's domain can be read off its tokens.</summary>
    private static Domain Synthetic(string name, int first, int length) =>
        new(name, new TokenCorpus(Enumerable.Range(0, length).Select(i => first + i % 10).ToArray(),
            Enumerable.Range(0, 200).Select(i => first + i % 10).ToArray(), [name]));

    private static readonly Domain[] Three = [Synthetic("law", 0, 3000), Synthetic("code", 100, 1000), Synthetic("poems", 200, 1000)];

    [Fact]
    public void PoliciesGiveTheStatedWeights()
    {
        Assert.Equal([0.6, 0.2, 0.2], DomainMix.Create(Three, MixPolicy.Proportional).Weights);
        Assert.Equal(Enumerable.Repeat(1 / 3.0, 3), DomainMix.Create(Three, MixPolicy.Uniform).Weights);
        Assert.Equal([0.25, 0.5, 0.25], DomainMix.ForExtension(Three, "code").Weights);
        Assert.Equal([0.1, 0.3, 0.6], DomainMix.Parse(Three, "law=1, code=3,poems=6").Weights);
        Assert.Equal("law=0.1,code=0.3,poems=0.6", DomainMix.Parse(Three, "law=1,code=3,poems=6").ToString());
    }

    [Theory]
    [InlineData("law=1,code=1", "no weight for domain 'poems'")]
    [InlineData("law=1,code=1,poems=1,music=2", "'music', which is not a domain")]
    [InlineData("law=-1,code=1,poems=1", "weight of 'law' is -1")]
    [InlineData("law=0,code=0,poems=0", "all zero")]
    [InlineData("heavy", "is not NAME=WEIGHT")]
    public void BadMixesNameTheProblem(string mix, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => DomainMix.Parse(Three, mix));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void TheExtensionMixNeedsTheNewDomainsData()
    {
        var error = Assert.Throws<ArgumentException>(() => DomainMix.ForExtension(Three, "music"));
        Assert.Contains("--domain music=PATH", error.Message);
    }

    [Fact]
    public void SequencesAreDrawnInProportionAndAreAPureFunctionOfTheStep()
    {
        var mix = DomainMix.Parse(Three, "law=6,code=3,poems=1");
        var sampler = mix.Sampler(batchSize: 50, sequenceLength: 8, seed: 5);
        var counts = new int[3];
        for (var step = 0; step < 40; step++)
        {
            using var scope = NewDisposeScope();
            var (inputs, targets) = sampler.Batch(step, 0);
            var rows = inputs.data<long>().ToArray().Chunk(8).ToList();
            foreach (var row in rows)
            {
                var domain = (int)(row[0] / 100);
                Assert.All(row, t => Assert.Equal(domain, (int)(t / 100))); // a window never straddles domains
                counts[domain]++;
            }
            var targetRows = targets.data<long>().ToArray().Chunk(8).ToList();
            for (var r = 0; r < rows.Count; r++)
                Assert.Equal(rows[r][1..], targetRows[r][..^1]); // targets are the inputs shifted by one
        }
        var total = counts.Sum();
        Assert.InRange(counts[0] / (double)total, 0.55, 0.65);
        Assert.InRange(counts[1] / (double)total, 0.25, 0.35);
        Assert.InRange(counts[2] / (double)total, 0.06, 0.14);

        using var again = NewDisposeScope();
        var (a, _) = sampler.Batch(17, 1);
        var (b, _) = mix.Sampler(50, 8, 5).Batch(17, 1);
        Assert.True((a == b).all().item<bool>());
    }

    [Theory]
    [InlineData(8, "law=1,code=1,poems=1")]
    [InlineData(7, "law=6,code=3,poems=1")]
    [InlineData(3, "law=1,code=0,poems=5")]
    public void EveryBatchHoldsEachDomainInProportionRoundedUpOrDown(int batchSize, string weights)
    {
        var mix = DomainMix.Parse(Three, weights);
        var sampler = mix.Sampler(batchSize, sequenceLength: 4, seed: 11);
        var seen = new HashSet<string>();
        for (var step = 0; step < 200; step++)
        {
            using var scope = NewDisposeScope();
            var (inputs, _) = sampler.Batch(step, 0);
            var counts = new int[3];
            foreach (var row in inputs.data<long>().ToArray().Chunk(4)) counts[(int)(row[0] / 100)]++;
            for (var d = 0; d < 3; d++)
            {
                var expected = batchSize * mix.Weights[d];
                Assert.InRange(counts[d], Math.Floor(expected - 1e-9), Math.Ceiling(expected + 1e-9));
            }
            seen.Add(string.Join(",", counts));
        }
        // Where B·w is not whole, which domains get the extra sequence varies from batch to batch.
        Assert.True(seen.Count > 1);
    }

    [Fact]
    public void ValidationTakesAnEqualSliceOfEveryDomain()
    {
        var validation = DomainMix.Create(Three, MixPolicy.Proportional).Validation(maxTokens: 300);
        Assert.Equal(300, validation.Length);
        Assert.Equal([100, 100, 100], validation.GroupBy(t => t / 100).Select(g => g.Count()));
    }

    [Fact]
    public void ADomainTooSmallForOneWindowIsAClearError()
    {
        var mix = DomainMix.Create([Synthetic("law", 0, 3000), Synthetic("tiny", 100, 5)], MixPolicy.Uniform);
        var error = Assert.Throws<ArgumentException>(() => mix.Sampler(4, 16, 1));
        Assert.Contains("Domain 'tiny' holds 5 training tokens", error.Message);
    }
}
