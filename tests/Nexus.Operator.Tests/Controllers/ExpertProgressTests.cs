using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Specs;
using Nexus.Storage;

namespace Nexus.Operator.Tests.Controllers;

public sealed class ExpertProgressTests
{
    private static readonly Expert News = SpecFixtures.NewsExpert();
    private static readonly StepInvocation Train = StepCommands.Train(News, SpecFixtures.Paths);
    private static readonly StepInvocation Embed = StepCommands.Embed(News, SpecFixtures.Paths);
    private static readonly string ShaA = new('a', 64);
    private static readonly string ShaB = new('b', 64);

    [Fact]
    public void NoJobYet_CreatesTheCheckpointJob_AndIsPending()
    {
        var decision = ExpertProgress.Decide(Observe(Train), null);

        Assert.Same(Train, decision.Create);
        Assert.Equal((ExpertPhase.Pending, Health.Progressing, Reasons.Pending), (decision.Phase, decision.Health, decision.Reason));
        Assert.Equal("news-train-g3", decision.ActiveJob);
    }

    [Fact]
    public void RunningJob_IsTraining_AndCreatesNothing()
    {
        var decision = ExpertProgress.Decide(Observe(Train, Job(Train.JobName, active: 1)), null);

        Assert.Null(decision.Create);
        Assert.Equal((ExpertPhase.Training, Reasons.Training), (decision.Phase, decision.Reason));
    }

    [Fact]
    public void SuspendedJob_IsQueued()
    {
        var job = Job(Train.JobName);
        job.Spec.Suspend = true;

        var decision = ExpertProgress.Decide(Observe(Train, job), null);

        Assert.Equal((ExpertPhase.Pending, Reasons.Queued), (decision.Phase, decision.Reason));
    }

    [Fact]
    public void DoneCheckpoint_WithoutEmbeddingJob_CreatesTheEmbeddingJob_InPhaseEmbedding()
    {
        var checkpoint = new ArtifactReference { Uri = JobReadings.ResultUri(Train), Sha256 = ShaA };

        var decision = ExpertProgress.Decide(Observe(Train) with { Result = checkpoint }, Observe(Embed));

        Assert.Same(Embed, decision.Create);
        Assert.Equal(ExpertPhase.Embedding, decision.Phase);
        Assert.Same(checkpoint, decision.Checkpoint);
    }

    [Fact]
    public void BothResults_AreReady_WhateverBecameOfTheJobs()
    {
        var decision = ExpertProgress.Decide(
            Observe(Train) with { Result = new ArtifactReference { Uri = "c", Sha256 = ShaA } },
            Observe(Embed) with { Result = new ArtifactReference { Uri = "e", Sha256 = ShaB } });

        Assert.Equal((ExpertPhase.Ready, Health.Ready, Reasons.Succeeded), (decision.Phase, decision.Health, decision.Reason));
        Assert.Null(decision.Create);
        Assert.Null(decision.ActiveJob);
    }

    [Fact]
    public void FailedJob_BubblesUpTheJobReasonAndThePodsTerminatedContainer()
    {
        var job = Job(Train.JobName, condition: ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"));
        var pod = Pod("news-train-g3-x7k2p", new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 137, Reason = "OOMKilled" } });

        var decision = ExpertProgress.Decide(Observe(Train, job, pod), null);

        Assert.Equal((ExpertPhase.Failed, Health.Failed, "BackoffLimitExceeded"), (decision.Phase, decision.Health, decision.Reason));
        Assert.StartsWith(
            "Job news-train-g3 failed (BackoffLimitExceeded): pod news-train-g3-x7k2p: container nexus terminated with OOMKilled (exit code 137)",
            decision.Message);
        Assert.Null(decision.Create);
    }

    [Fact]
    public void PodFailurePolicyFailure_IsNonRetriable()
    {
        var job = Job(Train.JobName, condition: ("Failed", "PodFailurePolicy", "Container nexus exited with code 2"));

        Assert.Equal(Reasons.NonRetriableFailure, ExpertProgress.Decide(Observe(Train, job), null).Reason);
    }

    [Fact]
    public void CompleteJobWithoutResult_StallsOnTheMissingArtifact_NamingItsUri()
    {
        var job = Job(Train.JobName, condition: ("Complete", "CompletionsReached", ""));

        var decision = ExpertProgress.Decide(Observe(Train, job), null);

        Assert.Equal((Health.Stalled, Reasons.ArtifactNotFound), (decision.Health, decision.Reason));
        Assert.Contains(Train.OutputUri, decision.Message);
    }

    [Theory]
    [InlineData("ImagePullBackOff")]
    [InlineData("ErrImagePull")]
    [InlineData("CreateContainerConfigError")]
    public void PodStuckWaiting_StallsWithItsReason_InTheStepsPhase(string reason)
    {
        var pod = Pod("news-train-g3-abcde", new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = "needs a person" } });

        var decision = ExpertProgress.Decide(Observe(Train, Job(Train.JobName, active: 1), pod), null);

        Assert.Equal((ExpertPhase.Training, Health.Stalled, reason), (decision.Phase, decision.Health, decision.Reason));
        Assert.Contains("needs a person", decision.Message);
        Assert.Equal(Train.JobName, decision.ActiveJob);
    }

    [Fact]
    public void PodWaitingForAnOrdinaryReason_IsStillProgress()
    {
        var pod = Pod("p", new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ContainerCreating" } });

        Assert.Equal(Health.Progressing, ExpertProgress.Decide(Observe(Train, Job(Train.JobName, active: 1), pod), null).Health);
    }

    [Fact]
    public void Result_OfATrainRun_NeedsTheFinalModelsWeights_NotJustACheckpoint()
    {
        var checkpointsOnly = Manifest(("checkpoints/step-100/model.safetensors", ShaB), ("metrics.jsonl", ShaB));
        var final = Manifest(("checkpoints/step-100/model.safetensors", ShaB), ("model/config.json", ShaB), ("model/model.safetensors", ShaA));

        Assert.Null(JobReadings.Result(Train, null));
        Assert.Null(JobReadings.Result(Train, checkpointsOnly));
        var result = JobReadings.Result(Train, final);
        Assert.Equal((Train.OutputUri + "/model", ShaA), (result!.Uri, result.Sha256));
    }

    [Fact]
    public void Result_OfAnEmbedding_IsItsFile()
    {
        var result = JobReadings.Result(Embed, Manifest(("embedding.json", ShaB)));

        Assert.Equal((Embed.OutputUri, ShaB), (result!.Uri, result.Sha256));
    }

    [Fact]
    public void Apply_WritesConditionsAndArtifacts_AndANewGenerationStartsAfresh()
    {
        var expert = SpecFixtures.NewsExpert();
        var now = DateTimeOffset.Parse("2026-11-23T10:00:00Z");
        var ready = ExpertProgress.Decide(
            Observe(Train) with { Result = new ArtifactReference { Uri = "c", Sha256 = ShaA } },
            Observe(Embed) with { Result = new ArtifactReference { Uri = "e", Sha256 = ShaB } });
        ExpertProgress.Apply(expert, ready, now);
        expert.Status!.ObservedGeneration = expert.Metadata.Generation;

        Assert.True(Conditions.IsTrue(expert.Status.Conditions, ConditionTypes.Ready));
        Assert.True(Conditions.IsTrue(expert.Status.Conditions, ConditionTypes.CheckpointReady));
        Assert.True(Conditions.IsTrue(expert.Status.Conditions, ConditionTypes.EmbeddingReady));
        Assert.Null(Conditions.Get(expert.Status.Conditions, ConditionTypes.Reconciling));
        Assert.Equal(ShaA, expert.Status.Artifacts!.Checkpoint!.Sha256);
        Assert.Equal(now.UtcDateTime, expert.Status.CompletionTime);

        expert.Metadata.Generation = 4;
        ExpertProgress.Apply(expert, ExpertProgress.Decide(Observe(StepCommands.Train(expert, SpecFixtures.Paths)), null), now.AddHours(1));

        Assert.Null(expert.Status.Artifacts);
        Assert.Null(expert.Status.CompletionTime);
        Assert.Equal(ExpertPhase.Pending, expert.Status.Phase);
        Assert.True(Conditions.IsTrue(expert.Status.Conditions, ConditionTypes.Reconciling));
        Assert.True(Conditions.IsFalse(expert.Status.Conditions, ConditionTypes.CheckpointReady));
        Assert.Equal("news-train-g4", expert.Status.ActiveJob);
    }

    private static StepObservation Observe(StepInvocation step, V1Job? job = null, params V1Pod[] pods) => new(step, null, job, pods);

    private static V1Job Job(string name, int? active = null, (string Type, string Reason, string Message)? condition = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = SpecFixtures.Namespace, Uid = Guid.NewGuid().ToString() },
        Spec = new V1JobSpec(),
        Status = new V1JobStatus
        {
            Active = active,
            StartTime = active > 0 || condition is not null ? DateTime.UtcNow : null,
            Conditions = condition is { } c ? [new V1JobCondition { Type = c.Type, Status = "True", Reason = c.Reason, Message = c.Message }] : null,
        },
    };

    private static V1Pod Pod(string name, V1ContainerState state) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, CreationTimestamp = DateTime.UtcNow },
        Status = new V1PodStatus
        {
            Phase = state.Terminated is not null ? "Failed" : "Pending",
            ContainerStatuses = [new V1ContainerStatus { Name = WorkerPod.ContainerName, Image = "i", ImageID = "", Ready = false, RestartCount = 0, State = state }],
        },
    };

    private static ArtifactManifest Manifest(params (string Path, string Sha)[] files) =>
        new(ArtifactManifest.FormatName, "p", DateTimeOffset.UnixEpoch, 0, [.. files.Select(f => new ArtifactFile(f.Path, 1, f.Sha))]);
}
