namespace Nexus.Api.V1Alpha1;

/// <summary>
/// Condition types the operator writes. Ready, Reconciling and Stalled follow kstatus, which Flux and Argo CD read;
/// the others say which part of a resource is done.
/// </summary>
public static class ConditionTypes
{
    /// <summary>True when the resource is fully usable at its current generation (kstatus).</summary>
    public const string Ready = Conditions.Ready;

    /// <summary>True while the operator is working towards the current generation (kstatus).</summary>
    public const string Reconciling = Conditions.Reconciling;

    /// <summary>True when progress stopped on an error that needs a person (kstatus); the reason says which.</summary>
    public const string Stalled = Conditions.Stalled;

    /// <summary>Expert: the dense checkpoint (trained or imported) is in the artifact store and verified.</summary>
    public const string CheckpointReady = "CheckpointReady";

    /// <summary>Expert: the domain embedding is in the artifact store.</summary>
    public const string EmbeddingReady = "EmbeddingReady";

    /// <summary>NexusModel: every selected Expert is Ready and shares the model's seed.</summary>
    public const string ExpertsReady = "ExpertsReady";

    /// <summary>NexusModel: the current revision's model is built, finetuned and evaluated.</summary>
    public const string RevisionReady = "RevisionReady";

    /// <summary>NexusModel: the serving Deployment runs the current revision with the minimum of ready replicas.</summary>
    public const string Available = "Available";

    /// <summary>NexusModel with the Manual extension policy: the selection asks for a change of experts that no
    /// Extension makes yet; the message says which and how to approve it.</summary>
    public const string ExtensionPending = "ExtensionPending";
}
