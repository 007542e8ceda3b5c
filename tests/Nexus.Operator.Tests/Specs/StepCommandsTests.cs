using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class StepCommandsTests
{
    private const string Revision1 = "s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/finetune/model";
    private const string Extension2 = "s3://nexus-artifacts/ml/models/demo/a3bb189e/r2/demo-add-code-16fd2706";

    /// <summary>The value following <paramref name="option"/>, for every occurrence.</summary>
    private static List<string> Values(StepInvocation step, string option) =>
        step.Arguments.Select((argument, index) => (argument, index))
            .Where(pair => pair.argument == option)
            .Select(pair => step.Arguments[pair.index + 1])
            .ToList();

    [Fact]
    public void Train_PassesTheWholeBudget_AndResumes()
    {
        var step = StepCommands.Train(NewsExpert(), Paths);

        Assert.Equal(StepKind.Train, step.Kind);
        Assert.Equal("news-train-g3", step.JobName);
        Assert.Equal(
        [
            "train", "--init", Seed, "--data", "s3://corpora/nexus-data/news", "--out", "s3://nexus-artifacts/ml/experts/news/0f8fad5b-g3/run",
            "--steps", "400", "--batch-size", "16", "--seq-len", "128", "--lr", "0.003", "--warmup", "30",
            "--checkpoint-every", "100", "--seed", "1234", "--resume",
        ], step.Arguments);
        Assert.Equal(Paths.ExpertRun(NewsExpert()), step.OutputUri);
    }

    [Fact]
    public void Numbers_AreWrittenInvariantly_InTheirShortestRoundTripForm()
    {
        var expert = NewsExpert();
        expert.Spec.Training!.LearningRate = 1.5e-5;
        expert.Spec.Training.Steps = 1_000_000;

        var step = StepCommands.Train(expert, Paths);

        Assert.Equal(["1.5E-05"], Values(step, "--lr"));
        Assert.Equal(["1000000"], Values(step, "--steps"));
    }

    [Fact]
    public void Import_ChecksTheCheckpointAgainstTheSeed()
    {
        var step = StepCommands.Import(ImportedLawExpert(), Paths);

        Assert.Equal(
            ["import", "--model", "s3://partners/law-finetune/model", "--seed-model", Seed, "--out", "s3://nexus-artifacts/ml/experts/law/e4eaaaf2-g2/model"],
            step.Arguments);
        Assert.Equal("law-import-g2", step.JobName);
        Assert.Throws<ArgumentException>(() => StepCommands.Import(NewsExpert(), Paths));
        Assert.Throws<ArgumentException>(() => StepCommands.Train(ImportedLawExpert(), Paths));
    }

    [Fact]
    public void Embed_ComputesFromTheSeedOverTheTrainingData_OrTakesTheGivenVector()
    {
        var computed = StepCommands.Embed(SpeechesExpert(), Paths);
        var given = StepCommands.Embed(ImportedLawExpert(), Paths);

        Assert.Equal(
        [
            "embed", "--name", "speeches", "--model", Seed, "--data", "s3://corpora/nexus-data/speeches", "--sample-tokens", "65536",
            "--out", "s3://nexus-artifacts/ml/experts/speeches/7c9e6679-g1/embedding.json",
        ], computed.Arguments);
        Assert.Equal(
        [
            "embed", "--name", "law", "--vector", "s3://partners/law-finetune/embedding.txt",
            "--out", "s3://nexus-artifacts/ml/experts/law/e4eaaaf2-g2/embedding.json",
        ], given.Arguments);
    }

    [Fact]
    public void Embed_OfAnImportWithoutAVector_SamplesTheDomainsData()
    {
        var expert = ImportedLawExpert();
        expert.Spec.Embedding = new EmbeddingSpec();

        var step = StepCommands.Embed(expert, Paths);

        Assert.Equal(["s3://partners/law-finetune/data"], Values(step, "--data"));
        Assert.Equal([Seed], Values(step, "--model"));
    }

    [Fact]
    public void Upcycle_WithALinearRouter_PassesNoEmbeddingsNorProjection()
    {
        var model = DemoModel();
        model.Spec.Router = new RouterSpec { Type = RouterType.Linear, TopK = 2, AuxLossCoefficient = 0.01, ProjectionSize = 64 };

        var step = StepCommands.Upcycle(model, DemoBuild(1), DemoExperts(), Paths);

        Assert.Empty(Values(step, "--embedding"));
        Assert.Empty(Values(step, "--projection-size"));
        Assert.Equal(["linear"], Values(step, "--router"));
        Assert.Equal(["2"], Values(step, "--top-k"));
        Assert.Equal(["0.01"], Values(step, "--aux-loss-coef"));
        Assert.Equal(4, Values(step, "--expert").Count);
    }

    [Fact]
    public void Upcycle_WithANexusRouter_PassesTheProjectionSize_AndEveryEmbeddingInRouterOrder()
    {
        var model = DemoModel();
        model.Spec.Router.ProjectionSize = 256;

        var step = StepCommands.Upcycle(model, DemoBuild(1), DemoExperts(), Paths);

        Assert.Equal(["256"], Values(step, "--projection-size"));
        Assert.Equal(["books", "news", "science", "speeches"], Values(step, "--expert").Select(value => value.Split('=')[0]));
        Assert.Equal(DemoExperts().Select(expert => expert.EmbeddingUri!), Values(step, "--embedding"));
    }

    [Fact]
    public void Upcycle_RefusesExpertsSharingADomain_OrMissingAnArtifact()
    {
        var model = DemoModel();
        var twins = DemoExperts().Append(ReadyExpert("news") with { Name = "news-2" }).ToList();
        var unready = DemoExperts().Append(new ExpertInput("code", "code")).ToList();

        Assert.Contains("share the domain news", Assert.Throws<ArgumentException>(() => StepCommands.Upcycle(model, DemoBuild(1), twins, Paths)).Message);
        Assert.Contains("code has no checkpoint", Assert.Throws<ArgumentException>(() => StepCommands.Upcycle(model, DemoBuild(1), unready, Paths)).Message);
    }

    [Fact]
    public void Finetune_TrainsTheUpcycledModel_OnEveryDomainWithData()
    {
        var model = DemoModel();
        var experts = DemoExperts().Append(ReadyExpert("law") with { DataUri = null }).ToList();

        var step = StepCommands.Finetune(model, DemoBuild(1), experts, Paths);

        Assert.Equal(
        [
            "finetune", "--model", "s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/upcycled",
            "--domain", "books=s3://corpora/nexus-data/books", "--domain", "news=s3://corpora/nexus-data/news",
            "--domain", "science=s3://corpora/nexus-data/science", "--domain", "speeches=s3://corpora/nexus-data/speeches",
            "--mix", "proportional",
            "--steps", "400", "--batch-size", "16", "--seq-len", "128", "--lr", "0.003", "--warmup", "30",
            "--checkpoint-every", "100", "--seed", "1234",
            "--out", "s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/finetune", "--resume",
        ], step.Arguments);
        Assert.Equal("demo-finetune-r1", step.JobName);
    }

    [Fact]
    public void Finetune_WithAnExplicitMix_GivesUnlistedDomainsNoWeight_AndRefusesUnknownOnes()
    {
        var model = DemoModel();
        model.Spec.Finetune.Mix = new DataMix
        {
            Type = MixType.Explicit,
            Weights = [new DomainWeight { Domain = "news", Weight = 3 }, new DomainWeight { Domain = "books", Weight = 0.5 }],
        };

        Assert.Equal(["books=0.5,news=3,science=0,speeches=0"], Values(StepCommands.Finetune(model, DemoBuild(1), DemoExperts(), Paths), "--mix"));

        model.Spec.Finetune.Mix.Weights.Add(new DomainWeight { Domain = "poetry", Weight = 1 });
        var error = Assert.Throws<ArgumentException>(() => StepCommands.Finetune(model, DemoBuild(1), DemoExperts(), Paths));
        Assert.Contains("spec.finetune.mix.weights names domain poetry", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Finetune_WithAUniformMix_SaysSo()
    {
        var model = DemoModel();
        model.Spec.Finetune.Mix = new DataMix { Type = MixType.Uniform };

        Assert.Equal(["uniform"], Values(StepCommands.Finetune(model, DemoBuild(1), DemoExperts(), Paths), "--mix"));
    }

    [Fact]
    public void Evaluate_ReportsEveryDomain_AtTheFinetunesSequenceLength()
    {
        var step = StepCommands.Evaluate(DemoModel(), DemoBuild(1), DemoExperts(), Paths);

        Assert.Equal(
        [
            "evaluate", "--model", Revision1,
            "--domain", "books=s3://corpora/nexus-data/books", "--domain", "news=s3://corpora/nexus-data/news",
            "--domain", "science=s3://corpora/nexus-data/science", "--domain", "speeches=s3://corpora/nexus-data/speeches",
            "--seq-len", "128",
            "--out", "s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/evaluation.json",
            "--plots", "s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/evaluation-plots",
        ], step.Arguments);
        Assert.Equal("demo-evaluate-r1", step.JobName);
        Assert.Equal(Paths.EvaluationReport(DemoModel(), DemoBuild(1)), step.OutputUri);
    }

    [Fact]
    public void Extension_OfOneDomainAtHalf_UsesTheClisExtensionMix_AndTheExtensionsBudget()
    {
        var plan = StepCommands.Extension(AddCode(), DemoModel(), 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths);

        var step = Assert.Single(plan.Surgeries);
        Assert.Equal(StepKind.Extend, step.Kind);
        Assert.Equal("demo-add-code-extend-code-r2", step.JobName);
        Assert.Equal(
        [
            "extend", "--model", Revision1,
            "--expert", "code=" + ReadyExpert("code").CheckpointUri, "--embedding", ReadyExpert("code").EmbeddingUri!,
            "--out", $"{Extension2}/1-extend-code",
            "--domain", "books=s3://corpora/nexus-data/books", "--domain", "news=s3://corpora/nexus-data/news",
            "--domain", "science=s3://corpora/nexus-data/science", "--domain", "speeches=s3://corpora/nexus-data/speeches",
            "--domain", "code=s3://corpora/nexus-data/code",
            "--mix", "extension:code",
            "--steps", "20", "--batch-size", "16", "--seq-len", "128", "--lr", "0.003", "--warmup", "0",
            "--checkpoint-every", "100", "--seed", "1234",
            "--finetune-out", $"{Extension2}/finetune", "--resume",
        ], step.Arguments);
        Assert.Equal($"{Extension2}/finetune", step.OutputUri);
        Assert.Equal($"{Extension2}/finetune/model", plan.ModelUri);
        Assert.Equal(["books", "news", "science", "speeches", "code"], plan.Experts.Select(expert => expert.Name));
    }

    [Fact]
    public void Extension_WithoutItsOwnBudget_UsesTheModels()
    {
        var extension = AddCode();
        extension.Spec.Finetune = null;

        var step = StepCommands.Extension(extension, DemoModel(), 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths).Surgeries.Single();

        Assert.Equal(["40"], Values(step, "--steps"));
    }

    [Fact]
    public void Extension_WithAnotherShare_WritesExplicitWeights_ThatHonourIt()
    {
        var model = DemoModel();
        model.Spec.Extension.NewDomainShare = 0.2;

        var step = StepCommands.Extension(AddCode(), model, 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths).Surgeries.Single();

        var mix = Assert.Single(Values(step, "--mix"));
        Assert.Equal("books=0.2,news=0.2,science=0.2,speeches=0.2,code=0.2", mix);
        model.Spec.Extension.NewDomainShare = 0.3;
        mix = Assert.Single(Values(StepCommands.Extension(AddCode(), model, 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths).Surgeries.Single(), "--mix"));
        var weights = mix.Split(',').ToDictionary(part => part.Split('=')[0], part => double.Parse(part.Split('=')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0.3, weights["code"] / weights.Values.Sum(), 5);
        Assert.Equal(0.175, weights["news"], 6);
    }

    [Fact]
    public void Extension_ThatAddsTwoAndRemovesOne_ChainsThreeSurgeries_AndFinetunesInTheLast()
    {
        var extension = AddCode();
        extension.Spec.Add = ["code", "law"];
        extension.Spec.Remove = ["news"];
        var model = DemoModel();
        model.Spec.Router.TopK = 4;

        var plan = StepCommands.Extension(extension, model, 2, Revision1, DemoExperts(), [ReadyExpert("law"), ReadyExpert("code")], Paths);

        Assert.Equal(["demo-add-code-extend-code-r2", "demo-add-code-extend-law-r2", "demo-add-code-remove-news-r2"],
            plan.Surgeries.Select(step => step.JobName));
        Assert.Equal([Revision1], Values(plan.Surgeries[0], "--model"));
        Assert.Equal([$"{Extension2}/1-extend-code"], Values(plan.Surgeries[1], "--model"));
        Assert.Equal([$"{Extension2}/2-extend-law"], Values(plan.Surgeries[2], "--model"));
        Assert.Equal([$"{Extension2}/3-remove-news"], Values(plan.Surgeries[2], "--out"));
        Assert.Equal(["news"], Values(plan.Surgeries[2], "--expert"));
        Assert.Equal(["4"], Values(plan.Surgeries[2], "--top-k"));
        Assert.Empty(Values(plan.Surgeries[0], "--steps"));
        Assert.Empty(Values(plan.Surgeries[1], "--domain"));
        Assert.DoesNotContain("--resume", plan.Surgeries[0].Arguments);
        Assert.Equal(["books=0.166667,science=0.166667,speeches=0.166667,code=0.25,law=0.25"], Values(plan.Surgeries[2], "--mix"));
        Assert.Equal(["20"], Values(plan.Surgeries[2], "--steps"));
        Assert.Equal($"{Extension2}/finetune", plan.Surgeries[2].OutputUri);
        Assert.Equal(["books", "science", "speeches", "code", "law"], plan.Experts.Select(expert => expert.Name));
    }

    [Fact]
    public void Extension_ThatOnlyRemoves_FinetunesUniformly_AndKeepsTopKWithinTheExpertsLeft()
    {
        var extension = AddCode();
        extension.Spec.Add = null;
        extension.Spec.Remove = ["news", "books"];
        var model = DemoModel();
        model.Spec.Router.TopK = 3;

        var plan = StepCommands.Extension(extension, model, 2, Revision1, DemoExperts(), [], Paths);

        Assert.Equal(["3", "2"], plan.Surgeries.SelectMany(step => Values(step, "--top-k")));
        Assert.Equal(["uniform"], Values(plan.Surgeries[^1], "--mix"));
        Assert.Equal(["science", "speeches"], plan.Experts.Select(expert => expert.Name));
    }

    [Fact]
    public void Extension_RefusesWhatCannotBeBuilt()
    {
        var model = DemoModel();
        var removeUnknown = AddCode();
        removeUnknown.Spec.Add = null;
        removeUnknown.Spec.Remove = ["poetry"];
        var removeAll = AddCode();
        removeAll.Spec.Add = null;
        removeAll.Spec.Remove = ["books", "news", "science", "speeches"];
        var otherModel = AddCode();
        otherModel.Spec.Model = "other";

        Assert.Throws<ArgumentException>(() => StepCommands.Extension(AddCode(), model, 2, Revision1, DemoExperts(), [], Paths));
        Assert.Throws<ArgumentException>(() => StepCommands.Extension(removeUnknown, model, 2, Revision1, DemoExperts(), [], Paths));
        Assert.Throws<ArgumentException>(() => StepCommands.Extension(removeAll, model, 2, Revision1, DemoExperts(), [], Paths));
        Assert.Throws<ArgumentException>(() => StepCommands.Extension(otherModel, model, 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths));
        Assert.Throws<ArgumentException>(() =>
            StepCommands.Extension(AddCode(), model, 2, Revision1, DemoExperts().Append(ReadyExpert("code")).ToList(), [ReadyExpert("code")], Paths));
    }

    [Fact]
    public void EvaluateExtension_EvaluatesTheNewRevisionsModel_OnItsDomains()
    {
        var plan = StepCommands.Extension(AddCode(), DemoModel(), 2, Revision1, DemoExperts(), [ReadyExpert("code")], Paths);

        var step = StepCommands.EvaluateExtension(AddCode(), DemoModel(), 2, plan, Paths);

        Assert.Equal("demo-add-code-evaluate-r2", step.JobName);
        Assert.Equal([plan.ModelUri], Values(step, "--model"));
        Assert.Equal(5, Values(step, "--domain").Count);
        Assert.Equal([$"{Extension2}/evaluation.json"], Values(step, "--out"));
    }

    [Fact]
    public void ExpertInput_ReadsTheArtifactsAnExpertPublished()
    {
        var expert = NewsExpert();
        expert.Status = new ExpertStatus
        {
            Artifacts = new ExpertArtifacts
            {
                Checkpoint = new ArtifactReference { Uri = Paths.ExpertCheckpoint(expert) },
                Embedding = new ArtifactReference { Uri = Paths.ExpertEmbedding(expert) },
            },
        };

        var input = ExpertInput.From(expert);

        Assert.Equal(("news", "news"), (input.Name, input.Domain));
        Assert.Equal(Paths.ExpertCheckpoint(expert), input.CheckpointUri);
        Assert.Equal(Paths.ExpertEmbedding(expert), input.EmbeddingUri);
        Assert.Equal("s3://corpora/nexus-data/news", input.DataUri);
        Assert.Equal("s3://partners/law-finetune/data", ExpertInput.From(ImportedLawExpert()).DataUri);
    }
}
