using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Specs;

/// <summary>The resources the expected YAML is built from: the demo of examples/, in namespace ml, as read back from
/// the API server (uid, generation), with GPU placement on the training expert.</summary>
internal static class SpecFixtures
{
    public const string Namespace = "ml";
    public const string Seed = "s3://models/runs/seed/model";

    public static OperatorSettings Settings { get; } = new()
    {
        WorkerImage = "registry.example.com/nexus/worker:1.2.3",
        ArtifactRoot = "s3://nexus-artifacts",
        S3Endpoint = "http://minio.nexus-system.svc:9000",
        S3Region = "us-east-1",
        S3CredentialsSecretName = "nexus-s3",
        WorkerServiceAccountName = "nexus-worker",
    };

    public static ArtifactPaths Paths { get; } = new(Settings);

    /// <summary>The 'news' expert at generation 3, training on one GPU through a Kueue queue on a tainted node pool.</summary>
    public static Expert NewsExpert() => new()
    {
        Metadata = Metadata("news", "0f8fad5b-d9cb-469f-a165-70867728950e", generation: 3, labels: new() { ["nexus.moe/mix"] = "demo" }),
        Spec = new ExpertSpec
        {
            Domain = "news",
            Data = new ArtifactSource { Uri = "s3://corpora/nexus-data/news" },
            Seed = new ArtifactSource { Uri = Seed },
            Training = new ExpertTraining
            {
                Steps = 400,
                BatchSize = 16,
                SequenceLength = 128,
                LearningRate = 0.003,
                WarmupSteps = 30,
                CheckpointEverySteps = 100,
                RandomSeed = 1234,
            },
            Embedding = new EmbeddingSpec { SampleTokens = 65_536 },
            Resources = new WorkloadResources
            {
                Gpu = new GpuResources { Count = 1 },
                Cpu = new ResourceQuantity("8"),
                Memory = new ResourceQuantity("32Gi"),
                NodeSelector = new Dictionary<string, string>
                {
                    ["node.kubernetes.io/instance-type"] = "g5.2xlarge",
                    ["cloud.google.com/gke-accelerator"] = "nvidia-l4",
                },
                Tolerations =
                [
                    new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" },
                    new V1Toleration { Key = "pool", OperatorProperty = "Equal", Value = "training", Effect = "NoSchedule" },
                ],
                PriorityClassName = "nexus-training",
                QueueName = "gpu-training",
            },
        },
    };

    /// <summary>The 'speeches' expert at generation 1, on CPUs, without a queue (the demo's own resources).</summary>
    public static Expert SpeechesExpert() => new()
    {
        Metadata = Metadata("speeches", "7c9e6679-7425-40de-944b-e07fc1f90ae7", generation: 1),
        Spec = new ExpertSpec
        {
            Domain = "speeches",
            Seed = new ArtifactSource { Uri = Seed },
            Data = new ArtifactSource { Uri = "s3://corpora/nexus-data/speeches" },
            Training = new ExpertTraining(),
            Resources = new WorkloadResources { Cpu = new ResourceQuantity("2"), Memory = new ResourceQuantity("4Gi") },
        },
    };

    /// <summary>An imported expert: a dense checkpoint from elsewhere, with a precomputed domain embedding.</summary>
    public static Expert ImportedLawExpert() => new()
    {
        Metadata = Metadata("law", "e4eaaaf2-d142-11e1-b3e4-080027620cdd", generation: 2),
        Spec = new ExpertSpec
        {
            Domain = "law",
            Data = new ArtifactSource { Uri = "s3://partners/law-finetune/data" },
            Seed = new ArtifactSource { Uri = Seed },
            Import = new ArtifactSource { Uri = "s3://partners/law-finetune/model" },
            Embedding = new EmbeddingSpec { VectorUri = "s3://partners/law-finetune/embedding.txt" },
        },
    };

    /// <summary>The demo NexusModel (examples/nexusmodel-demo.yaml).</summary>
    public static NexusModel DemoModel() => new()
    {
        Metadata = Metadata("demo", "a3bb189e-8bf9-3888-9912-ace4e6543002", generation: 1),
        Spec = new NexusModelSpec
        {
            Seed = new ArtifactSource { Uri = Seed },
            Experts = new ExpertSelection
            {
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["nexus.moe/mix"] = "demo" } },
            },
            Router = new RouterSpec { Type = RouterType.Nexus, TopK = 1, AuxLossCoefficient = 0.05 },
            Finetune = new FinetuneSpec
            {
                Steps = 400,
                BatchSize = 16,
                SequenceLength = 128,
                LearningRate = 0.003,
                WarmupSteps = 30,
                Mix = new DataMix { Type = MixType.Proportional },
            },
            Extension = new ExtensionPolicySpec
            {
                Policy = ExtensionPolicy.Automatic,
                Finetune = new ExtensionFinetune { Steps = 40, LearningRate = 0.003, WarmupSteps = 0 },
                NewDomainShare = 0.5,
            },
            Serving = new ServingSpec
            {
                Replicas = 2,
                Runtime = ServingRuntime.Builtin,
                Port = 8080,
                Strategy = new RolloutStrategy { MaxSurge = 1, MaxUnavailable = 0 },
                Resources = new WorkloadResources
                {
                    Gpu = new GpuResources { Count = 1 },
                    Cpu = new ResourceQuantity("4"),
                    Memory = new ResourceQuantity("16Gi"),
                    Tolerations = [new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }],
                    PriorityClassName = "nexus-serving",
                },
            },
            Resources = new WorkloadResources
            {
                Gpu = new GpuResources { Count = 1 },
                Cpu = new ResourceQuantity("8"),
                Memory = new ResourceQuantity("32Gi"),
                QueueName = "gpu-training",
            },
        },
    };

    /// <summary>examples/extension/manual-extension.yaml: append 'code' with a budget of its own.</summary>
    public static Extension AddCode() => new()
    {
        Metadata = Metadata("demo-add-code", "16fd2706-8baf-433b-82eb-8c7fada847da", generation: 1),
        Spec = new ExtensionSpec
        {
            Model = "demo",
            Add = ["code"],
            Finetune = new ExtensionFinetune { Steps = 20, BatchSize = 16, SequenceLength = 128, LearningRate = 0.003, WarmupSteps = 0 },
        },
    };

    /// <summary>A build of the demo model from <see cref="DemoExperts"/>: its revision number and a fixed build id.</summary>
    public static ModelBuild DemoBuild(int revision = 1) => new(revision, "5eb63bbbe0",
        "spec 3fa2b1c0, books 0b1c2d3e/4f5a6b7c, news 1c2d3e4f/5a6b7c8d, science 2d3e4f5a/6b7c8d9e, speeches 3e4f5a6b/7c8d9e0f");

    /// <summary>The demo's four experts as the upcycle reads them, in router order.</summary>
    public static IReadOnlyList<ExpertInput> DemoExperts() =>
        new[] { "books", "news", "science", "speeches" }.Select(ReadyExpert).ToList();

    /// <summary>A Ready expert of the demo mix, trained at generation 1.</summary>
    public static ExpertInput ReadyExpert(string domain) => new(domain, domain)
    {
        CheckpointUri = $"s3://nexus-artifacts/ml/experts/{domain}/5a1e0000-g1/run/model",
        EmbeddingUri = $"s3://nexus-artifacts/ml/experts/{domain}/5a1e0000-g1/embedding.json",
        DataUri = $"s3://corpora/nexus-data/{domain}",
    };

    public static V1ObjectMeta Metadata(string name, string uid, long generation, Dictionary<string, string>? labels = null) => new()
    {
        Name = name,
        NamespaceProperty = Namespace,
        Uid = uid,
        Generation = generation,
        ResourceVersion = "4711",
        Labels = labels,
    };
}
