using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Specs;

/// <summary>
/// The Deployment that serves a NexusModel's current revision: a pure function of the model, the revision, the
/// revision's model location and the settings.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The name and the selector depend only on the model's name, never on the revision: a new revision is a
/// rolling update of the same Deployment (its pod template changes: the model argument and the
/// <c>nexus.moe/revision</c> annotation), with spec.serving.strategy's surge and unavailability.</item>
/// <item>The startup probe waits on <c>/readyz</c> (true once the model is downloaded and loaded) for up to
/// <see cref="OperatorSettings.ServingStartupTimeoutSeconds"/>; after it, readiness stays on <c>/readyz</c> and
/// liveness on <c>/healthz</c>. The progress deadline allows the startup timeout plus ten minutes, so a slow download
/// is not reported as a failed rollout.</item>
/// <item>A named queue becomes the Kueue label on the Deployment (Kueue's pod-group integration), as for Jobs.</item>
/// <item>spec.serving.runtime changes only the pod template (<c>builtin</c>: <c>nexus serve</c>; <c>vllm</c>: an export
/// init container and vLLM's OpenAI server, whose startup probe waits on <c>/health</c> as long): the Deployment, its
/// name, selector, labels, strategy and the Service's port name stay, so switching runtime is a rolling update too.</item>
/// </list>
/// </remarks>
public static class ServingDeployment
{
    public const string PortName = "http";
    public const string ModelCacheVolume = "model-cache";
    public const string ModelCachePath = "/model-cache";
    public const string ReadinessPath = "/readyz";
    public const string LivenessPath = "/healthz";

    /// <summary>vLLM's health endpoint: 200 once the engine is loaded and while it runs.</summary>
    public const string VllmHealthPath = "/health";
    public const string VllmContainerName = "vllm";
    public const string ExportContainerName = "export";

    /// <summary>The <c>nexus export --format</c> vLLM serves: Qwen2-MoE is native to vLLM (DeepSeek-MoE v1 would need
    /// remote code from the Hub).</summary>
    public const string ExportFormat = "qwen2-moe";

    /// <summary>Where the init container writes the export, and vLLM's <c>--model</c>.</summary>
    public const string ExportPath = ModelCachePath + "/qwen2-moe";

    public const string TmpVolume = "tmp";
    public const string TmpPath = "/tmp";
    public const string SharedMemoryVolume = "dshm";
    public const string SharedMemoryPath = "/dev/shm";

    /// <summary>Small: vLLM's /tmp holds IPC sockets and small files; its caches are under HOME on the model cache.</summary>
    private const string TmpSizeLimit = "2Gi";

    /// <summary>vLLM's Kubernetes guide's figure; memory-backed, so it counts against the container's memory limit.</summary>
    private const string SharedMemorySizeLimit = "2Gi";

    private const int StartupProbePeriodSeconds = 10;
    private const int ProgressDeadlineMarginSeconds = 600;

    public static V1Deployment Build(NexusModel model, int revision, string modelUri, OperatorSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        ArgumentException.ThrowIfNullOrEmpty(modelUri);
        var serving = model.Spec.Serving;
        var pod = serving.Runtime switch
        {
            ServingRuntime.Builtin => BuiltinPod(model.Metadata.Name, serving, modelUri, settings),
            ServingRuntime.Vllm => VllmPod(model.Metadata.Name, serving, modelUri, settings),
            _ => throw new ArgumentOutOfRangeException(nameof(model), serving.Runtime, "Unknown serving runtime."),
        };

        var revisionAnnotation = new Dictionary<string, string> { [Annotations.Revision] = revision.ToString(CultureInfo.InvariantCulture) };
        var podLabels = WorkerPod.Labels(model, Labels.ServingComponent);
        var deploymentLabels = new Dictionary<string, string>(podLabels);
        if (serving.Resources.QueueName is { Length: > 0 } queue)
        {
            deploymentLabels[Labels.KueueQueueName] = queue;
        }

        var spec = new V1DeploymentSpec
        {
            Replicas = serving.Replicas,
            Selector = new V1LabelSelector { MatchLabels = SelectorLabels(model) },
            Strategy = new V1DeploymentStrategy
            {
                Type = "RollingUpdate",
                RollingUpdate = new V1RollingUpdateDeployment
                {
                    MaxSurge = serving.Strategy.MaxSurge,
                    MaxUnavailable = serving.Strategy.MaxUnavailable,
                },
            },
            ProgressDeadlineSeconds = settings.ServingStartupTimeoutSeconds + ProgressDeadlineMarginSeconds,
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = podLabels, Annotations = revisionAnnotation },
                Spec = new V1PodSpec
                {
                    ServiceAccountName = settings.WorkerServiceAccountName,
                    AutomountServiceAccountToken = false,
                    SecurityContext = WorkerPod.PodSecurityContext(),
                    PriorityClassName = serving.Resources.PriorityClassName,
                    NodeSelector = WorkerPod.NodeSelector(serving.Resources),
                    Tolerations = WorkerPod.Tolerations(serving.Resources),
                    InitContainers = pod.InitContainers,
                    Containers = [pod.Container],
                    Volumes = pod.Volumes,
                },
            },
        };

        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta
            {
                Name = Name(model),
                NamespaceProperty = model.Metadata.NamespaceProperty,
                Labels = deploymentLabels,
                Annotations = new Dictionary<string, string>(revisionAnnotation) { [Annotations.SpecHash] = SpecHash(spec) },
                OwnerReferences = [OwnerReferences.ControllerReference(model)],
            },
            Spec = spec,
        };
    }

    /// <summary>16 hex characters of the SHA-256 of the spec's JSON (template included, so a new revision changes it): the
    /// reconciler replaces the live spec whenever the one it built differs.</summary>
    public static string SpecHash(V1DeploymentSpec spec) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(KubernetesJson.Serialize(spec))))[..16];

    /// <summary>The Deployment's and the Service's name: the model's name where it is a valid Service name (an RFC 1035
    /// label), else a shortened form with a hash (<see cref="KubernetesNames.Dns1035Label"/>).</summary>
    public static string Name(NexusModel model) => KubernetesNames.Dns1035Label(model.Metadata.Name);

    /// <summary>The pod selector of the Deployment and the Service: the same for every revision.</summary>
    public static Dictionary<string, string> SelectorLabels(NexusModel model) => new()
    {
        [Labels.Name] = Labels.NameValue,
        [Labels.Component] = Labels.ServingComponent,
        [Labels.NexusModel] = KubernetesNames.LabelValue(model.Metadata.Name),
    };

    /// <summary><c>nexus serve --model URI --model-id NAME --port P</c>: clients name the model by the NexusModel's name.</summary>
    private static ServingPod BuiltinPod(string name, ServingSpec serving, string modelUri, OperatorSettings settings)
    {
        var port = serving.Port.ToString(CultureInfo.InvariantCulture);
        var container = new V1Container
        {
            Name = WorkerPod.ContainerName,
            Image = settings.WorkerImage,
            ImagePullPolicy = settings.WorkerImagePullPolicy,
            Command = [WorkerPod.Command],
            Args = ["serve", "--model", modelUri, "--model-id", name, "--port", port],
            WorkingDir = ModelCachePath,
            Ports = [new V1ContainerPort { Name = PortName, ContainerPort = serving.Port, Protocol = "TCP" }],
            Env = WorkerPod.Environment(settings, ModelCachePath),
            Resources = WorkerPod.Resources(serving.Resources, settings),
            VolumeMounts = WorkerPod.VolumeMounts(ModelCacheVolume, ModelCachePath),
            StartupProbe = StartupProbe(ReadinessPath, settings),
            ReadinessProbe = ReadinessProbe(ReadinessPath),
            LivenessProbe = LivenessProbe(LivenessPath),
            SecurityContext = WorkerPod.ContainerSecurityContext(),
        };
        return new ServingPod(null, container, WorkerPod.Volumes(settings, ModelCacheVolume));
    }

    /// <summary>
    /// vLLM's OpenAI server on the revision's Qwen2-MoE export. The init container (the worker image) fetches the
    /// revision's model, verifying its manifest, and runs <c>nexus export</c> into the model cache, refusing a model
    /// without a Hugging Face tokenizer; the vLLM container then serves that folder under the NexusModel's name, on
    /// all the GPUs the pod asks for (tensor parallel), with no S3 credentials mounted and no network access needed.
    /// </summary>
    /// <remarks>
    /// vLLM's image runs as root by default; the pod's non-root user (<see cref="WorkerPod.RunAsUser"/>) applies to it
    /// too. That user has no passwd entry in the image and the root filesystem is read-only, so HOME, the Hugging Face,
    /// torch compile and other caches live on the model-cache emptyDir, <c>USER</c> is set (Python's
    /// <c>getpass.getuser()</c> reads it before the passwd file), /tmp is its own emptyDir and /dev/shm a memory-backed
    /// one (vLLM's workers and NCCL exchange tensors through shared memory).
    /// </remarks>
    private static ServingPod VllmPod(string name, ServingSpec serving, string modelUri, OperatorSettings settings)
    {
        var export = new V1Container
        {
            Name = ExportContainerName,
            Image = settings.WorkerImage,
            ImagePullPolicy = settings.WorkerImagePullPolicy,
            Command = [WorkerPod.Command],
            Args = ["export", "--model", modelUri, "--format", ExportFormat, "--out", ExportPath, "--dtype", settings.VllmDtype, "--require-hf-tokenizer"],
            WorkingDir = ModelCachePath,
            Env = WorkerPod.Environment(settings, ModelCachePath),
            // The export needs CPU and memory only; the pod's effective request is the larger of it and the server's.
            Resources = WorkerPod.Resources(new WorkloadResources { Cpu = serving.Resources.Cpu, Memory = serving.Resources.Memory }, settings),
            VolumeMounts = WorkerPod.VolumeMounts(ModelCacheVolume, ModelCachePath),
            // Its one-line error (no tokenizer.json, say) shows in the pod's status, not only in its logs.
            TerminationMessagePolicy = "FallbackToLogsOnError",
            SecurityContext = WorkerPod.ContainerSecurityContext(),
        };

        var home = $"{ModelCachePath}/home";
        var server = new V1Container
        {
            Name = VllmContainerName,
            Image = settings.VllmImage,
            ImagePullPolicy = settings.WorkerImagePullPolicy,
            Command = ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            Args =
            [
                "--model", ExportPath,
                "--served-model-name", name,
                "--host", "0.0.0.0",
                "--port", serving.Port.ToString(CultureInfo.InvariantCulture),
                "--tensor-parallel-size", TensorParallelSize(serving).ToString(CultureInfo.InvariantCulture),
                "--dtype", OperatorSettings.VllmDtypeName(settings.VllmDtype),
            ],
            WorkingDir = ModelCachePath,
            Ports = [new V1ContainerPort { Name = PortName, ContainerPort = serving.Port, Protocol = "TCP" }],
            Env =
            [
                new() { Name = "HOME", Value = home },
                new() { Name = "USER", Value = "nexus" },
                new() { Name = "TMPDIR", Value = TmpPath },
                new() { Name = "HF_HOME", Value = $"{home}/.cache/huggingface" },
                new() { Name = "TORCHINDUCTOR_CACHE_DIR", Value = $"{home}/.cache/torchinductor" },
                new() { Name = "HF_HUB_OFFLINE", Value = "1" },
                new() { Name = "VLLM_NO_USAGE_STATS", Value = "1" },
                new() { Name = "DO_NOT_TRACK", Value = "1" },
            ],
            Resources = WorkerPod.Resources(serving.Resources, settings),
            VolumeMounts =
            [
                new() { Name = ModelCacheVolume, MountPath = ModelCachePath },
                new() { Name = TmpVolume, MountPath = TmpPath },
                new() { Name = SharedMemoryVolume, MountPath = SharedMemoryPath },
            ],
            StartupProbe = StartupProbe(VllmHealthPath, settings),
            ReadinessProbe = ReadinessProbe(VllmHealthPath),
            LivenessProbe = LivenessProbe(VllmHealthPath),
            SecurityContext = WorkerPod.ContainerSecurityContext(),
        };

        var volumes = WorkerPod.Volumes(settings, ModelCacheVolume);
        volumes.Add(new V1Volume { Name = TmpVolume, EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(TmpSizeLimit) } });
        volumes.Add(new V1Volume
        {
            Name = SharedMemoryVolume,
            EmptyDir = new V1EmptyDirVolumeSource { Medium = "Memory", SizeLimit = new ResourceQuantity(SharedMemorySizeLimit) },
        });
        return new ServingPod([export], server, volumes);
    }

    /// <summary>vLLM's <c>--tensor-parallel-size</c>: the model is split over every GPU the pod asks for; 1 without GPUs
    /// (a CPU build of vLLM set as the image).</summary>
    public static int TensorParallelSize(ServingSpec serving) => Math.Max(1, serving.Resources.Gpu.Count);

    /// <summary>Waits on <paramref name="path"/> for up to <see cref="OperatorSettings.ServingStartupTimeoutSeconds"/>.</summary>
    private static V1Probe StartupProbe(string path, OperatorSettings settings) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = PortName },
        PeriodSeconds = StartupProbePeriodSeconds,
        TimeoutSeconds = 5,
        FailureThreshold = (settings.ServingStartupTimeoutSeconds + StartupProbePeriodSeconds - 1) / StartupProbePeriodSeconds,
    };

    /// <summary>Out of the Service's endpoints after three failed checks 5 s apart.</summary>
    private static V1Probe ReadinessProbe(string path) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = PortName },
        PeriodSeconds = 5,
        TimeoutSeconds = 3,
        FailureThreshold = 3,
    };

    /// <summary>Restarted after three failed checks 10 s apart (only once the startup probe has passed).</summary>
    private static V1Probe LivenessProbe(string path) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = PortName },
        PeriodSeconds = 10,
        TimeoutSeconds = 5,
        FailureThreshold = 3,
    };

    /// <summary>What differs between runtimes: the pod's containers and volumes.</summary>
    private sealed record ServingPod(List<V1Container>? InitContainers, V1Container Container, List<V1Volume> Volumes);
}
