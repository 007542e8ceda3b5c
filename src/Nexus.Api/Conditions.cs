using System.Text.RegularExpressions;
using k8s.Models;

namespace Nexus.Api;

/// <summary>
/// metav1.Condition semantics over a status's condition list (a <c>listType=map</c> keyed by type), and the kstatus
/// conventions built on it: <see cref="Ready"/> is the "normal-true" summary, <see cref="Reconciling"/> and
/// <see cref="Stalled"/> are "abnormal-true" conditions that exist only while they hold.
/// </summary>
public static partial class Conditions
{
    /// <summary>The resource has reached its desired state.</summary>
    public const string Ready = "Ready";

    /// <summary>The controller is working towards the desired state (abnormal-true: absent when not applicable).</summary>
    public const string Reconciling = "Reconciling";

    /// <summary>The controller cannot make progress without outside help (abnormal-true: absent when not applicable).</summary>
    public const string Stalled = "Stalled";

    public const string True = "True";
    public const string False = "False";
    public const string Unknown = "Unknown";

    /// <summary>The API server's limit on a condition message (metav1.Condition validation).</summary>
    public const int MaxMessageLength = 32768;

    /// <summary>The condition of the given type, or null when the list has none.</summary>
    public static V1Condition? Get(IEnumerable<V1Condition>? conditions, string type) =>
        conditions?.FirstOrDefault(condition => condition.Type == type);

    /// <summary>Whether the condition exists and its status is True.</summary>
    public static bool IsTrue(IEnumerable<V1Condition>? conditions, string type) => Get(conditions, type)?.Status == True;

    /// <summary>Whether the condition exists and its status is False.</summary>
    public static bool IsFalse(IEnumerable<V1Condition>? conditions, string type) => Get(conditions, type)?.Status == False;

    /// <summary>
    /// Sets a condition the way apimachinery's <c>meta.SetStatusCondition</c> does: a new type is appended; an existing
    /// one keeps its lastTransitionTime unless its status flips, and always takes the new reason, message and
    /// observedGeneration.
    /// </summary>
    /// <returns>Whether anything in the list changed.</returns>
    /// <exception cref="ArgumentException">The type is empty, the status is not True/False/Unknown, or the reason is
    /// not a CamelCase identifier.</exception>
    public static bool Set(
        IList<V1Condition> conditions,
        string type,
        string status,
        string reason,
        string message,
        long? observedGeneration,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        if (string.IsNullOrEmpty(type))
        {
            throw new ArgumentException("A condition needs a type.", nameof(type));
        }

        if (status is not (True or False or Unknown))
        {
            throw new ArgumentException($"Condition status must be True, False or Unknown, not '{status}'.", nameof(status));
        }

        ValidateReason(reason);
        message ??= "";
        if (message.Length > MaxMessageLength)
        {
            // The API server rejects longer messages, which would make the whole status write fail.
            message = message[..MaxMessageLength];
        }

        var existing = Get(conditions, type);
        if (existing is null)
        {
            conditions.Add(new V1Condition
            {
                Type = type,
                Status = status,
                Reason = reason,
                Message = message,
                ObservedGeneration = observedGeneration,
                LastTransitionTime = ToApiTime(now),
            });
            return true;
        }

        var changed = false;
        if (existing.Status != status)
        {
            existing.Status = status;
            existing.LastTransitionTime = ToApiTime(now);
            changed = true;
        }

        if (existing.Reason != reason)
        {
            existing.Reason = reason;
            changed = true;
        }

        if (existing.Message != message)
        {
            existing.Message = message;
            changed = true;
        }

        if (existing.ObservedGeneration != observedGeneration)
        {
            existing.ObservedGeneration = observedGeneration;
            changed = true;
        }

        return changed;
    }

    /// <summary>Removes the condition of the given type.</summary>
    /// <returns>Whether one was removed.</returns>
    public static bool Remove(IList<V1Condition> conditions, string type)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        var existing = Get(conditions, type);
        return existing is not null && conditions.Remove(existing);
    }

    /// <summary>kstatus "current": Ready=True, and neither Reconciling nor Stalled.</summary>
    public static bool MarkReady(IConditionedStatus status, string reason, string message, long? generation, DateTimeOffset now)
    {
        var conditions = EnsureConditions(status);
        var changed = Set(conditions, Ready, True, reason, message, generation, now);
        changed |= Remove(conditions, Reconciling);
        changed |= Remove(conditions, Stalled);
        return changed;
    }

    /// <summary>kstatus "in progress": Reconciling=True and Ready=False with the same reason; Stalled cleared.</summary>
    public static bool MarkReconciling(IConditionedStatus status, string reason, string message, long? generation, DateTimeOffset now)
    {
        var conditions = EnsureConditions(status);
        var changed = Set(conditions, Reconciling, True, reason, message, generation, now);
        changed |= Set(conditions, Ready, False, reason, message, generation, now);
        changed |= Remove(conditions, Stalled);
        return changed;
    }

    /// <summary>kstatus "failed": Stalled=True and Ready=False with the same reason; Reconciling cleared, since no
    /// progress is being made.</summary>
    public static bool MarkStalled(IConditionedStatus status, string reason, string message, long? generation, DateTimeOffset now)
    {
        var conditions = EnsureConditions(status);
        var changed = Set(conditions, Stalled, True, reason, message, generation, now);
        changed |= Set(conditions, Ready, False, reason, message, generation, now);
        changed |= Remove(conditions, Reconciling);
        return changed;
    }

    /// <summary>Throws unless the reason is what metav1.Condition accepts: non-empty CamelCase, at most 1024 characters,
    /// matching <c>^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$</c>.</summary>
    public static void ValidateReason(string reason)
    {
        if (string.IsNullOrEmpty(reason) || reason.Length > 1024 || !ReasonPattern().IsMatch(reason))
        {
            throw new ArgumentException(
                $"Condition reason '{reason}' must be a non-empty CamelCase identifier (^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$).",
                nameof(reason));
        }
    }

    /// <summary>Whether a string is a valid condition reason (see <see cref="ValidateReason"/>).</summary>
    public static bool IsValidReason(string? reason) =>
        !string.IsNullOrEmpty(reason) && reason.Length <= 1024 && ReasonPattern().IsMatch(reason);

    private static IList<V1Condition> EnsureConditions(IConditionedStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return status.Conditions ??= new List<V1Condition>();
    }

    /// <summary>metav1.Time has whole-second precision: the server would truncate anything finer, and the status we
    /// computed would then never equal the one we read back.</summary>
    private static DateTime ToApiTime(DateTimeOffset now) =>
        new(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    [GeneratedRegex("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", RegexOptions.CultureInvariant)]
    private static partial Regex ReasonPattern();
}
