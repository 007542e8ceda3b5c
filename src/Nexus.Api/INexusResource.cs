using k8s;
using k8s.Models;

namespace Nexus.Api;

/// <summary>The part of every Nexus status the controller runtime reads and writes: kstatus conditions and the
/// generation they describe.</summary>
public interface IConditionedStatus
{
    /// <summary>The metadata.generation the status as a whole was computed from.</summary>
    long? ObservedGeneration { get; set; }

    /// <summary>metav1.Condition list, keyed by type (Ready, Reconciling, Stalled and kind-specific ones).</summary>
    IList<V1Condition>? Conditions { get; set; }
}

/// <summary>A Nexus custom resource: Kubernetes metadata, a user-owned spec and an operator-owned status.</summary>
public interface INexusResource : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>The status, created on first access so reconcilers can write conditions without null checks.</summary>
    IConditionedStatus EnsureStatus();
}
