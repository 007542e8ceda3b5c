using System.Globalization;
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
/// </list>
/// </remarks>
public static class ServingDeployment
{
    public const string PortName = "http";
    public const string ModelCacheVolume = "model-cache";
    public const string ModelCachePath = "/model-cache";
    public const string ReadinessPath = "/readyz";
    public const string LivenessPath = "/healthz";

    private const int StartupProbePeriodSeconds = 10;
    private const int ProgressDeadlineMarginSeconds = 600;

    public static V1Deployment Build(NexusModel model, int revision, string modelUri, OperatorSettings settings)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        ArgumentException.ThrowIfNullOrEmpty(modelUri);
        var serving = model.Spec.Serving;
        var container = serving.Runtime switch
        {
            ServingRuntime.Builtin => BuiltinContainer(model.Metadata.Name, serving, modelUri, settings),
            ServingRuntime.Vllm => throw new NotSupportedException(
                $"NexusModel {model.Metadata.Name}: spec.serving.runtime vllm is not supported yet; it arrives with the vLLM " +
                "serving issue (vLLM on the model's Qwen2-MoE export, docs/export.md). Use runtime: builtin."),
            _ => throw new ArgumentOutOfRangeException(nameof(model), serving.Runtime, "Unknown serving runtime."),
        };

        var revisionAnnotation = new Dictionary<string, string> { [Annotations.Revision] = revision.ToString(CultureInfo.InvariantCulture) };
        var podLabels = WorkerPod.Labels(model, Labels.ServingComponent);
        var deploymentLabels = new Dictionary<string, string>(podLabels);
        if (serving.Resources.QueueName is { Length: > 0 } queue)
        {
            deploymentLabels[Labels.KueueQueueName] = queue;
        }

        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta
            {
                Name = Name(model),
                NamespaceProperty = model.Metadata.NamespaceProperty,
                Labels = deploymentLabels,
                Annotations = new Dictionary<string, string>(revisionAnnotation),
                OwnerReferences = [OwnerReferences.ControllerReference(model)],
            },
            Spec = new V1DeploymentSpec
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
                        Containers = [container],
                        Volumes = WorkerPod.Volumes(settings, ModelCacheVolume),
                    },
                },
            },
        };
    }

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
    private static V1Container BuiltinContainer(string name, ServingSpec serving, string modelUri, OperatorSettings settings)
    {
        var port = serving.Port.ToString(CultureInfo.InvariantCulture);
        return new V1Container
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
            StartupProbe = new V1Probe
            {
                HttpGet = new V1HTTPGetAction { Path = ReadinessPath, Port = PortName },
                PeriodSeconds = StartupProbePeriodSeconds,
                TimeoutSeconds = 5,
                FailureThreshold = (settings.ServingStartupTimeoutSeconds + StartupProbePeriodSeconds - 1) / StartupProbePeriodSeconds,
            },
            ReadinessProbe = new V1Probe
            {
                HttpGet = new V1HTTPGetAction { Path = ReadinessPath, Port = PortName },
                PeriodSeconds = 5,
                TimeoutSeconds = 3,
                FailureThreshold = 3,
            },
            LivenessProbe = new V1Probe
            {
                HttpGet = new V1HTTPGetAction { Path = LivenessPath, Port = PortName },
                PeriodSeconds = 10,
                TimeoutSeconds = 5,
                FailureThreshold = 3,
            },
            SecurityContext = WorkerPod.ContainerSecurityContext(),
        };
    }
}
