using System.Globalization;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// The parts every pod running the worker image shares, Job or serving: the restricted security context, the S3
/// settings and credentials (files from the Secret, never values), a writable emptyDir for HOME, temporary files and
/// the artifact cache (the root filesystem is read-only), and the compute and placement a resource asks for.
/// </summary>
public static class WorkerPod
{
    public const string ContainerName = "nexus";

    /// <summary>The <c>nexus</c> CLI, on the worker image's PATH; a step's arguments start with the subcommand.</summary>
    public const string Command = "nexus";

    /// <summary>The fixed non-root user (and group) the pods run as: distroless's <c>nonroot</c>. The worker image must
    /// not need another.</summary>
    public const long RunAsUser = 65532;

    public const string S3CredentialsVolume = "s3-credentials";
    public const string S3CredentialsPath = "/var/run/secrets/nexus.moe/s3";

    /// <summary>Read by the owner and the pod's group (fsGroup) only.</summary>
    public const int S3CredentialsFileMode = 0b100_100_000; // 0440

    /// <summary>Containers and Job pods: restricted Pod Security Standard, plus a read-only root filesystem.</summary>
    public static V1PodSecurityContext PodSecurityContext() => new()
    {
        RunAsNonRoot = true,
        RunAsUser = RunAsUser,
        RunAsGroup = RunAsUser,
        FsGroup = RunAsUser,
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    public static V1SecurityContext ContainerSecurityContext() => new()
    {
        RunAsNonRoot = true,
        RunAsUser = RunAsUser,
        RunAsGroup = RunAsUser,
        ReadOnlyRootFilesystem = true,
        AllowPrivilegeEscalation = false,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };

    /// <summary>
    /// The environment of the <c>nexus</c> container: S3 endpoint and region as values, the keys as paths of the files
    /// the Secret is mounted as (<c>NEXUS_S3_*_KEY_FILE</c>, docs/storage.md); HOME, TMPDIR and
    /// <c>NEXUS_ARTIFACT_CACHE</c> on the writable emptyDir at <paramref name="scratchPath"/>.
    /// </summary>
    public static List<V1EnvVar> Environment(OperatorSettings settings, string scratchPath) =>
    [
        new() { Name = "NEXUS_S3_ENDPOINT", Value = settings.S3Endpoint },
        new() { Name = "NEXUS_S3_REGION", Value = settings.S3Region },
        new() { Name = "NEXUS_S3_ACCESS_KEY_FILE", Value = $"{S3CredentialsPath}/{OperatorSettings.S3AccessKeyKey}" },
        new() { Name = "NEXUS_S3_SECRET_KEY_FILE", Value = $"{S3CredentialsPath}/{OperatorSettings.S3SecretKeyKey}" },
        new() { Name = "HOME", Value = scratchPath },
        new() { Name = "TMPDIR", Value = scratchPath },
        new() { Name = "NEXUS_ARTIFACT_CACHE", Value = $"{scratchPath}/artifacts" },
    ];

    /// <summary>The S3 credentials Secret, only its two keys, as read-only files; and the scratch emptyDir.</summary>
    public static List<V1Volume> Volumes(OperatorSettings settings, string scratchVolume) =>
    [
        new()
        {
            Name = S3CredentialsVolume,
            Secret = new V1SecretVolumeSource
            {
                SecretName = settings.S3CredentialsSecretName,
                DefaultMode = S3CredentialsFileMode,
                Items =
                [
                    new V1KeyToPath { Key = OperatorSettings.S3AccessKeyKey, Path = OperatorSettings.S3AccessKeyKey },
                    new V1KeyToPath { Key = OperatorSettings.S3SecretKeyKey, Path = OperatorSettings.S3SecretKeyKey },
                ],
            },
        },
        new()
        {
            Name = scratchVolume,
            EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(settings.ScratchSizeLimit) },
        },
    ];

    public static List<V1VolumeMount> VolumeMounts(string scratchVolume, string scratchPath) =>
    [
        new() { Name = S3CredentialsVolume, MountPath = S3CredentialsPath, ReadOnlyProperty = true },
        new() { Name = scratchVolume, MountPath = scratchPath },
    ];

    /// <summary>
    /// Requests (and limits, which the CRD describes as the same) for CPU and memory where given; GPUs, an extended
    /// resource, as equal requests and limits, only when the count is above 0. The GPU resource name is the
    /// resource's, or the settings' default when the resource leaves it empty.
    /// </summary>
    public static V1ResourceRequirements Resources(WorkloadResources resources, OperatorSettings settings)
    {
        var requests = new Dictionary<string, ResourceQuantity>();
        if (resources.Cpu is { } cpu)
        {
            requests["cpu"] = new ResourceQuantity(cpu.ToString());
        }

        if (resources.Memory is { } memory)
        {
            requests["memory"] = new ResourceQuantity(memory.ToString());
        }

        if (resources.Gpu.Count > 0)
        {
            requests[GpuResourceName(resources, settings)] = new ResourceQuantity(resources.Gpu.Count.ToString(CultureInfo.InvariantCulture));
        }

        return requests.Count == 0
            ? new V1ResourceRequirements()
            : new V1ResourceRequirements
            {
                Requests = requests,
                Limits = requests.ToDictionary(pair => pair.Key, pair => new ResourceQuantity(pair.Value.ToString())),
            };
    }

    public static string GpuResourceName(WorkloadResources resources, OperatorSettings settings) =>
        string.IsNullOrEmpty(resources.Gpu.ResourceName) ? settings.DefaultGpuResourceName : resources.Gpu.ResourceName;

    /// <summary>A copy of the resource's node selector, in key order.</summary>
    public static Dictionary<string, string>? NodeSelector(WorkloadResources resources) =>
        resources.NodeSelector is { Count: > 0 } selector
            ? selector.OrderBy(pair => pair.Key, StringComparer.Ordinal).ToDictionary(pair => pair.Key, pair => pair.Value)
            : null;

    /// <summary>Copies of the resource's tolerations, in its order.</summary>
    public static List<V1Toleration>? Tolerations(WorkloadResources resources) =>
        resources.Tolerations is { Count: > 0 } tolerations
            ? tolerations.Select(toleration => new V1Toleration
            {
                Key = toleration.Key,
                OperatorProperty = toleration.OperatorProperty,
                Value = toleration.Value,
                Effect = toleration.Effect,
                TolerationSeconds = toleration.TolerationSeconds,
            }).ToList()
            : null;

    /// <summary>The labels every object made for <paramref name="owner"/> carries: product, component, manager and
    /// <c>nexus.moe/&lt;kind&gt;: &lt;name&gt;</c> (an Extension's objects also name their model).</summary>
    public static Dictionary<string, string> Labels(IKubernetesObject<V1ObjectMeta> owner, string component)
    {
        var labels = new Dictionary<string, string>
        {
            [Specs.Labels.Name] = Specs.Labels.NameValue,
            [Specs.Labels.Component] = component,
            [Specs.Labels.ManagedBy] = Specs.Labels.ManagedByValue,
        };
        switch (owner)
        {
            case Expert expert:
                labels[Specs.Labels.Expert] = KubernetesNames.LabelValue(expert.Metadata.Name);
                break;
            case NexusModel model:
                labels[Specs.Labels.NexusModel] = KubernetesNames.LabelValue(model.Metadata.Name);
                break;
            case Extension extension:
                labels[Specs.Labels.Extension] = KubernetesNames.LabelValue(extension.Metadata.Name);
                labels[Specs.Labels.NexusModel] = KubernetesNames.LabelValue(extension.Spec.Model);
                break;
            default:
                throw new ArgumentException($"{owner.Kind} is not a Nexus resource.", nameof(owner));
        }

        return labels;
    }
}
