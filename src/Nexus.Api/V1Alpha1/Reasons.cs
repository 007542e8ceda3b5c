namespace Nexus.Api.V1Alpha1;

/// <summary>
/// Condition and Event reasons (metav1.Condition: CamelCase, never empty). Failures of a child Job or Deployment
/// keep the child's own reason where it has one, so a user sees the cause rather than a generic failure.
/// </summary>
public static class Reasons
{
    // Progress.

    /// <summary>Accepted; nothing started yet.</summary>
    public const string Pending = "Pending";
    /// <summary>A Job exists but Kueue (or another admission controller) keeps it suspended.</summary>
    public const string Queued = "Queued";
    public const string Training = "Training";
    public const string Importing = "Importing";
    public const string Embedding = "Embedding";
    public const string Upcycling = "Upcycling";
    public const string Finetuning = "Finetuning";
    public const string Extending = "Extending";
    public const string Evaluating = "Evaluating";
    public const string RollingOut = "RollingOut";
    /// <summary>NexusModel: the inputs of the revision under construction changed (the spec, an Expert's checkpoint), so
    /// the previous attempt's Jobs are deleted and the build starts again.</summary>
    public const string BuildRestarted = "BuildRestarted";
    /// <summary>NexusModel: some selected Experts are not Ready yet.</summary>
    public const string WaitingForExperts = "WaitingForExperts";
    /// <summary>NexusModel with the Manual policy: the selection changed and no Extension asks for the change yet.</summary>
    public const string WaitingForExtension = "WaitingForExtension";
    /// <summary>NexusModel: the Extension the Automatic policy created for the change Failed; delete it to retry.</summary>
    public const string ExtensionFailed = "ExtensionFailed";

    // Done.

    /// <summary>The step or the resource as a whole finished.</summary>
    public const string Succeeded = "Succeeded";
    /// <summary>Nothing to do: the observed state matches the spec.</summary>
    public const string UpToDate = "UpToDate";

    // Why a NexusModel needs a new revision (the revision policies' verdicts).

    public const string InitialRevision = "InitialRevision";
    public const string ExpertsAdded = "ExpertsAdded";
    public const string ExpertsRemoved = "ExpertsRemoved";
    /// <summary>The seed, router or finetune changed: a fresh upcycle and finetune.</summary>
    public const string SpecChanged = "SpecChanged";
    /// <summary>spec.revision pins an earlier revision, which is served instead of the latest.</summary>
    public const string RevisionPinned = "RevisionPinned";

    // Failures.

    /// <summary>A Job failed after its retries (backoffLimit).</summary>
    public const string JobFailed = "JobFailed";
    /// <summary>A Job failed with an exit code its podFailurePolicy marks as not worth retrying.</summary>
    public const string NonRetriableFailure = "NonRetriableFailure";
    /// <summary>The spec passed the schema but cannot be carried out (the message says what to change).</summary>
    public const string InvalidSpec = "InvalidSpec";
    public const string NoExpertsSelected = "NoExpertsSelected";
    public const string ExpertNotFound = "ExpertNotFound";
    /// <summary>A selected or added Expert Failed.</summary>
    public const string ExpertFailed = "ExpertFailed";
    /// <summary>Two selected Experts share a domain, so routing reports could not tell them apart.</summary>
    public const string DuplicateDomain = "DuplicateDomain";
    /// <summary>An Expert names another seed than the model.</summary>
    public const string SeedMismatch = "SeedMismatch";
    public const string ModelNotFound = "ModelNotFound";
    /// <summary>spec.revision names a revision no longer in the history.</summary>
    public const string RevisionNotFound = "RevisionNotFound";
    public const string ArtifactNotFound = "ArtifactNotFound";
    /// <summary>An artifact's sha256 is not the one recorded when it was produced.</summary>
    public const string ChecksumMismatch = "ChecksumMismatch";
    /// <summary>The serving Deployment exceeded its progress deadline.</summary>
    public const string RolloutFailed = "RolloutFailed";
}
