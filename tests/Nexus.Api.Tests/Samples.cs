using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests;

/// <summary>Objects with every field set, so round trips and schema checks see every property.</summary>
internal static class Samples
{
    private static readonly DateTime Started = new(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);
    private const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    public static IEnumerable<object> All() => [Expert(), ImportedExpert(), NexusModel(), Extension()];

    public static Expert Expert() => new()
    {
        Metadata = new V1ObjectMeta { Name = "news", NamespaceProperty = "ml", Labels = new Dictionary<string, string> { ["nexus.moe/mix"] = "demo" } },
        Spec = new ExpertSpec
        {
            Domain = "news",
            Data = new ArtifactSource { Uri = "s3://corpora/nexus-data/news" },
            Seed = new ArtifactSource { Uri = "s3://models/runs/seed/model" },
            Training = new ExpertTraining
            {
                Steps = 800, BatchSize = 32, SequenceLength = 256, LearningRate = 1e-3, WarmupSteps = 40,
                CheckpointEverySteps = 50, RandomSeed = 7,
            },
            Embedding = new EmbeddingSpec { SampleTokens = 32_768 },
            Resources = Resources(),
        },
        Status = new ExpertStatus
        {
            Phase = ExpertPhase.Training,
            ObservedGeneration = 3,
            Conditions = [Condition(ConditionTypes.Ready, "False", Reasons.Training), Condition(ConditionTypes.Reconciling, "True", Reasons.Training)],
            Source = "s3://corpora/nexus-data/news",
            Artifacts = new ExpertArtifacts
            {
                Checkpoint = new ArtifactReference { Uri = "s3://models/experts/news/model", Sha256 = Sha },
                Embedding = new ArtifactReference { Uri = "s3://models/experts/news/embedding.json", Sha256 = Sha },
            },
            Metrics = new ExpertMetrics { ValidationLoss = 1.25, ValidationPerplexity = 3.49, TrainedTokens = 6_553_600 },
            ActiveJob = "news-train-3",
            StartTime = Started,
            CompletionTime = Started.AddMinutes(42),
            Message = "training: step 120 of 800",
        },
    };

    public static Expert ImportedExpert() => new()
    {
        Metadata = new V1ObjectMeta { Name = "legal" },
        Spec = new ExpertSpec
        {
            Domain = "legal",
            Seed = new ArtifactSource { Uri = "file:///models/seed" },
            Data = new ArtifactSource { Uri = "file:///data/legal" },
            Import = new ArtifactSource { Uri = "file:///models/legal" },
            Embedding = new EmbeddingSpec { VectorUri = "file:///models/legal/embedding.json" },
        },
    };

    public static NexusModel NexusModel() => new()
    {
        Metadata = new V1ObjectMeta { Name = "demo", NamespaceProperty = "ml" },
        Spec = new NexusModelSpec
        {
            Seed = new ArtifactSource { Uri = "s3://models/runs/seed/model" },
            Experts = new ExpertSelection
            {
                Selector = new V1LabelSelector
                {
                    MatchLabels = new Dictionary<string, string> { ["nexus.moe/mix"] = "demo" },
                    MatchExpressions = [new V1LabelSelectorRequirement { Key = "tier", OperatorProperty = "In", Values = ["gold", "silver"] }],
                },
            },
            Router = new RouterSpec { Type = RouterType.Linear, TopK = 2, AuxLossCoefficient = 0.01, ProjectionSize = 256 },
            Finetune = new FinetuneSpec
            {
                Steps = 300, LearningRate = 2e-3,
                Mix = new DataMix { Type = MixType.Explicit, Weights = [new DomainWeight { Domain = "news", Weight = 2 }, new DomainWeight { Domain = "books", Weight = 1 }] },
            },
            Extension = new ExtensionPolicySpec { Policy = ExtensionPolicy.Manual, Finetune = new ExtensionFinetune { Steps = 20 }, NewDomainShare = 0.3 },
            Revision = 2,
            RevisionHistoryLimit = 5,
            Serving = new ServingSpec
            {
                Replicas = 3,
                Runtime = ServingRuntime.Vllm,
                Resources = Resources(),
                Strategy = new RolloutStrategy { MaxSurge = 0, MaxUnavailable = "25%" },
                Port = 9000,
            },
            Resources = Resources(),
        },
        Status = new NexusModelStatus
        {
            Phase = NexusModelPhase.RollingOut,
            ObservedGeneration = 4,
            Conditions = [Condition(ConditionTypes.Ready, "False", Reasons.RollingOut)],
            CurrentRevision = 2,
            ServedRevision = 1,
            Experts = ["news", "science", "books"],
            ExpertCount = 3,
            Revisions =
            [
                new ModelRevision
                {
                    Revision = 1,
                    Experts = [new RevisionExpert { Name = "news", Domain = "news", CheckpointSha256 = Sha }],
                    Model = new ArtifactReference { Uri = "s3://models/demo/r1", Sha256 = Sha },
                    Metrics = new EvaluationMetrics
                    {
                        Perplexity = new Dictionary<string, double> { ["news"] = 3.5, ["books"] = 4.25 },
                        RoutingShare = new Dictionary<string, double> { ["news"] = 0.61 },
                        EvaluatedTokens = 32_768,
                    },
                    CreatedAt = Started,
                    Reason = RevisionReason.Initial,
                    BuildSpecHash = Sha,
                },
                new ModelRevision { Revision = 2, Reason = RevisionReason.Extension, Extension = "demo-add-science" },
            ],
            Endpoint = "http://demo.ml.svc:9000",
            ReadyReplicas = 2,
            ActiveJob = "demo-finetune-2",
            Message = "rolling out revision 2",
        },
    };

    public static Extension Extension() => new()
    {
        Metadata = new V1ObjectMeta { Name = "demo-add-code", NamespaceProperty = "ml" },
        Spec = new ExtensionSpec
        {
            Model = "demo",
            Add = ["code"],
            Remove = ["speeches"],
            Finetune = new ExtensionFinetune { Steps = 8, LearningRate = 3e-3 },
        },
        Status = new ExtensionStatus
        {
            Phase = ExtensionPhase.Succeeded,
            ObservedGeneration = 1,
            Conditions = [Condition(ConditionTypes.Ready, "True", Reasons.Succeeded)],
            FromRevision = 2,
            ToRevision = 3,
            Metrics = new EvaluationMetrics { Perplexity = new Dictionary<string, double> { ["code"] = 2.75 } },
            Artifacts = new ExtensionArtifacts
            {
                Extended = new ArtifactReference { Uri = "s3://models/demo/r3-extended", Sha256 = Sha },
                Model = new ArtifactReference { Uri = "s3://models/demo/r3", Sha256 = Sha },
            },
            ActiveJob = "demo-add-code-finetune",
            StartTime = Started,
            CompletionTime = Started.AddMinutes(5),
            Message = "revision 3 built",
        },
    };

    private static WorkloadResources Resources() => new()
    {
        Gpu = new GpuResources { Count = 2, ResourceName = "amd.com/gpu" },
        Cpu = new ResourceQuantity("500m"),
        Memory = new ResourceQuantity("16Gi"),
        NodeSelector = new Dictionary<string, string> { ["pool"] = "gpu" },
        Tolerations = [new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule", TolerationSeconds = 30 }],
        PriorityClassName = "training",
        QueueName = "team-a",
    };

    private static V1Condition Condition(string type, string status, string reason) => new()
    {
        Type = type, Status = status, Reason = reason, Message = $"{type} is {status}",
        LastTransitionTime = Started, ObservedGeneration = 3,
    };
}
