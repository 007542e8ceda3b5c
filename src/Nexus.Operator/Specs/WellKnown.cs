namespace Nexus.Operator.Specs;

/// <summary>Label keys the operator puts on the objects it creates.</summary>
public static class Labels
{
    public const string Name = "app.kubernetes.io/name";
    public const string Component = "app.kubernetes.io/component";
    public const string ManagedBy = "app.kubernetes.io/managed-by";

    /// <summary>Value of <see cref="Name"/>: every object of the product.</summary>
    public const string NameValue = "nexus";

    /// <summary>Value of <see cref="ManagedBy"/>.</summary>
    public const string ManagedByValue = "nexus-operator";

    /// <summary>Value of <see cref="Component"/> on the serving Deployment, its pods and its Service.</summary>
    public const string ServingComponent = "serving";

    public const string Expert = "nexus.moe/expert";
    public const string NexusModel = "nexus.moe/nexusmodel";
    public const string Extension = "nexus.moe/extension";

    /// <summary>Kueue's LocalQueue label: on the Job (or Deployment) itself, one level only; Kueue then owns
    /// <c>spec.suspend</c>, which the operator never writes.</summary>
    public const string KueueQueueName = "kueue.x-k8s.io/queue-name";
}

/// <summary>Annotation keys the operator puts on the objects it creates.</summary>
public static class Annotations
{
    /// <summary>On a step's Job: the artifact location the step publishes; its manifest is the step's result.</summary>
    public const string Output = "nexus.moe/output";

    /// <summary>On a NexusModel build step's Job: the <see cref="ModelBuild.Id"/> it belongs to. A Job of the revision's
    /// step name with another id is left from an attempt whose inputs have changed since: the reconciler deletes it.</summary>
    public const string Build = "nexus.moe/build";

    /// <summary>Beside <see cref="Build"/>: what that build is made from (<see cref="ModelBuild.Inputs"/>), for people
    /// and for the Event that restarts a stale build.</summary>
    public const string BuildInputs = "nexus.moe/build-inputs";

    /// <summary>On the serving Deployment and its pod template: the model revision served.</summary>
    public const string Revision = "nexus.moe/revision";

    /// <summary>On the serving Deployment: a hash of the spec the operator built for it (<see cref="ServingDeployment.SpecHash"/>).
    /// A different hash (a new revision, or a change of spec.serving: runtime, resources, port, strategy) makes the
    /// reconciler replace the Deployment's spec; the API server's defaults never count as a change.</summary>
    public const string SpecHash = "nexus.moe/spec-hash";
}
