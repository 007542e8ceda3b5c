using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class ArtifactPathsTests
{
    [Fact]
    public void ExpertArtifacts_AreUnderItsUidAndGeneration()
    {
        var news = NewsExpert();
        var law = ImportedLawExpert();

        Assert.Equal("s3://nexus-artifacts/ml/experts/news/0f8fad5b-g3/run", Paths.ExpertRun(news));
        Assert.Equal("s3://nexus-artifacts/ml/experts/news/0f8fad5b-g3/run/model", Paths.ExpertCheckpoint(news));
        Assert.Equal("s3://nexus-artifacts/ml/experts/news/0f8fad5b-g3/embedding.json", Paths.ExpertEmbedding(news));
        Assert.Equal("s3://nexus-artifacts/ml/experts/law/e4eaaaf2-g2/model", Paths.ExpertImport(law));
        Assert.Equal(Paths.ExpertImport(law), Paths.ExpertCheckpoint(law));
    }

    [Fact]
    public void ModelArtifacts_AreUnderItsUidAndRevision()
    {
        var model = DemoModel();

        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/upcycled", Paths.Upcycled(model, DemoBuild(1)));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/finetune", Paths.FinetuneRun(model, DemoBuild(1)));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/finetune/model", Paths.RevisionModel(model, DemoBuild(1)));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/evaluation.json", Paths.EvaluationReport(model, DemoBuild(1)));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/evaluation-plots", Paths.EvaluationPlots(model, DemoBuild(1)));
    }

    [Fact]
    public void EachBuildOfARevision_HasItsOwnFolder_UnderTheRevisionsAndTheModelsFolders()
    {
        var model = DemoModel();
        var first = DemoBuild(1);
        var retry = new ModelBuild(1, "0a1b2c3d4e", "spec 77aa88bb, books 0b1c2d3e/4f5a6b7c");

        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e", Paths.ModelFolder(model));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1", Paths.RevisionFolder(model, 1));
        Assert.Equal("s3://nexus-artifacts/ml/models/demo/a3bb189e/r1/b-0a1b2c3d4e", Paths.BuildFolder(model, retry));
        Assert.NotEqual(Paths.Upcycled(model, first), Paths.Upcycled(model, retry));
        Assert.NotEqual(Paths.RevisionModel(model, first), Paths.RevisionModel(model, retry));
        foreach (var artifact in new[] { Paths.Upcycled(model, retry), Paths.FinetuneRun(model, retry), Paths.EvaluationReport(model, retry) })
        {
            Assert.StartsWith(Paths.RevisionFolder(model, 1) + "/", artifact);
            Assert.StartsWith(Paths.ModelFolder(model) + "/", artifact);
        }

        Assert.StartsWith(Paths.RevisionFolder(model, 2) + "/", Paths.ExtensionFolder(AddCode(), model, 2));
    }

    [Fact]
    public void ExtensionArtifacts_AreUnderTheRevisionTheyProduce_AndTheExtensionsUid()
    {
        var model = DemoModel();
        var extension = AddCode();
        const string folder = "s3://nexus-artifacts/ml/models/demo/a3bb189e/r2/demo-add-code-16fd2706";

        Assert.Equal(folder, Paths.ExtensionFolder(extension, model, 2));
        Assert.Equal($"{folder}/1-extend-code", Paths.ExtensionSurgery(extension, model, 2, 1, StepKind.Extend, "code"));
        Assert.Equal($"{folder}/finetune/model", Paths.ExtensionModel(extension, model, 2));
        Assert.Equal($"{folder}/evaluation.json", Paths.ExtensionEvaluationReport(extension, model, 2));
    }

    [Fact]
    public void AResourceRecreatedUnderTheSameName_GetsOtherLocations()
    {
        var before = NewsExpert();
        var after = NewsExpert();
        after.Metadata.Uid = "9b2d1c3e-0000-4000-8000-000000000000";
        var retrained = NewsExpert();
        retrained.Metadata.Generation = 4;

        Assert.NotEqual(Paths.ExpertRun(before), Paths.ExpertRun(after));
        Assert.NotEqual(Paths.ExpertRun(before), Paths.ExpertRun(retrained));
    }

    [Fact]
    public void TheRoot_MayHaveAPrefix_AndATrailingSlash()
    {
        var paths = new ArtifactPaths("s3://shared-bucket/nexus/");

        Assert.Equal("s3://shared-bucket/nexus/ml/models/demo/a3bb189e/r1/b-5eb63bbbe0/upcycled", paths.Upcycled(DemoModel(), DemoBuild(1)));
    }

    [Fact]
    public void AResourceNotYetReadBack_HasNoLocation()
    {
        var unsaved = NewsExpert();
        unsaved.Metadata.Uid = null;
        var noNamespace = DemoModel();
        noNamespace.Metadata.NamespaceProperty = null;

        Assert.Throws<ArgumentException>(() => Paths.ExpertRun(unsaved));
        Assert.Throws<ArgumentException>(() => Paths.Upcycled(noNamespace, DemoBuild(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Paths.RevisionFolder(DemoModel(), 0));
    }

    [Fact]
    public void NoArtifactNestsInsideAnother()
    {
        var model = DemoModel();
        var extension = AddCode();
        string[] artifacts =
        [
            Paths.ExpertRun(NewsExpert()), Paths.ExpertEmbedding(NewsExpert()), Paths.ExpertImport(ImportedLawExpert()),
            Paths.ExpertEmbedding(ImportedLawExpert()),
            Paths.Upcycled(model, DemoBuild(1)), Paths.FinetuneRun(model, DemoBuild(1)), Paths.EvaluationReport(model, DemoBuild(1)), Paths.EvaluationPlots(model, DemoBuild(1)),
            Paths.ExtensionSurgery(extension, model, 2, 1, StepKind.Extend, "code"),
            Paths.ExtensionSurgery(extension, model, 2, 2, StepKind.Remove, "news"),
            Paths.ExtensionFinetuneRun(extension, model, 2), Paths.ExtensionEvaluationReport(extension, model, 2),
            Paths.ExtensionEvaluationPlots(extension, model, 2),
        ];

        foreach (var outer in artifacts)
        {
            Assert.DoesNotContain(artifacts, inner => inner.StartsWith(outer + "/", StringComparison.Ordinal));
        }
    }
}
