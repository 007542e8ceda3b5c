using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

public sealed class ModelProgressTests
{
    private static readonly NexusModel Demo = SpecFixtures.DemoModel();
    private static readonly StepInvocation Upcycle = StepCommands.Upcycle(Demo, 3, SpecFixtures.DemoExperts(), SpecFixtures.Paths);
    private static readonly StepInvocation Finetune = StepCommands.Finetune(Demo, 3, SpecFixtures.DemoExperts(), SpecFixtures.Paths);
    private static readonly StepInvocation Evaluate = StepCommands.Evaluate(Demo, 3, SpecFixtures.DemoExperts(), SpecFixtures.Paths);
    private static readonly ArtifactReference Done = new() { Uri = "file:///done", Sha256 = new string('a', 64) };

    [Fact]
    public void NextRevision_IsOneAboveTheHistory_SoABuildKeepsItsNumber()
    {
        Assert.Equal(1, ModelProgress.NextRevision(null));
        Assert.Equal(6, ModelProgress.NextRevision(new NexusModelStatus { Revisions = [new() { Revision = 5 }, new() { Revision = 2 }] }));
    }

    [Fact]
    public void Build_RunsTheFirstStepWithoutAResult_AndCreatesItsJobOnlyWhenMissing()
    {
        var fresh = ModelProgress.DecideBuild(Observe(Upcycle), DateTimeOffset.UnixEpoch, "h");
        Assert.Equal((NexusModelPhase.Upcycling, Upcycle, "demo-upcycle-r3"), (fresh.Phase, fresh.Create, fresh.ActiveJob));

        var evaluating = ModelProgress.DecideBuild(
            Observe(Upcycle, Done, finetune: new StepObservation(Finetune, Done, null, []),
                evaluate: new StepObservation(Evaluate, null, RunningJob(Evaluate.JobName), [])), DateTimeOffset.UnixEpoch, "h");
        Assert.Equal((NexusModelPhase.Finetuning, Reasons.Evaluating, (StepInvocation?)null), (evaluating.Phase, evaluating.Reason, evaluating.Create));
        Assert.Null(evaluating.Built);
    }

    [Fact]
    public void Build_WithEveryResult_RecordsTheRevision()
    {
        var experts = new[] { SpecFixtures.NewsExpert() };
        experts[0].Status = new ExpertStatus { Artifacts = new ExpertArtifacts { Checkpoint = new() { Uri = "file:///c", Sha256 = new string('c', 64) } } };
        var observed = new BuildObservation(3, RevisionReason.Rebuild, experts,
            new StepObservation(Upcycle, Done, null, []), new StepObservation(Finetune, Done, null, []),
            new StepObservation(Evaluate, Done, null, []), """{"domains":[{"domain":"news","perplexity":9.5,"tokens":10}]}""");

        var built = ModelProgress.DecideBuild(observed, DateTimeOffset.UnixEpoch, "hash").Built!;

        Assert.Equal((3, RevisionReason.Rebuild, "hash", Done), (built.Revision, built.Reason, built.BuildSpecHash, built.Model));
        Assert.Equal(("news", "news", new string('c', 64)), (built.Experts![0].Name, built.Experts[0].Domain!, built.Experts[0].CheckpointSha256!));
        Assert.Equal(9.5, built.Metrics!.Perplexity!["news"]);
        Assert.Null(built.Metrics.RoutingShare);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not json")]
    [InlineData("""{"rows":[]}""")]
    public void Metrics_OfAMissingOrUnknownReport_AreNull(string? report) => Assert.Null(ModelProgress.Metrics(report));

    [Fact]
    public void History_PrunesTheOldest_NeverAKeptOne()
    {
        var revisions = Enumerable.Range(1, 4).Select(r => new ModelRevision { Revision = r }).ToList();

        var history = ModelProgress.History(revisions, new ModelRevision { Revision = 5 }, limit: 2, keep: [1, 5]);

        Assert.Equal([1, 5], history.Select(r => r.Revision));
    }

    [Fact]
    public void Serving_IsRolledOutOnlyWhenTheControllerCaughtUpAndEveryReplicaIsUpdatedAndAvailable()
    {
        var deployment = ServingDeployment.Build(Demo, 2, "file:///m", SpecFixtures.Settings);
        deployment.Metadata.Generation = 4;
        deployment.Status = new V1DeploymentStatus { ObservedGeneration = 3, Replicas = 2, UpdatedReplicas = 2, AvailableReplicas = 2, ReadyReplicas = 2 };
        var lagging = ModelProgress.Serving(deployment);
        Assert.Equal((true, 2, false), (lagging.Exists, lagging.TemplateRevision, lagging.RolledOut));

        deployment.Spec.Replicas = 2;
        deployment.Status.ObservedGeneration = 4;
        Assert.True(ModelProgress.Serving(deployment).RolledOut);

        deployment.Status.AvailableReplicas = 1;
        Assert.False(ModelProgress.Serving(deployment).RolledOut);
        Assert.False(ModelProgress.Serving(null).Exists);
    }

    private static BuildObservation Observe(
        StepInvocation upcycle, ArtifactReference? upcycled = null, StepObservation? finetune = null, StepObservation? evaluate = null) =>
        new(3, RevisionReason.Initial, [], new StepObservation(upcycle, upcycled, null, []), finetune, evaluate, null);

    private static V1Job RunningJob(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Uid = Guid.NewGuid().ToString() },
        Spec = new V1JobSpec(),
        Status = new V1JobStatus { Active = 1, StartTime = DateTime.UtcNow },
    };
}
