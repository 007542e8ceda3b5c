using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;
using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class ModelBuildTests
{
    private static readonly string[] Names = ["books", "news"];

    [Fact]
    public void TheId_IsTenHexCharactersOfTheInputsHash_TheSameForTheSameInputs()
    {
        var build = ModelBuild.Of(1, DemoModel().Spec, Experts());

        Assert.Matches("^[0-9a-f]{10}$", build.Id);
        Assert.Equal(build.Id, ModelBuild.Of(1, DemoModel().Spec, Experts()).Id);
        Assert.Equal(1, build.Revision);
    }

    [Fact]
    public void TheId_ChangesWithTheSeedRouterAndFinetune()
    {
        var before = Id(DemoModel().Spec);

        Assert.NotEqual(before, Id(Changed(spec => spec.Finetune.Steps = 401)));
        Assert.NotEqual(before, Id(Changed(spec => spec.Finetune.Mix = new DataMix { Type = MixType.Uniform })));
        Assert.NotEqual(before, Id(Changed(spec => spec.Router.TopK = 2)));
        Assert.NotEqual(before, Id(Changed(spec => spec.Seed = new ArtifactSource { Uri = "s3://models/runs/other-seed/model" })));
    }

    [Fact]
    public void TheId_ChangesWithEachExpertsNameDomainCheckpointEmbeddingAndOrder()
    {
        var spec = DemoModel().Spec;
        var before = ModelBuild.Of(1, spec, Experts()).Id;

        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts(e => e[1].Metadata.Name = "news-v2")).Id);
        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts(e => e[1].Spec.Domain = "press")).Id);
        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts(e => e[1].Status!.Artifacts!.Checkpoint!.Sha256 = new string('9', 64))).Id);
        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts(e => e[0].Status!.Artifacts!.Embedding!.Sha256 = new string('8', 64))).Id);
        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts().AsEnumerable().Reverse()).Id);
        Assert.NotEqual(before, ModelBuild.Of(1, spec, Experts().Take(1)).Id);
    }

    [Fact]
    public void TheId_IgnoresWhatTheModelIsNotMadeFrom()
    {
        var before = Id(DemoModel().Spec);

        Assert.Equal(before, Id(Changed(spec => spec.Serving.Replicas = 5)));
        Assert.Equal(before, Id(Changed(spec => spec.Resources.Memory = new ResourceQuantity("64Gi"))));
        Assert.Equal(before, Id(Changed(spec => spec.RevisionHistoryLimit = 3)));
        Assert.Equal(before, Id(Changed(spec => spec.Extension.NewDomainShare = 0.25)));
        Assert.Equal(before, ModelBuild.Of(2, DemoModel().Spec, Experts()).Id); // the revision number is not an input
        Assert.Equal(before, ModelBuild.Of(1, DemoModel().Spec, Experts(e => e[0].Metadata.Labels = new Dictionary<string, string> { ["team"] = "b" })).Id);
    }

    [Fact]
    public void TheInputs_NameTheSpecHashAndEachExpertsArtifactsInShort()
    {
        var build = ModelBuild.Of(1, DemoModel().Spec, Experts(e => e[1].Status!.Artifacts!.Embedding = null));

        Assert.Equal($"spec {RevisionPolicy.BuildSpecHash(DemoModel().Spec)[..8]}, books bbbbbbbb/eeeeeeee, news cccccccc/-", build.Inputs);
    }

    [Fact]
    public void ABuild_NeedsARevisionFromOneAndAnIdOfTenHexCharacters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelBuild(0, "0123456789", "spec x"));
        Assert.Contains("10 lower-case hex", Assert.Throws<ArgumentException>(() => new ModelBuild(1, "../etc", "spec x")).Message);
        Assert.Throws<ArgumentException>(() => new ModelBuild(1, "0123456789AB", "spec x"));
    }

    private static string Id(NexusModelSpec spec) => ModelBuild.Of(1, spec, Experts()).Id;

    private static NexusModelSpec Changed(Action<NexusModelSpec> change)
    {
        var spec = DemoModel().Spec;
        change(spec);
        return spec;
    }

    /// <summary>Ready experts 'books' and 'news' (router order), with checkpoint and embedding hashes.</summary>
    private static List<Expert> Experts(Action<List<Expert>>? change = null)
    {
        var experts = Names.Select((name, index) => new Expert
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace },
            Spec = new ExpertSpec { Domain = name, Seed = new ArtifactSource { Uri = Seed }, Data = new ArtifactSource { Uri = $"s3://corpora/{name}" } },
            Status = new ExpertStatus
            {
                Artifacts = new ExpertArtifacts
                {
                    Checkpoint = new ArtifactReference { Uri = $"s3://a/{name}/model", Sha256 = new string((char)('b' + index), 64) },
                    Embedding = new ArtifactReference { Uri = $"s3://a/{name}/embedding.json", Sha256 = new string((char)('e' + index), 64) },
                },
            },
        }).ToList();
        change?.Invoke(experts);
        return experts;
    }
}
