using System.ComponentModel;
using System.Text.Json.Serialization;
using k8s.Models;
using Nexus.Api.Crds;

namespace Nexus.Api.V1Alpha1;

/// <summary>
/// Where and with what a workload's pods run: a small typed subset of a pod spec (no PodSpec, so the CRD stays
/// small enough for client-side apply).
/// </summary>
[Description("Compute and placement for the pods of a Job or Deployment.")]
public sealed class WorkloadResources
{
    [Description("Accelerators per pod.")]
    [Default]
    [JsonPropertyName("gpu")]
    public GpuResources Gpu { get; set; } = new();

    [Description("CPU request and limit per pod, as a Kubernetes quantity (cores: \"4\", \"500m\").")]
    [JsonPropertyName("cpu")]
    public ResourceQuantity? Cpu { get; set; }

    [Description("Memory request and limit per pod, as a Kubernetes quantity (bytes: \"16Gi\", \"512Mi\").")]
    [JsonPropertyName("memory")]
    public ResourceQuantity? Memory { get; set; }

    [Description("Node labels the pods must match (pod spec nodeSelector).")]
    [MaxProperties(32), MaxLength(Patterns.DnsLabelMaxLength)]
    [JsonPropertyName("nodeSelector")]
    public IDictionary<string, string>? NodeSelector { get; set; }

    [Description("Taints the pods tolerate, e.g. the taint of a GPU node pool (pod spec tolerations).")]
    [MaxItems(32)]
    [JsonPropertyName("tolerations")]
    public IList<V1Toleration>? Tolerations { get; set; }

    [Description("PriorityClass of the pods; a lower class lets serving preempt training, for instance.")]
    [MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.DnsSubdomain)]
    [JsonPropertyName("priorityClassName")]
    public string? PriorityClassName { get; set; }

    [Description("Kueue LocalQueue to submit to: set as the kueue.x-k8s.io/queue-name label, and Kueue decides when " +
                 "the workload starts. Unset: the workload is created unsuspended, without Kueue.")]
    [MaxLength(Patterns.DnsLabelMaxLength), Pattern(Patterns.DnsLabel)]
    [JsonPropertyName("queueName")]
    public string? QueueName { get; set; }
}

/// <summary>Accelerators as an extended resource, so NVIDIA, AMD and other device plugins all fit.</summary>
[Description("Accelerators per pod, requested as an extended resource.")]
public sealed class GpuResources
{
    public const string NvidiaGpu = "nvidia.com/gpu";

    [Description("Accelerators per pod (devices); 0 runs on CPU.")]
    [Default, Minimum(0), Maximum(16)]
    [JsonPropertyName("count")]
    public int Count { get; set; }

    [Description("Extended resource name the device plugin advertises, e.g. nvidia.com/gpu or amd.com/gpu; unset, " +
                 "the operator's configured default (nvidia.com/gpu unless the installation says otherwise).")]
    [MaxLength(Patterns.DnsSubdomainMaxLength), Pattern(Patterns.QualifiedName)]
    [JsonPropertyName("resourceName")]
    public string? ResourceName { get; set; }
}
