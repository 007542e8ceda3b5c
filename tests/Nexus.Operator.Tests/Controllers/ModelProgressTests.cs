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
    private static readonly StepInvocation Upcycle = StepCommands.Upcycle(Demo, SpecFixtures.DemoBuild(3), SpecFixtures.DemoExperts(), SpecFixtures.Paths);
    private static readonly StepInvocation Finetune = StepCommands.Finetune(Demo, SpecFixtures.DemoBuild(3), SpecFixtures.DemoExperts(), SpecFixtures.Paths);
    private static readonly StepInvocation Evaluate = StepCommands.Evaluate(Demo, SpecFixtures.DemoBuild(3), SpecFixtures.DemoExperts(), SpecFixtures.Paths);
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
        var observed = new BuildObservation(SpecFixtures.DemoBuild(3), RevisionReason.Rebuild, experts,
            new StepObservation(Upcycle, Done, null, []), new StepObservation(Finetune, Done, null, []),
            new StepObservation(Evaluate, Done, null, []), """{"domains":[{"domain":"news","perplexity":9.5,"tokens":10}]}""");

        var built = ModelProgress.DecideBuild(observed, DateTimeOffset.UnixEpoch, "hash").Built!;

        Assert.Equal((3, RevisionReason.Rebuild, "hash", Done), (built.Revision, built.Reason, built.BuildSpecHash, built.Model));
        Assert.Equal(("news", "news", new string('c', 64)), (built.Experts![0].Name, built.Experts[0].Domain!, built.Experts[0].CheckpointSha256!));
        Assert.Equal(9.5, built.Metrics!.Perplexity!["news"]);
        Assert.Null(built.Metrics.RoutingShare);
    }

    [Fact]
    public void AJobOfAnotherBuild_IsStale_AndOneWithoutABuildIdToo()
    {
        var build = SpecFixtures.DemoBuild(3);
        var ours = StepJob.Build(Demo, Upcycle, Demo.Spec.Resources, SpecFixtures.Settings);
        var other = StepJob.Build(Demo, Upcycle with { Build = new ModelBuild(3, "0a1b2c3d4e", "spec 77aa88bb") }, Demo.Spec.Resources, SpecFixtures.Settings);
        var unmarked = StepJob.Build(Demo, Upcycle with { Build = null }, Demo.Spec.Resources, SpecFixtures.Settings);

        Assert.False(ModelProgress.IsStale(ours, build));
        Assert.True(ModelProgress.IsStale(other, build));
        Assert.True(ModelProgress.IsStale(unmarked, build));
    }

    [Fact]
    public void Build_WithStaleJobs_DeletesThoseNotAlreadyGoing_CreatesNothing_AndNamesTheOldAndNewInputs()
    {
        var failed = FailedJob(Finetune.JobName, new ModelBuild(3, "0a1b2c3d4e", "spec 77aa88bb, news 11111111/22222222"));
        var going = FailedJob(Upcycle.JobName, new ModelBuild(3, "0a1b2c3d4e", "spec 77aa88bb, news 11111111/22222222"));
        going.Metadata.DeletionTimestamp = DateTime.UtcNow;

        var restart = ModelProgress.DecideBuild(Observe(Upcycle) with { Stale = [going, failed] }, DateTimeOffset.UnixEpoch, "h");

        Assert.Equal((NexusModelPhase.Upcycling, Health.Progressing, Reasons.BuildRestarted), (restart.Phase, restart.Health, restart.Reason));
        Assert.Equal((null, null, null), (restart.Create, restart.ActiveJob, restart.Built));
        Assert.Equal([failed], restart.Delete);
        Assert.Contains("build 0a1b2c3d4e (spec 77aa88bb, news 11111111/22222222) is now 5eb63bbbe0 (spec 3fa2b1c0", restart.Message);
        Assert.Contains($"{Upcycle.JobName}, {Finetune.JobName}", restart.Message);
    }

    [Fact]
    public void AFailedStep_StaysFailed_CreatesNothing_AndSaysHowToRetry()
    {
        var failed = ModelProgress.DecideBuild(
            Observe(Upcycle, Done, finetune: new StepObservation(Finetune, null, FailedJob(Finetune.JobName, SpecFixtures.DemoBuild(3)), [])),
            DateTimeOffset.UnixEpoch, "h");

        Assert.Equal((NexusModelPhase.Failed, Health.Failed, (StepInvocation?)null), (failed.Phase, failed.Health, failed.Create));
        Assert.Empty(failed.Delete);
        Assert.StartsWith("Job demo-finetune-r3 failed (BackoffLimitExceeded)", failed.Message);
        Assert.Contains("fix what the build is made from (spec.seed, spec.router, spec.finetune or the Experts) and it restarts", failed.Message);
        Assert.Contains("or delete Job demo-finetune-r3 to run the step again", failed.Message);
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
        new(SpecFixtures.DemoBuild(3), RevisionReason.Initial, [], new StepObservation(upcycle, upcycled, null, []), finetune, evaluate, null);

    private static V1Job FailedJob(string name, ModelBuild build)
    {
        var job = StepJob.Build(Demo, Upcycle with { JobName = name, Build = build }, Demo.Spec.Resources, SpecFixtures.Settings);
        job.Metadata.Uid = Guid.NewGuid().ToString();
        job.Status = new V1JobStatus { Conditions = [new V1JobCondition { Type = "Failed", Status = "True", Reason = "BackoffLimitExceeded" }] };
        return job;
    }

    private static V1Job RunningJob(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Uid = Guid.NewGuid().ToString() },
        Spec = new V1JobSpec(),
        Status = new V1JobStatus { Active = 1, StartTime = DateTime.UtcNow },
    };
}
