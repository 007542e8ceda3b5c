using Nexus.Api;

namespace Nexus.Operator.Runtime;

public enum ReconcileOutcome
{
    /// <summary>The world matches the spec; wait for the next change.</summary>
    Done,

    /// <summary>Look again after exactly <see cref="ReconcileResult.Delay"/> (polling something that sends no events).</summary>
    RequeueAfter,

    /// <summary>Not there yet for a transient reason; retry with the queue's backoff.</summary>
    Retry,

    /// <summary>Cannot succeed without a change from outside; no retry, and the resource is marked Stalled.</summary>
    Terminal,
}

/// <summary>What a reconcile asks the controller to do next.</summary>
public sealed record ReconcileResult
{
    private ReconcileResult(ReconcileOutcome outcome, TimeSpan delay = default, string? reason = null, string? message = null)
    {
        Outcome = outcome;
        Delay = delay;
        Reason = reason;
        Message = message;
    }

    public ReconcileOutcome Outcome { get; }

    public TimeSpan Delay { get; }

    /// <summary>A CamelCase reason (for <see cref="ReconcileOutcome.Retry"/> and <see cref="ReconcileOutcome.Terminal"/>).</summary>
    public string? Reason { get; }

    public string? Message { get; }

    public static ReconcileResult Done { get; } = new(ReconcileOutcome.Done);

    public static ReconcileResult RequeueAfter(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "A requeue delay must be positive.");
        }

        return new ReconcileResult(ReconcileOutcome.RequeueAfter, delay);
    }

    public static ReconcileResult Retry(string reason)
    {
        Conditions.ValidateReason(reason);
        return new ReconcileResult(ReconcileOutcome.Retry, reason: reason);
    }

    /// <param name="reason">Becomes the Stalled condition's reason (CamelCase).</param>
    /// <param name="message">Becomes its message: say what the user must change.</param>
    public static ReconcileResult Terminal(string reason, string message)
    {
        Conditions.ValidateReason(reason);
        return new ReconcileResult(ReconcileOutcome.Terminal, reason: reason, message: message);
    }

    public override string ToString() => Outcome switch
    {
        ReconcileOutcome.RequeueAfter => $"RequeueAfter({Delay})",
        ReconcileOutcome.Retry => $"Retry({Reason})",
        ReconcileOutcome.Terminal => $"Terminal({Reason}: {Message})",
        _ => Outcome.ToString(),
    };
}

/// <summary>Brings the world in line with one resource's spec: observe, compute the desired children with pure
/// functions, apply, report status.</summary>
public interface IReconciler<in T>
    where T : class, INexusResource
{
    /// <param name="resource">The informer's cached object. Read-only: write status through the status writer,
    /// which works on a copy.</param>
    /// <param name="cancellationToken">Cancelled the moment this replica loses leadership or shuts down.</param>
    Task<ReconcileResult> ReconcileAsync(T resource, CancellationToken cancellationToken);
}
