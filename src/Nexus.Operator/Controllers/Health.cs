using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Operator.Events;

namespace Nexus.Operator.Controllers;

/// <summary>Which kstatus state an Expert, a NexusModel or an Extension is in; the phase says where in its lifecycle.</summary>
public enum Health
{
    /// <summary>Reconciling=True: a step or a rollout is being started or runs, or the resource waits on another.</summary>
    Progressing,

    /// <summary>Stalled=True: progress stopped on something that needs a person; the phase stays the step's.</summary>
    Stalled,

    /// <summary>Stalled=True and phase Failed: a step's Job failed after its retries, or the change cannot be made.</summary>
    Failed,

    /// <summary>Ready=True: done (an Expert's artifacts, a model built and served, an Extension's revision built).</summary>
    Ready,
}

public static class HealthConditions
{
    /// <summary>Sets the kstatus conditions for <paramref name="health"/> with one reason and message: Ready, or
    /// Reconciling, or Stalled (Failed is Stalled with the phase Failed).</summary>
    public static bool Mark(this Health health, IConditionedStatus status, string reason, string message, long? generation, DateTimeOffset now) =>
        health switch
        {
            Health.Ready => Conditions.MarkReady(status, reason, message, generation, now),
            Health.Progressing => Conditions.MarkReconciling(status, reason, message, generation, now),
            _ => Conditions.MarkStalled(status, reason, message, generation, now),
        };

    /// <summary>After a status write: an Event when the phase changed, or when a stalled or failed resource's message did
    /// (a new failure) — Warning for those, Normal otherwise. Progress within a phase records nothing.</summary>
    public static void RecordTransition<TPhase>(
        this IEventRecorder events, IKubernetesObject<V1ObjectMeta> written, TPhase? phaseBefore, string? messageBefore,
        TPhase phase, Health health, string reason, string message)
        where TPhase : struct, Enum
    {
        if (!Equals(phaseBefore, phase) || health is not Health.Progressing && messageBefore != message)
        {
            events.Record(written, health is Health.Failed or Health.Stalled ? EventType.Warning : EventType.Normal, reason, message);
        }
    }
}
