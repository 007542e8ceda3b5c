using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Controllers;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>An Extension's turn, start and verdicts, and the revision the model records from it, as pure functions.</summary>
public sealed class ExtensionProgressTests
{
    private const string Seed = "s3://models/seed";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Prepare_StartsFromTheCurrentRevision_ToTheNextNumber_WithTheAddedExpertsInputs()
    {
        var readiness = ExtensionProgress.Prepare(Extension("add-code", add: ["code"]), Model(), Experts("news", "books", "code"), []);

        var start = Assert.IsType<ExtensionStart>(readiness.Start);
        Assert.Equal((1, 2, "s3://nexus/ml/models/demo/r1/finetune/model"), (start.FromRevision, start.ToRevision, start.FromModelUri));
        Assert.Equal(["news", "books"], start.Current.Select(e => e.Name));
        Assert.Equal("s3://corpora/news", start.Current[0].DataUri);
        var code = Assert.Single(start.Added);
        Assert.Equal(("code", "s3://nexus/ml/experts/code/run/model"), (code.Domain, code.CheckpointUri));
    }

    [Fact]
    public void Prepare_OnceStarted_KeepsTheRevisionsItRecorded_EvenAfterTheModelMovedOn()
    {
        var extension = Extension("add-code", add: ["code"]);
        extension.Status = new ExtensionStatus { Phase = ExtensionPhase.Running, FromRevision = 1, ToRevision = 2 };
        var model = Model();
        model.Status!.ActiveJob = "demo-upcycle-r3";

        var start = ExtensionProgress.Prepare(extension, model, Experts("news", "books", "code"), []).Start;

        Assert.Equal((1, 2), (start!.FromRevision, start.ToRevision));
    }

    [Fact]
    public void Prepare_WaitsForTheModel_ItsBuild_AnOlderExtension_AndTheAddedExpert()
    {
        var experts = Experts("news", "books", "code");
        var extension = Extension("add-code", add: ["code"], created: Now);

        Assert.Equal(Reasons.ModelNotFound, Waiting(ExtensionProgress.Prepare(extension, null, experts, [])));

        var building = Model();
        building.Status!.ActiveJob = "demo-finetune-r2";
        Assert.Contains("is building (Job demo-finetune-r2)", ExtensionProgress.Prepare(extension, building, experts, []).Message);

        var older = Extension("add-poetry", add: ["poetry"], created: Now.AddMinutes(-1));
        var behind = ExtensionProgress.Prepare(extension, Model(), experts, [older, extension]);
        Assert.Equal(Reasons.WaitingForExtension, Waiting(behind));
        Assert.Contains("Extension add-poetry", behind.Message);
        older.Status = new ExtensionStatus { Phase = ExtensionPhase.Failed };
        Assert.NotNull(ExtensionProgress.Prepare(extension, Model(), experts, [older, extension]).Start);

        var training = Experts("news", "books", "code");
        training.Last().Status = new ExpertStatus { Phase = ExpertPhase.Training };
        Assert.Equal(Reasons.WaitingForExperts, Waiting(ExtensionProgress.Prepare(extension, Model(), training, [])));
    }

    [Theory]
    [InlineData("news", null, "already holds")]
    [InlineData(null, "poetry", "spec.remove names poetry")]
    [InlineData(null, "books", "a Nexus MoE needs at least 2")]
    public void Prepare_FailsAChangeThatCanNeverBeMade(string? add, string? remove, string message)
    {
        var extension = Extension("change", add: add is null ? null : [add], remove: remove is null ? null : [remove]);

        var readiness = ExtensionProgress.Prepare(extension, Model(), Experts("news", "books"), []);

        Assert.True(readiness.Fatal);
        Assert.Contains(message, readiness.Message);
    }

    [Fact]
    public void Prepare_FailsAnExpertFromAnotherSeed()
    {
        var experts = Experts("news", "books", "code");
        experts.Last().Spec.Seed.Uri = "s3://models/other";

        var readiness = ExtensionProgress.Prepare(Extension("add-code", add: ["code"]), Model(), experts, []);

        Assert.Equal((true, Reasons.SeedMismatch), (readiness.Fatal, readiness.Reason));
    }

    [Fact]
    public void Adopt_RecordsASucceededExtensionAsTheNextRevision_OnlyThatNumber()
    {
        var model = Model();
        var extension = Extension("add-code", add: ["code"]);
        extension.Status = new ExtensionStatus
        {
            Phase = ExtensionPhase.Succeeded, FromRevision = 1, ToRevision = 2, CompletionTime = Now.UtcDateTime,
            Artifacts = new ExtensionArtifacts { Model = new ArtifactReference { Uri = "s3://nexus/r2/model", Sha256 = new string('c', 64) } },
        };

        var revision = NexusModelExtensions.Adopt(model, [extension], Experts("news", "books", "code"), Now)!;

        Assert.Equal((2, RevisionReason.Extension, "add-code"), (revision.Revision, revision.Reason, revision.Extension));
        Assert.Equal(["news", "books", "code"], revision.Experts!.Select(e => e.Name));
        Assert.Equal("s3://nexus/r2/model", revision.Model!.Uri);
        Assert.Equal(model.Status!.Revisions![0].BuildSpecHash, revision.BuildSpecHash);
        Assert.False(NexusModelExtensions.IsSettled(extension, model));

        model.Status.Revisions.Add(revision);
        Assert.Null(NexusModelExtensions.Adopt(model, [extension], Experts("news", "books", "code"), Now));
        Assert.True(NexusModelExtensions.IsSettled(extension, model));
        Assert.Null(NexusModelExtensions.Active(model, [extension]));
    }

    [Fact]
    public void Prepare_OnceStarted_FailsWhenAnAddedExpertChanged_AndTheRevisionRecordsTheCheckpointItStartedWith()
    {
        var experts = Experts("news", "books", "code");
        var extension = Extension("add-code", add: ["code"]);
        var start = ExtensionProgress.Prepare(extension, Model(), experts, []).Start!;
        ExtensionProgress.Apply(extension, new ExtensionDecision(ExtensionPhase.Running, Health.Progressing, Reasons.Extending, "runs", Start: start), Now);
        Assert.Equal(new string('a', 64), Assert.Single(extension.Status!.Added!).CheckpointSha256);
        Assert.NotNull(ExtensionProgress.Prepare(extension, Model(), experts, []).Start);

        var retrained = Experts("news", "books", "code");
        retrained[2].Status!.Artifacts!.Checkpoint!.Sha256 = new string('f', 64);
        var changed = ExtensionProgress.Prepare(extension, Model(), retrained, []);
        Assert.True(changed.Fatal);
        Assert.Contains("Expert code changed while the extension ran", changed.Message);

        extension.Status.Phase = ExtensionPhase.Succeeded;
        extension.Status.Artifacts = new ExtensionArtifacts { Model = new ArtifactReference { Uri = "s3://nexus/r2/model", Sha256 = new string('c', 64) } };
        var revision = NexusModelExtensions.Adopt(Model(), [extension], retrained, Now)!;
        Assert.Equal(new string('a', 64), revision.Experts![2].CheckpointSha256);
    }

    [Fact]
    public void Prepare_FailsTheLaterOfTwoExtensionsThatClaimedOneRevision_AndAnAddedExpertThatFailed()
    {
        var first = Extension("add-code", add: ["code"], created: Now.AddSeconds(-1));
        var second = Extension("add-poetry", add: ["poetry"], created: Now);
        foreach (var extension in new[] { first, second })
        {
            extension.Status = new ExtensionStatus { Phase = ExtensionPhase.Running, FromRevision = 1, ToRevision = 2 };
        }

        var experts = Experts("news", "books", "code", "poetry");
        Assert.NotNull(ExtensionProgress.Prepare(first, Model(), experts, [first, second]).Start);
        var later = ExtensionProgress.Prepare(second, Model(), experts, [first, second]);
        Assert.True(later.Fatal);
        Assert.Contains("Extension add-code, ahead of this one, claimed revision 2", later.Message);

        var failedExperts = Experts("news", "books", "code");
        failedExperts[2].Status = new ExpertStatus { Phase = ExpertPhase.Failed, Message = "OOMKilled" };
        var failed = ExtensionProgress.Prepare(Extension("add-code", add: ["code"]), Model(), failedExperts, []);
        Assert.Equal((true, Reasons.ExpertFailed), (failed.Fatal, failed.Reason));
    }

    [Fact]
    public void AnExtensionOfADeletedNamesake_IsNotTheModels_AndOneWhoseOriginWasPrunedIsSettled()
    {
        var model = Model();
        var namesakes = Extension("add-code", add: ["code"]);
        namesakes.Metadata.OwnerReferences = [new V1OwnerReference { ApiVersion = "nexus.moe/v1alpha1", Kind = "NexusModel", Name = "demo", Uid = "an-older-uid" }];
        Assert.Empty(NexusModelExtensions.Of(model, [namesakes]));
        namesakes.Metadata.OwnerReferences[0].Uid = model.Metadata.Uid;
        Assert.Single(NexusModelExtensions.Of(model, [namesakes]));

        namesakes.Status = new ExtensionStatus { Phase = ExtensionPhase.Succeeded, FromRevision = 7, ToRevision = 2 };
        Assert.True(NexusModelExtensions.IsSettled(namesakes, model));
    }

    [Fact]
    public void TheAutomaticExtension_IsNamedForItsRevision_AndMakesTheDecidedChange()
    {
        var decision = new Nexus.Operator.Policies.RevisionDecision(Nexus.Operator.Policies.RevisionAction.Extend, Reasons.ExpertsAdded, "")
        {
            Add = ["code"], Remove = ["books"],
        };

        var extension = NexusModelExtensions.Automatic(Model(), decision);

        Assert.Equal(("demo-r2", "demo"), (extension.Metadata.Name, extension.Spec.Model));
        Assert.True(NexusModelExtensions.Makes(extension, decision));
        Assert.False(NexusModelExtensions.Makes(extension, decision with { Add = ["poetry"] }));
        Assert.Equal("NexusModel", Assert.Single(extension.Metadata.OwnerReferences).Kind);
    }

    [Fact]
    public void Apply_RecordsTheRevisionsAndStartOnce_AndCompletion()
    {
        var extension = Extension("add-code", add: ["code"]);
        var start = new ExtensionStart(1, 2, "s3://m", [], []);

        ExtensionProgress.Apply(extension, new ExtensionDecision(ExtensionPhase.Running, Health.Progressing, Reasons.Extending, "Job runs.", Start: start), Now);
        ExtensionProgress.Apply(extension, new ExtensionDecision(ExtensionPhase.Succeeded, Health.Ready, Reasons.Succeeded, "Done.", Start: start,
            Artifacts: new ExtensionArtifacts()), Now.AddHours(1));

        var status = extension.Status!;
        Assert.Equal((1, 2, Now.UtcDateTime, Now.AddHours(1).UtcDateTime), (status.FromRevision, status.ToRevision, status.StartTime, status.CompletionTime));
        Assert.True(Conditions.IsTrue(status.Conditions, ConditionTypes.Ready));
        Assert.True(ExtensionProgress.IsFinished(extension));
    }

    private static string Waiting(ExtensionReadiness readiness)
    {
        Assert.Null(readiness.Start);
        Assert.False(readiness.Fatal);
        return readiness.Reason;
    }

    private static Extension Extension(string name, IList<string>? add = null, IList<string>? remove = null, DateTimeOffset? created = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ml", Uid = $"{name}-uid-0000", Generation = 1, CreationTimestamp = (created ?? Now).UtcDateTime },
        Spec = new ExtensionSpec { Model = "demo", Add = add, Remove = remove },
    };

    private static NexusModel Model() => new()
    {
        Metadata = new V1ObjectMeta { Name = "demo", NamespaceProperty = "ml", Uid = "0123456789-model", Generation = 1 },
        Spec = new NexusModelSpec { Seed = new ArtifactSource { Uri = Seed } },
        Status = new NexusModelStatus
        {
            CurrentRevision = 1,
            Revisions =
            [
                new ModelRevision
                {
                    Revision = 1,
                    Experts = [new RevisionExpert { Name = "news", Domain = "news" }, new RevisionExpert { Name = "books", Domain = "books" }],
                    Model = new ArtifactReference { Uri = "s3://nexus/ml/models/demo/r1/finetune/model", Sha256 = new string('b', 64) },
                    BuildSpecHash = new string('d', 64),
                },
            ],
        },
    };

    private static List<Expert> Experts(params string[] names) => names.Select(name =>
    {
        var status = new ExpertStatus
        {
            Phase = ExpertPhase.Ready,
            Artifacts = new ExpertArtifacts
            {
                Checkpoint = new ArtifactReference { Uri = $"s3://nexus/ml/experts/{name}/run/model", Sha256 = new string('a', 64) },
                Embedding = new ArtifactReference { Uri = $"s3://nexus/ml/experts/{name}/embedding.json", Sha256 = new string('e', 64) },
            },
        };
        Conditions.MarkReady(status, Reasons.Succeeded, "ready", 1, Now);
        return new Expert
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "ml", Generation = 1 },
            Spec = new ExpertSpec
            {
                Domain = name, Seed = new ArtifactSource { Uri = Seed }, Data = new ArtifactSource { Uri = $"s3://corpora/{name}" }, Training = new ExpertTraining(),
            },
            Status = status,
        };
    }).ToList();
}
