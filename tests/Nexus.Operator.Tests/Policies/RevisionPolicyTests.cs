using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;

namespace Nexus.Operator.Tests.Policies;

public class RevisionPolicyTests
{
    private const string Seed = "s3://models/seed/model";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AllSelectedReady_BuildsRevisionOne_InNameOrder()
    {
        var decision = Decide(Model(), [Ready("science"), Ready("news"), Ready("books")]);

        Assert.Equal((RevisionAction.Build, Reasons.InitialRevision), (decision.Action, decision.Reason));
        Assert.Equal(["books", "news", "science"], decision.Experts.Select(expert => expert.Metadata.Name));
        Assert.Equal("Building revision 1 from 3 experts: books, news, science.", decision.Message);
    }

    [Fact]
    public void BeforeRevisionOne_EverySelectedExpertMustBeReady()
    {
        var decision = Decide(Model(), [Ready("news"), Ready("books"), Training("science")]);

        Assert.Equal((RevisionAction.Wait, Reasons.WaitingForExperts), (decision.Action, decision.Reason));
        Assert.Equal("Waiting for science (Training) to become Ready.", decision.Message);
    }

    [Fact]
    public void OneExpert_IsNotAMixture()
    {
        var decision = Decide(Model(), [Ready("news")]);

        Assert.Equal((RevisionAction.Wait, Reasons.WaitingForExperts), (decision.Action, decision.Reason));
        Assert.Contains("at least 2", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamesThatDoNotExist_AreWaitedFor_AndNamed()
    {
        var model = Model(names: ["news", "books", "code"]);

        var decision = RevisionPolicy.Decide(model, ExpertSelector.Resolve(model.Spec.Experts, [Ready("news"), Ready("books")]), null);

        Assert.Equal((RevisionAction.Wait, Reasons.ExpertNotFound), (decision.Action, decision.Reason));
        Assert.StartsWith("spec.experts.names lists code, which do not exist in namespace ml", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoExpertSelected_SaysHowToSelectOne()
    {
        var decision = Decide(Model(), []);

        Assert.Equal((RevisionAction.Wait, Reasons.NoExpertsSelected), (decision.Action, decision.Reason));
    }

    [Fact]
    public void AnExpertOfAnotherSeed_Stalls()
    {
        var stranger = Ready("legal");
        stranger.Spec.Seed.Uri = "s3://models/other-seed/model";

        var decision = Decide(Model(), [Ready("news"), stranger]);

        Assert.Equal((RevisionAction.Stall, Reasons.SeedMismatch), (decision.Action, decision.Reason));
        Assert.Equal($"Expert legal (seed s3://models/other-seed/model) is not trained from the model's seed {Seed}: every " +
                     "expert must be a fine-tune of the seed; fix spec.seed or deselect them.", decision.Message);
    }

    [Fact]
    public void TwoExpertsOfOneDomain_Stall()
    {
        var twin = Ready("news-v2");
        twin.Spec.Domain = "news";

        var decision = Decide(Model(), [Ready("news"), twin]);

        Assert.Equal((RevisionAction.Stall, Reasons.DuplicateDomain), (decision.Action, decision.Reason));
        Assert.StartsWith("domain news is claimed by news, news-v2", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFailedExpert_BlocksWithItsOwnReason()
    {
        var failed = Training("science");
        failed.Status!.Phase = ExpertPhase.Failed;
        Conditions.MarkStalled(failed.Status, Reasons.JobFailed, "Job science-train-g1 failed: OOMKilled (exit code 137)", 1, Now);

        var decision = Decide(Model(), [Ready("news"), Ready("books"), failed]);

        Assert.Equal((RevisionAction.Wait, Reasons.ExpertFailed), (decision.Action, decision.Reason));
        Assert.Contains("science (Job science-train-g1 failed: OOMKilled (exit code 137)) is Failed", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCurrentRevision_IsUpToDate_AndServingChangesDoNotRebuild()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);
        model.Spec.Serving.Replicas = 5;
        model.Spec.Extension.Finetune.Steps = 99;

        var decision = Decide(model, experts);

        Assert.Equal((RevisionAction.None, Reasons.UpToDate), (decision.Action, decision.Reason));
    }

    [Fact]
    public void ARouterChange_RebuildsFromTheReadyExperts()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);
        model.Spec.Router.Type = RouterType.Linear;

        var decision = Decide(model, experts);

        Assert.Equal((RevisionAction.Build, Reasons.SpecChanged), (decision.Action, decision.Reason));
        Assert.Equal(2, decision.Experts.Count);
    }

    [Fact]
    public void ARetrainedExpert_RebuildsTheModel()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);
        experts[0].Status!.Artifacts!.Checkpoint!.Sha256 = new string('f', 64);

        var decision = Decide(model, experts);

        Assert.Equal((RevisionAction.Build, Reasons.SpecChanged), (decision.Action, decision.Reason));
        Assert.StartsWith("news retrained since revision 1", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANewReadyExpert_IsAddedByAnExtension_UnderAutomatic()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);

        var decision = Decide(model, [.. experts, Ready("code")]);

        Assert.Equal((RevisionAction.Extend, Reasons.ExpertsAdded), (decision.Action, decision.Reason));
        Assert.Equal(["code"], decision.Add);
        Assert.Empty(decision.Remove);
        Assert.Equal("Extending revision 1: add code.", decision.Message);
    }

    [Fact]
    public void UnderManual_TheChangeWaitsForAnExtension_AndSaysHowToApproveIt()
    {
        var experts = new[] { Ready("news"), Ready("books"), Ready("science") };
        var model = Built(Model(), experts);
        model.Spec.Extension.Policy = ExtensionPolicy.Manual;

        var decision = Decide(model, [experts[0], experts[1], Ready("code")]);

        Assert.Equal((RevisionAction.AwaitApproval, Reasons.WaitingForExtension), (decision.Action, decision.Reason));
        Assert.Equal(["code"], decision.Add);
        Assert.Equal(["science"], decision.Remove);
        Assert.Equal("The selection changed since revision 1: add code and remove science. The extension policy is Manual: " +
                     "create an Extension with spec.model demo to apply it.", decision.Message);
    }

    [Fact]
    public void ADeselectedExpert_IsRemoved_AndOneStillTraining_WaitsToBeAdded()
    {
        var experts = new[] { Ready("news"), Ready("books"), Ready("science") };
        var model = Built(Model(), experts);

        var decision = Decide(model, [experts[0], experts[1], Training("code")]);

        Assert.Equal((RevisionAction.Extend, Reasons.ExpertsRemoved), (decision.Action, decision.Reason));
        Assert.Empty(decision.Add);
        Assert.Equal(["science"], decision.Remove);
    }

    [Fact]
    public void ARemovalThatWouldLeaveOneExpert_Waits()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);

        var decision = Decide(model, [experts[0]]);

        Assert.Equal((RevisionAction.Wait, Reasons.WaitingForExperts), (decision.Action, decision.Reason));
        Assert.Contains("fewer than 2", decision.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExtensionInFlight_IsWaitedFor()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);

        var decision = RevisionPolicy.Decide(model, ExpertSelector.Resolve(model.Spec.Experts, [.. experts, Ready("code")]), "demo-add-code");

        Assert.Equal((RevisionAction.Wait, Reasons.Extending), (decision.Action, decision.Reason));
    }

    [Fact]
    public void AnExtensionWaitingForTheFirstRevision_DoesNotHoldItsBuildBack()
    {
        var experts = new[] { Ready("news"), Ready("books") };

        var decision = RevisionPolicy.Decide(Model(), ExpertSelector.Resolve(Model().Spec.Experts, experts), "add-code");

        Assert.Equal((RevisionAction.Build, Reasons.InitialRevision), (decision.Action, decision.Reason));
    }

    [Fact]
    public void APinnedRevision_IsKept_OrStallsWhenPruned()
    {
        var experts = new[] { Ready("news"), Ready("books") };
        var model = Built(Model(), experts);
        model.Spec.Revision = 1;

        Assert.Equal((RevisionAction.None, Reasons.RevisionPinned), Verdict(Decide(model, [.. experts, Ready("code")])));

        model.Spec.Revision = 7;
        var missing = Decide(model, experts);
        Assert.Equal((RevisionAction.Stall, Reasons.RevisionNotFound), Verdict(missing));
        Assert.Contains("(kept: 1)", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheBuildSpecHash_CoversSeedRouterAndFinetune_Only()
    {
        var spec = Model().Spec;
        var hash = RevisionPolicy.BuildSpecHash(spec);

        spec.Serving.Replicas = 9;
        spec.RevisionHistoryLimit = 3;
        Assert.Equal(hash, RevisionPolicy.BuildSpecHash(spec));

        spec.Finetune.Steps = 401;
        Assert.NotEqual(hash, RevisionPolicy.BuildSpecHash(spec));
        Assert.Matches("^[0-9a-f]{64}$", hash);
    }

    private static (RevisionAction, string) Verdict(RevisionDecision decision) => (decision.Action, decision.Reason);

    private static RevisionDecision Decide(NexusModel model, IEnumerable<Expert> experts) =>
        RevisionPolicy.Decide(model, ExpertSelector.Resolve(model.Spec.Experts, experts), activeExtension: null);

    private static NexusModel Model(IList<string>? names = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "demo", NamespaceProperty = "ml", Generation = 1 },
        Spec = new NexusModelSpec
        {
            Seed = new ArtifactSource { Uri = Seed },
            Experts = names is null
                ? new ExpertSelection { Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["nexus.moe/mix"] = "demo" } } }
                : new ExpertSelection { Names = names },
        },
    };

    /// <summary>The model after revision 1 was built from <paramref name="experts"/> with its current spec.</summary>
    private static NexusModel Built(NexusModel model, IEnumerable<Expert> experts)
    {
        model.Status = new NexusModelStatus
        {
            CurrentRevision = 1,
            Revisions =
            [
                new ModelRevision
                {
                    Revision = 1,
                    Experts = experts.Select(expert => new RevisionExpert
                    {
                        Name = expert.Metadata.Name, Domain = expert.Spec.Domain, CheckpointSha256 = expert.Status!.Artifacts!.Checkpoint!.Sha256,
                    }).ToList(),
                    BuildSpecHash = RevisionPolicy.BuildSpecHash(model.Spec),
                },
            ],
        };
        return model;
    }

    private static Expert Ready(string name)
    {
        var expert = Training(name);
        expert.Status!.Phase = ExpertPhase.Ready;
        expert.Status.Artifacts = new ExpertArtifacts
        {
            Checkpoint = new ArtifactReference { Uri = $"s3://nexus/ml/experts/{name}/run/model", Sha256 = new string('a', 64) },
        };
        Conditions.MarkReady(expert.Status, Reasons.Succeeded, "checkpoint and embedding are in the store", 1, Now);
        return expert;
    }

    private static Expert Training(string name) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name, NamespaceProperty = "ml", Generation = 1, Labels = new Dictionary<string, string> { ["nexus.moe/mix"] = "demo" },
        },
        Spec = new ExpertSpec
        {
            Domain = name,
            Data = new ArtifactSource { Uri = $"s3://corpora/{name}" },
            Seed = new ArtifactSource { Uri = Seed },
            Training = new ExpertTraining(),
        },
        Status = new ExpertStatus { Phase = ExpertPhase.Training },
    };
}
