using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Runtime;

namespace Nexus.Operator.Bench;

/// <summary>
/// A STAND-IN for the Expert lifecycle reconciler of the next issue, so this benchmark measures the controller runtime
/// (informers, work queue, status writer, finalizers, owner references) under the load that reconciler will put on it.
/// It does what the lifecycle's first reconcile of a new Expert does, through the same runtime pieces: add the artifacts
/// finalizer (a patch, before any child exists), create the Expert's controlled Job (named from the Expert and its
/// generation), and write status (observedGeneration, phase, Reconciling/Ready). On later reconciles of an unchanged
/// world it writes nothing. It never follows the Job to completion, computes no embedding and deletes no artifacts;
/// the real reconciler replaces it and this benchmark should then run that one.
/// </summary>
internal sealed class StandInExpertReconciler(ControllerContext<Expert> context) : IReconciler<Expert>
{
    /// <summary>Holds a deleted Expert until its artifacts are removed from the store.</summary>
    public const string ArtifactsFinalizer = "nexus.moe/artifacts";

    private long _jobCreatesFoundExisting;

    /// <summary>Job creates answered 409 AlreadyExists: the Job cache had not yet seen a Job an earlier reconcile made.</summary>
    public long JobCreatesFoundExisting => Interlocked.Read(ref _jobCreatesFoundExisting);

    public async Task<ReconcileResult> ReconcileAsync(Expert expert, CancellationToken cancellationToken)
    {
        if (Finalizers.IsDeleting(expert))
        {
            // The lifecycle reconciler deletes the Expert's artifacts here; the stand-in made none.
            await Finalizers.RemoveAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);
            return ReconcileResult.Done;
        }

        // First, so that an Expert deleted from here on is held until its cleanup has run.
        expert = await Finalizers.AddAsync(context.Patcher, expert, ArtifactsFinalizer, cancellationToken);

        var desired = StandInTrainingJob.For(expert);
        if (context.Informers.Cache<V1Job>().Get(expert.Metadata.NamespaceProperty, desired.Metadata.Name) is null)
        {
            await CreateAsync(desired, cancellationToken);
        }

        var jobName = desired.Metadata.Name;
        var importing = expert.Spec.Training is null;
        await context.Status.UpdateAsync(
            expert,
            copy =>
            {
                var status = copy.Status ??= new ExpertStatus();
                var now = context.Time.GetUtcNow();
                status.Phase = importing ? ExpertPhase.Importing : ExpertPhase.Training;
                status.Source = copy.Spec.Training?.Data.Uri ?? copy.Spec.Import?.Uri;
                status.ActiveJob = jobName;
                status.StartTime ??= now.UtcDateTime;
                Conditions.MarkReconciling(
                    status,
                    importing ? Reasons.Importing : Reasons.Training,
                    importing ? $"Job {jobName} imports the checkpoint" : $"Job {jobName} trains the expert",
                    copy.Metadata.Generation,
                    now);
            },
            cancellationToken);
        return ReconcileResult.Done;
    }

    private async Task CreateAsync(V1Job job, CancellationToken cancellationToken)
    {
        var client = context.Client ?? throw new InvalidOperationException("The stand-in reconciler needs a Kubernetes client to create Jobs.");
        try
        {
            await client.BatchV1.CreateNamespacedJobAsync(job, job.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException exists) when (exists.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // The name is derived from this Expert and its generation, so the Job is the one an earlier reconcile made
            // and the Job cache has not caught up yet; its event will reconcile the Expert again.
            Interlocked.Increment(ref _jobCreatesFoundExisting);
        }
    }
}

/// <summary>The Job an Expert's first reconcile creates: a pure function of the Expert (stand-in for the lifecycle's
/// <c>Specs/TrainingJob.cs</c>).</summary>
internal static class StandInTrainingJob
{
    public const string Image = "ghcr.io/nexus-moe/nexus-worker:stand-in";
    public const string ExpertLabel = "nexus.moe/expert";

    private const int MaxJobNameLength = 63;

    public static V1Job For(Expert expert)
    {
        var training = expert.Spec.Training;
        var name = NameFor(expert, training is null ? "import" : "train");
        var labels = new Dictionary<string, string> { [ExpertLabel] = expert.Metadata.Name, ["app.kubernetes.io/managed-by"] = "nexus-operator" };
        IList<string> args = training is null
            ? ["import", "--checkpoint", expert.Spec.Import!.Uri, "--seed", expert.Spec.Seed.Uri]
            : ["train", "--seed", expert.Spec.Seed.Uri, "--data", training.Data.Uri,
               "--steps", Invariant(training.Steps), "--batch-size", Invariant(training.BatchSize),
               "--seq-len", Invariant(training.SequenceLength), "--lr", Invariant(training.LearningRate)];
        var job = new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = expert.Metadata.NamespaceProperty, Labels = labels },
            Spec = new V1JobSpec
            {
                BackoffLimit = 3,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string>(labels) },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "Never",
                        Containers = [new V1Container { Name = "worker", Image = Image, Args = args, Resources = ResourcesOf(expert.Spec.Resources) }],
                    },
                },
            },
        };
        OwnerReferences.SetController(job, expert);
        return job;
    }

    /// <summary>EXPERT-STEP-gGENERATION, shortened with a hash of the Expert's name when that would pass 63 characters
    /// (the job-name label's limit).</summary>
    public static string NameFor(Expert expert, string step)
    {
        var suffix = $"-{step}-g{expert.Metadata.Generation ?? 0}";
        var name = expert.Metadata.Name;
        if (name.Length + suffix.Length <= MaxJobNameLength)
        {
            return name + suffix;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        return $"{name[..(MaxJobNameLength - suffix.Length - hash.Length - 1)]}-{hash}{suffix}";
    }

    private static V1ResourceRequirements? ResourcesOf(WorkloadResources resources)
    {
        var quantities = new Dictionary<string, ResourceQuantity>();
        if (resources.Cpu is { } cpu)
        {
            quantities["cpu"] = cpu;
        }

        if (resources.Memory is { } memory)
        {
            quantities["memory"] = memory;
        }

        return quantities.Count == 0 ? null : new V1ResourceRequirements { Requests = quantities, Limits = new Dictionary<string, ResourceQuantity>(quantities) };
    }

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
