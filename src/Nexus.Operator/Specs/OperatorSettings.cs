using System.Text.RegularExpressions;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// Everything about the cluster the operator's Jobs and Deployments depend on but a custom resource does not say: one
/// place, with the defaults and the checks. Each builder reads only this record and the resource it builds for.
/// </summary>
public sealed partial record OperatorSettings
{
    /// <summary>The image whose entry point is the <c>nexus</c> CLI (TorchSharp, CUDA build); Jobs and serving pods
    /// run it. A placeholder until the image and chart arrive; the deployment sets it.</summary>
    public string WorkerImage { get; init; } = "ghcr.io/nexus-moe/nexus-worker:0.1.0";

    /// <summary>Always, IfNotPresent or Never.</summary>
    public string WorkerImagePullPolicy { get; init; } = "IfNotPresent";

    /// <summary>Where the operator puts every artifact it makes: <c>s3://BUCKET</c> or <c>s3://BUCKET/PREFIX</c>.
    /// Only S3: a Job's pod has no folder it shares with the next one.</summary>
    public string ArtifactRoot { get; init; } = "s3://nexus-artifacts";

    /// <summary>S3 endpoint the pods reach, <c>NEXUS_S3_ENDPOINT</c> (docs/storage.md).</summary>
    public string S3Endpoint { get; init; } = "https://s3.amazonaws.com";

    /// <summary>S3 region, <c>NEXUS_S3_REGION</c>.</summary>
    public string S3Region { get; init; } = "us-east-1";

    /// <summary>Secret in the workload's namespace holding <see cref="S3AccessKeyKey"/> and <see cref="S3SecretKeyKey"/>.
    /// Mounted read-only as files; the keys never appear in an environment variable or a spec.</summary>
    public string S3CredentialsSecretName { get; init; } = "nexus-s3-credentials";

    /// <summary>Extended resource requested for GPUs when a resource's <c>gpu.resourceName</c> is empty.</summary>
    public string DefaultGpuResourceName { get; init; } = GpuResources.NvidiaGpu;

    /// <summary>Retries of a step's pod (Job backoffLimit). Preemption does not count (podFailurePolicy); exit code 2,
    /// bad input, fails at once.</summary>
    public int JobBackoffLimit { get; init; } = 3;

    /// <summary>Seconds a finished Job (and its pods' logs) is kept before the garbage collector deletes it.</summary>
    public int JobTtlSecondsAfterFinished { get; init; } = 86_400;

    /// <summary>Wall-clock limit of a step's Job in seconds (activeDeadlineSeconds, all retries together), per step.
    /// Steps that train get days; the others hours.</summary>
    public IReadOnlyDictionary<StepKind, long> ActiveDeadlineSeconds { get; init; } = DefaultActiveDeadlineSeconds;

    /// <summary>Service account of the step and serving pods (for workload identity where the cluster has one); its
    /// token is not mounted, the pods do not call the Kubernetes API.</summary>
    public string WorkerServiceAccountName { get; init; } = "nexus-worker";

    /// <summary>Size limit of a pod's scratch emptyDir (bytes, as a Kubernetes quantity): HOME, temporary files and the
    /// artifact cache that holds a step's inputs and staged outputs, or the serving model.</summary>
    public string ScratchSizeLimit { get; init; } = "100Gi";

    /// <summary>Seconds a serving pod may take to download and load its model before the startup probe gives up;
    /// the Deployment's progress deadline allows this plus ten minutes.</summary>
    public int ServingStartupTimeoutSeconds { get; init; } = 1_800;

    /// <summary>vLLM's OpenAI server image, for <c>spec.serving.runtime: vllm</c> (pulled with
    /// <see cref="WorkerImagePullPolicy"/>). A pinned release, never <c>latest</c>, so pods of one Deployment run one
    /// version; the default is CUDA only (a CPU or ROCm build of vLLM may be set instead).</summary>
    public string VllmImage { get; init; } = "vllm/vllm-openai:v0.11.0";

    /// <summary>dtype of the Qwen2-MoE export vLLM serves (<c>nexus export --dtype</c>): <c>bf16</c> (the default),
    /// <c>f16</c> for GPUs without bfloat16 (before compute capability 8.0), or <c>f32</c>, the exact export.</summary>
    public string VllmDtype { get; init; } = "bf16";

    /// <summary>Key of the access key in the S3 credentials Secret.</summary>
    public const string S3AccessKeyKey = "access-key";

    /// <summary>Key of the secret key in the S3 credentials Secret.</summary>
    public const string S3SecretKeyKey = "secret-key";

    private const long Hour = 3_600;

    public static IReadOnlyDictionary<StepKind, long> DefaultActiveDeadlineSeconds { get; } = new Dictionary<StepKind, long>
    {
        [StepKind.Train] = 72 * Hour,
        [StepKind.Import] = 6 * Hour,
        [StepKind.Embed] = 6 * Hour,
        [StepKind.Upcycle] = 6 * Hour,
        [StepKind.Finetune] = 72 * Hour,
        [StepKind.Extend] = 24 * Hour,
        [StepKind.Remove] = 24 * Hour,
        [StepKind.Evaluate] = 6 * Hour,
    };

    /// <summary>The problems with these settings, each naming the setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Check(bool ok, string setting, string message)
        {
            if (!ok)
            {
                problems.Add($"{nameof(OperatorSettings)}.{setting}: {message}");
            }
        }

        Check(IsImageReference(WorkerImage), nameof(WorkerImage), $"'{WorkerImage}' is not an image reference.");
        Check(WorkerImagePullPolicy is "Always" or "IfNotPresent" or "Never", nameof(WorkerImagePullPolicy),
            $"'{WorkerImagePullPolicy}' is not Always, IfNotPresent or Never.");
        Check(ArtifactRootPattern().IsMatch(ArtifactRoot ?? ""), nameof(ArtifactRoot),
            $"'{ArtifactRoot}' is not s3://BUCKET or s3://BUCKET/PREFIX (the pods of different steps share no folder).");
        Check(Uri.TryCreate(S3Endpoint, UriKind.Absolute, out var endpoint) && endpoint.Scheme is "http" or "https",
            nameof(S3Endpoint), $"'{S3Endpoint}' is not an http:// or https:// URL.");
        Check(!string.IsNullOrWhiteSpace(S3Region), nameof(S3Region), "must not be empty; name the region, e.g. us-east-1.");
        Check(IsDnsSubdomain(S3CredentialsSecretName), nameof(S3CredentialsSecretName),
            $"'{S3CredentialsSecretName}' is not a Secret name (DNS subdomain).");
        Check(QualifiedNamePattern().IsMatch(DefaultGpuResourceName ?? ""), nameof(DefaultGpuResourceName),
            $"'{DefaultGpuResourceName}' is not an extended resource name such as nvidia.com/gpu.");
        Check(JobBackoffLimit >= 0, nameof(JobBackoffLimit), $"{JobBackoffLimit} is negative; use 0 or more.");
        Check(JobTtlSecondsAfterFinished >= 0, nameof(JobTtlSecondsAfterFinished), $"{JobTtlSecondsAfterFinished} is negative; use 0 or more.");
        foreach (var step in StepKinds.All)
        {
            Check(ActiveDeadlineSeconds is not null && ActiveDeadlineSeconds.TryGetValue(step, out var seconds) && seconds > 0,
                $"{nameof(ActiveDeadlineSeconds)}[{step}]", "needs a positive number of seconds.");
        }

        Check(IsDnsSubdomain(WorkerServiceAccountName), nameof(WorkerServiceAccountName),
            $"'{WorkerServiceAccountName}' is not a ServiceAccount name (DNS subdomain).");
        Check(IsPositiveQuantity(ScratchSizeLimit), nameof(ScratchSizeLimit),
            $"'{ScratchSizeLimit}' is not a positive Kubernetes quantity such as 100Gi.");
        Check(IsImageReference(VllmImage), nameof(VllmImage), $"'{VllmImage}' is not an image reference.");
        Check(VllmDtypes.ContainsKey(VllmDtype ?? ""), nameof(VllmDtype),
            $"'{VllmDtype}' is not one of {string.Join(", ", VllmDtypes.Keys)} (nexus export's --dtype).");
        Check(ServingStartupTimeoutSeconds >= 10, nameof(ServingStartupTimeoutSeconds),
            $"{ServingStartupTimeoutSeconds} is below 10 seconds; allow 10 or more.");
        return problems;
    }

    /// <summary>Returns these settings if they are usable.</summary>
    /// <exception cref="ArgumentException">Some setting is not; the message names each.</exception>
    public OperatorSettings Validate()
    {
        var problems = Problems();
        return problems.Count == 0 ? this : throw new ArgumentException(string.Join(Environment.NewLine, problems));
    }

    /// <summary>activeDeadlineSeconds of a step's Job.</summary>
    public long ActiveDeadlineSecondsOf(StepKind step) =>
        ActiveDeadlineSeconds.TryGetValue(step, out var seconds)
            ? seconds
            : throw new ArgumentException($"{nameof(OperatorSettings)}.{nameof(ActiveDeadlineSeconds)} has no entry for {step}.");

    /// <summary>vLLM's <c>--dtype</c> for an export's <see cref="VllmDtype"/>.</summary>
    public static string VllmDtypeName(string dtype) =>
        VllmDtypes.TryGetValue(dtype, out var name)
            ? name
            : throw new ArgumentException($"{nameof(OperatorSettings)}.{nameof(VllmDtype)}: '{dtype}' is not one of {string.Join(", ", VllmDtypes.Keys)}.");

    private static readonly IReadOnlyDictionary<string, string> VllmDtypes = new Dictionary<string, string>
    {
        ["bf16"] = "bfloat16",
        ["f16"] = "float16",
        ["f32"] = "float32",
    };

    private static bool IsImageReference(string? image) => !string.IsNullOrWhiteSpace(image) && !image.Any(char.IsWhiteSpace);

    private static bool IsDnsSubdomain(string? name) => name is { Length: > 0 and <= 253 } && DnsSubdomainPattern().IsMatch(name);

    private static bool IsPositiveQuantity(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        try
        {
            return new ResourceQuantity(text).ToDecimal() > 0;
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or OverflowException)
        {
            return false;
        }
    }

    [GeneratedRegex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/]+)*$")]
    private static partial Regex ArtifactRootPattern();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomainPattern();

    [GeneratedRegex("^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex QualifiedNamePattern();
}
