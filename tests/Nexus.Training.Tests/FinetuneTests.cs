using System.Text.Json.Nodes;
using Nexus.Model;
using Nexus.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Nexus.Training.Tests;

/// <summary>The Nexus pipeline after upcycling: domain embeddings, the mixed-domain finetune with the aux loss, evaluation.</summary>
public sealed class FinetuneTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private static readonly TrainerOptions Quick = TrainerTests.Quick with { Steps = 16, CheckpointEvery = 5, LearningRate = 2e-3 };

    /// <summary>Two domains of clearly different text: English prose and a run of digits and symbols.</summary>
    private IReadOnlyList<Domain> Domains()
    {
        var tokenizer = new ByteTokenizer();
        var prose = SampleText.WriteFile(Path.Combine(temp.Path, "prose"), paragraphs: 60);
        var code = Path.Combine(temp.Path, "code.txt");
        File.WriteAllText(code, string.Concat(Enumerable.Range(0, 600).Select(i => $"x[{i % 17}] = f({i * 7 % 13}, y);\n")));
        return
        [
            new Domain("prose", TokenCorpus.FromFiles([prose], tokenizer, 0.1)),
            new Domain("code", TokenCorpus.FromFiles([code], tokenizer, 0.1)),
        ];
    }

    private string Dense(string name, long seed)
    {
        using var model = TrainerTests.NewModel(seed);
        var directory = Path.Combine(temp.Path, name);
        ModelCheckpoint.Save(model, directory, TokenizerFiles.SaveByte);
        return directory;
    }

    private NexusMoeForCausalLM Moe(RouterKind router = RouterKind.Nexus)
    {
        var seed = Dense("seed", 1);
        var experts = new[] { "prose", "code" }
            .Select((name, i) => new UpcycleExpert(name, Dense(name, 10 + i), Enumerable.Range(0, 8).Select(j => (float)Math.Cos(i * 3 + j)).ToArray()))
            .ToList();
        var output = Path.Combine(temp.Path, $"moe-{router}-{Guid.NewGuid():N}");
        Upcycler.Run(seed, experts, router, output, seed: 4);
        var model = (NexusMoeForCausalLM)ModelCheckpoint.LoadModel(output);
        model.train();
        return model;
    }

    [Fact]
    public void TheDomainEmbeddingIsTheMeanFinalHiddenStateOfEvenlySpacedWindows()
    {
        using var seed = TrainerTests.NewModel(3);
        var tokens = Domains()[0].Corpus.Train;
        const int window = 16;

        var embedding = DomainEmbedder.Compute(seed, "prose", tokens, sampleTokens: 2 * window, window, batchSize: 1);

        // Two windows: the first and the last full window of the stream.
        using var noGrad = no_grad();
        var first = tensor(tokens[..window].Select(t => (long)t).ToArray(), [1, window]);
        var last = tensor(tokens[^window..].Select(t => (long)t).ToArray(), [1, window]);
        var expected = cat([seed.HiddenStates(first), seed.HiddenStates(last)], 1).mean([0, 1]).data<float>().ToArray();
        Assert.Equal(2 * window, embedding.Tokens);
        Assert.Equal(seed.Config.HiddenSize, embedding.Vector.Length);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], embedding.Vector[i], 1e-5);

        var again = DomainEmbedder.Compute(seed, "prose", tokens, 2 * window, window, batchSize: 2);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(embedding.Vector[i], again.Vector[i], 1e-5); // batching does not matter
    }

    [Fact]
    public void DomainsGetDifferentEmbeddingsAndTheFileRoundTrips()
    {
        using var seed = TrainerTests.NewModel(3);
        var domains = Domains();
        var prose = DomainEmbedder.Compute(seed, "prose", domains[0].Corpus.Train, 4096, 32, 8);
        var code = DomainEmbedder.Compute(seed, "code", domains[1].Corpus.Train, 4096, 32, 8);
        var distance = prose.Vector.Zip(code.Vector, (a, b) => (a - b) * (a - b)).Sum();
        Assert.True(distance > 1e-3, $"prose and code embed alike (squared distance {distance})");

        var path = Path.Combine(temp.Path, "prose.json");
        prose.Save(path);
        var loaded = DomainEmbedding.Load(path);
        Assert.Equal(prose.Vector, loaded.Vector);
        Assert.Equal("prose", loaded.Name);
    }

    [Theory]
    [InlineData("""{"format":"nexus.domain-embedding/v1","name":"law","vector":[]}""", "vector is empty")]
    [InlineData("""{"format":"nexus.domain-embedding/v1","name":"","vector":[1]}""", "name must not be empty")]
    [InlineData("""{"format":"other","name":"law","vector":[1]}""", "format is 'other'")]
    [InlineData("""{"name":"law"}""", "not a domain-embedding file")]
    [InlineData("""[1, 2""", "not a domain-embedding file")]
    public void BadEmbeddingFilesNameTheField(string json, string expected)
    {
        var path = Path.Combine(temp.Path, "bad.json");
        File.WriteAllText(path, json);
        var error = Assert.ThrowsAny<Exception>(() => DomainEmbedding.Load(path));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void FinetuningTheMoeLowersTheLossAndLogsTheBalanceLoss()
    {
        var mix = DomainMix.Create(Domains(), MixPolicy.Uniform);
        using var model = Moe();
        var trainer = new Trainer(Quick with { Steps = 60, CheckpointEvery = 0, Mix = mix.ToString() });
        var before = trainer.Evaluate(model, mix.Validation(Quick.EvalTokens));
        var run = Path.Combine(temp.Path, "finetune");

        var result = trainer.Run(model, mix, run, resume: false);

        Assert.True(result.Validation.Loss < before.Loss - 0.3, $"validation loss {before.Loss:F3} → {result.Validation.Loss:F3}");
        var train = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(r => (string)r["kind"]! == "train").ToList();
        // Switch loss with α = 0.05 over 2 layers: α·E·Σ f·P is α per layer at perfect balance (f = P = 1/E), more when
        // the load is skewed, and can dip just under α when the argmax shares f and the mean probabilities P disagree.
        Assert.All(train, r => Assert.InRange((double)r["aux_loss"]!, 0.095, 0.2));
    }

    [Fact]
    public void TheRouterLearnsDuringTheFinetuneButDomainEmbeddingsStayFixed()
    {
        var mix = DomainMix.Create(Domains(), MixPolicy.Uniform);
        using var model = Moe();
        var router = (NexusRouter)model.Decoder.Layers[0].Moe.Router;
        var domainBefore = router.DomainEmbeddings.clone();
        var projectionBefore = router.ExpertEmbeddings().detach().clone();

        new Trainer(Quick with { Steps = 10, CheckpointEvery = 0 }).Run(model, mix, Path.Combine(temp.Path, "run"), resume: false);

        Assert.True((router.DomainEmbeddings == domainBefore).all().item<bool>());
        Assert.False(router.ExpertEmbeddings().allclose(projectionBefore, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void AnInterruptedFinetuneResumesExactly()
    {
        var mix = DomainMix.Create(Domains(), MixPolicy.Proportional);
        var options = Quick with { Mix = mix.ToString() };
        using var straight = Moe();
        var uninterrupted = new Trainer(options).Run(straight, mix, Path.Combine(temp.Path, "straight"), resume: false);

        var run = Path.Combine(temp.Path, "interrupted");
        using (var first = Moe())
        {
            using var stop = new CancellationTokenSource();
            var trainer = new Trainer(options);
            trainer.StepCompleted += done => { if (done == 7) stop.Cancel(); };
            Assert.Throws<OperationCanceledException>(() => trainer.Run(first, mix, run, resume: false, cancellation: stop.Token));
        }
        using var second = Moe(); // a fresh router init: everything must come from the checkpoint
        using (no_grad()) foreach (var (_, p) in second.named_parameters()) p.add_(0.5);
        var resumed = new Trainer(options).Run(second, mix, run, resume: true);

        Assert.EndsWith("step-000007", resumed.ResumedFrom);
        Assert.Equal(uninterrupted.Validation.Loss, resumed.Validation.Loss, 1e-5);
        foreach (var ((name, a), (_, b)) in straight.state_dict().Zip(second.state_dict()))
            Assert.True(a.allclose(b, rtol: 0, atol: 1e-5), $"{name} differs after resume");

        var otherMix = DomainMix.Create(mix.Domains, MixPolicy.Uniform);
        using var third = Moe();
        var error = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(options with { Mix = otherMix.ToString(), Steps = 20 }).Run(third, otherMix, run, resume: true));
        Assert.Contains("Mix", error.Message);
    }

    [Theory]
    [InlineData(RouterKind.Nexus)]
    [InlineData(RouterKind.Linear)]
    public void EvaluationReportsPerplexityAndRoutingSharesPerDomain(RouterKind router)
    {
        var domains = Domains();
        using var model = Moe(router);
        model.eval();
        model.PrepareForInference();

        var report = ModelEvaluation.Run(model, "moe", domains, sequenceLength: 32, batchSize: 4, maxTokens: 512);

        Assert.Equal(["prose", "code"], report.Experts);
        Assert.Equal(["prose", "code"], report.Domains.Select(d => d.Domain));
        foreach (var domain in report.Domains)
        {
            var direct = Evaluator.Evaluate(model, domains.Single(d => d.Name == domain.Domain).Corpus.Validation, 32, 4, 512);
            Assert.Equal(direct.Perplexity, domain.Perplexity, 1e-6);
            Assert.Equal(2, domain.Routing!.PerLayer.Length);
            Assert.All(domain.Routing.PerLayer, layer => Assert.Equal(1.0, layer.Sum(), 1e-9));
            Assert.Equal(domain.Routing.Average[report.Experts.ToList().IndexOf(domain.Domain)], domain.Routing.OwnExpert!.Value, 1e-12);
        }
        Assert.Equal(report.Domains.Average(d => d.Perplexity), report.AveragePerplexity, 1e-9);

        var path = Path.Combine(temp.Path, "report.json");
        report.Save(path);
        Assert.Equal(report.AverageRouting(), EvaluationReport.Load(path).AverageRouting());
    }

    [Fact]
    public void ADenseModelIsEvaluatedWithoutRouting()
    {
        using var dense = TrainerTests.NewModel();
        var report = ModelEvaluation.Run(dense, "dense", Domains(), 32, 4, 256);
        Assert.Empty(report.Experts);
        Assert.All(report.Domains, d => Assert.Null(d.Routing));
    }
}
