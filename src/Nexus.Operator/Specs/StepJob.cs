using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Specs;

/// <summary>
/// The Job that runs one pipeline step for its owner (an Expert, a NexusModel or an Extension): a pure function of the
/// owner, the step's <see cref="StepInvocation"/>, the compute it asks for and the settings.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>One pod at a time (completions 1, parallelism 1), restartPolicy Never: a retry is a new pod, which with
/// podFailurePolicy is only created once the old one has terminated (Kubernetes' podReplacementPolicy Failed),
/// so a preempted step has published its checkpoint before its successor fetches it with <c>--resume</c>.</item>
/// <item>podFailurePolicy: exit code 2 of the <c>nexus</c> container (bad input) fails the Job at once; a pod with the
/// DisruptionTarget condition (preemption, eviction, node drain) is ignored, so it does not count against
/// backoffLimit. Other failures (1, or 130 after a SIGTERM) retry up to backoffLimit.</item>
/// <item>Kueue: a named queue becomes the <c>kueue.x-k8s.io/queue-name</c> label on the Job; <c>spec.suspend</c> is
/// never set, Kueue's webhook suspends the Job and Kueue admits it.</item>
/// <item>The <c>nexus.moe/output</c> annotation holds the location the step publishes: when the Job has succeeded,
/// its manifest is the result (a Job the TTL has deleted leaves the artifact). A NexusModel build's Job also carries
/// <c>nexus.moe/build</c> (the build id) and <c>nexus.moe/build-inputs</c> (what the build is made from, in short).</item>
/// </list>
/// </remarks>
public static class StepJob
{
    /// <summary>Exit code of <c>nexus</c> for bad arguments or input: retrying cannot help.</summary>
    public const int BadInputExitCode = 2;

    /// <summary>Scratch emptyDir of a step: HOME, temporary files, fetched inputs and staged outputs.</summary>
    public const string ScratchVolume = "scratch";
    public const string ScratchPath = "/scratch";

    public static V1Job Build(IKubernetesObject<V1ObjectMeta> owner, StepInvocation step, WorkloadResources resources, OperatorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(step);
        var component = step.Kind.CommandName();
        var podLabels = WorkerPod.Labels(owner, component);
        var jobLabels = new Dictionary<string, string>(podLabels);
        if (resources.QueueName is { Length: > 0 } queue)
        {
            jobLabels[Labels.KueueQueueName] = queue;
        }

        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta
            {
                Name = step.JobName,
                NamespaceProperty = owner.Metadata.NamespaceProperty,
                Labels = jobLabels,
                Annotations = Annotations(step),
                OwnerReferences = [OwnerReferences.ControllerReference(owner)],
            },
            Spec = new V1JobSpec
            {
                Completions = 1,
                Parallelism = 1,
                BackoffLimit = settings.JobBackoffLimit,
                ActiveDeadlineSeconds = settings.ActiveDeadlineSecondsOf(step.Kind),
                TtlSecondsAfterFinished = settings.JobTtlSecondsAfterFinished,
                PodFailurePolicy = PodFailurePolicy(),
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = podLabels },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "Never",
                        ServiceAccountName = settings.WorkerServiceAccountName,
                        AutomountServiceAccountToken = false,
                        SecurityContext = WorkerPod.PodSecurityContext(),
                        PriorityClassName = resources.PriorityClassName,
                        NodeSelector = WorkerPod.NodeSelector(resources),
                        Tolerations = WorkerPod.Tolerations(resources),
                        Containers =
                        [
                            new V1Container
                            {
                                Name = WorkerPod.ContainerName,
                                Image = settings.WorkerImage,
                                ImagePullPolicy = settings.WorkerImagePullPolicy,
                                Command = [WorkerPod.Command],
                                Args = [.. step.Arguments],
                                WorkingDir = ScratchPath,
                                Env = WorkerPod.Environment(settings, ScratchPath),
                                Resources = WorkerPod.Resources(resources, settings),
                                VolumeMounts = WorkerPod.VolumeMounts(ScratchVolume, ScratchPath),
                                SecurityContext = WorkerPod.ContainerSecurityContext(),
                            },
                        ],
                        Volumes = WorkerPod.Volumes(settings, ScratchVolume),
                    },
                },
            },
        };
    }

    /// <summary>Where the step publishes and, for a NexusModel build's step, which build it belongs to.</summary>
    private static Dictionary<string, string> Annotations(StepInvocation step)
    {
        var annotations = new Dictionary<string, string> { [Specs.Annotations.Output] = step.OutputUri };
        if (step.Build is { } build)
        {
            annotations[Specs.Annotations.Build] = build.Id;
            annotations[Specs.Annotations.BuildInputs] = build.Inputs;
        }

        return annotations;
    }

    /// <summary>Fail fast on bad input; let preemption retry for free (Kubernetes' own recommended pair of rules).</summary>
    public static V1PodFailurePolicy PodFailurePolicy() => new()
    {
        Rules =
        [
            new V1PodFailurePolicyRule
            {
                Action = "FailJob",
                OnExitCodes = new V1PodFailurePolicyOnExitCodesRequirement
                {
                    ContainerName = WorkerPod.ContainerName,
                    OperatorProperty = "In",
                    Values = [BadInputExitCode],
                },
            },
            new V1PodFailurePolicyRule
            {
                Action = "Ignore",
                OnPodConditions = [new V1PodFailurePolicyOnPodConditionsPattern { Type = "DisruptionTarget", Status = "True" }],
            },
        ],
    };
}
