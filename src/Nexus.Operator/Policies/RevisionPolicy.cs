using System.Security.Cryptography;
using System.Text;
using k8s;
using Nexus.Api;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Policies;

/// <summary>What the NexusModel reconciler should do about its revisions.</summary>
public enum RevisionAction
{
    /// <summary>The current revision is what the spec and the selection ask for.</summary>
    None,

    /// <summary>Something outside the operator has to happen first (Experts to become Ready, an Extension to finish).</summary>
    Wait,

    /// <summary>Upcycle and finetune a new revision from <see cref="RevisionDecision.Experts"/>.</summary>
    Build,

    /// <summary>Extend the current revision: an Extension adding <see cref="RevisionDecision.Add"/> and removing
    /// <see cref="RevisionDecision.Remove"/>.</summary>
    Extend,

    /// <summary>As <see cref="Extend"/>, but the policy is Manual: report the pending change and how to approve it.</summary>
    AwaitApproval,

    /// <summary>The spec cannot be carried out until a person changes it (kstatus Stalled).</summary>
    Stall,
}

/// <summary>A verdict with the reason and message that go into the NexusModel's conditions and Events as they are.</summary>
public sealed record RevisionDecision(RevisionAction Action, string Reason, string Message)
{
    public IReadOnlyList<Expert> Experts { get; init; } = [];

    public IReadOnlyList<string> Add { get; init; } = [];

    public IReadOnlyList<string> Remove { get; init; } = [];
}

/// <summary>
/// "Does the NexusModel need a new revision?" as a chain of small policies (cert-manager's trigger policies): each
/// looks at the model, its selected Experts and any Extension in flight, and either decides, with a reason and a
/// message a user reading <c>kubectl describe</c> can act on, or passes to the next. The first verdict wins.
/// </summary>
public static class RevisionPolicy
{
    /// <summary>The fewest routed experts a model is built with.</summary>
    public const int MinimumExperts = 2;

    private delegate RevisionDecision? Policy(Situation situation);

    private sealed record Situation(
        NexusModel Model,
        ExpertSelectionResult Selection,
        string? ActiveExtension,
        IReadOnlyList<Expert> Ready,
        ModelRevision? Current);

    private static readonly Policy[] Chain =
    [
        Pinned, ExtensionInFlight, MissingExperts, NothingSelected, SeedMismatch, DuplicateDomain, FailedExperts,
        TooFewReady, Initial, SpecChanged, RetrainedExperts, SelectionChanged,
    ];

    public static RevisionDecision Decide(NexusModel model, ExpertSelectionResult selection, string? activeExtension)
    {
        // The latest revision: a pinned one is judged by the Pinned policy, first in the chain, and status.currentRevision
        // may still name the revision a pin that was just removed served.
        var current = model.Status?.Revisions?.MaxBy(revision => revision.Revision);
        var ready = selection.Selected.Where(expert => Conditions.IsTrue(expert.Status?.Conditions, ConditionTypes.Ready)).ToList();
        var situation = new Situation(model, selection, activeExtension, ready, current);
        foreach (var policy in Chain)
        {
            if (policy(situation) is { } decision)
                return decision;
        }

        return new RevisionDecision(RevisionAction.None, Reasons.UpToDate,
            $"Revision {current!.Revision} holds the selected experts ({Names(current)}) and matches the spec.");
    }

    /// <summary>SHA-256 (hex) of what a revision's model is built from: the seed, the router and the finetune. Serving,
    /// extension and history settings are left out, so changing them never rebuilds the model.</summary>
    public static string BuildSpecHash(NexusModelSpec spec)
    {
        var built = KubernetesJson.Serialize(new { spec.Seed, spec.Router, spec.Finetune });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(built)));
    }

    private static RevisionDecision? Pinned(Situation s)
    {
        if (s.Model.Spec.Revision is not { } pinned)
            return null;
        return s.Model.Status?.Revisions?.Any(revision => revision.Revision == pinned) == true
            ? new RevisionDecision(RevisionAction.None, Reasons.RevisionPinned,
                $"spec.revision pins revision {pinned}; selection and spec changes wait until it is removed.")
            : new RevisionDecision(RevisionAction.Stall, Reasons.RevisionNotFound,
                $"spec.revision pins revision {pinned}, which is not in status.revisions (kept: {KeptRevisions(s.Model)}); " +
                "pin a kept revision or remove spec.revision.");
    }

    /// <summary>An Extension changes the current revision; before there is one (the initial build) none can start, so
    /// none holds the build back.</summary>
    private static RevisionDecision? ExtensionInFlight(Situation s) => s.ActiveExtension is { } extension && s.Current is not null
        ? new RevisionDecision(RevisionAction.Wait, Reasons.Extending, $"Extension {extension} is changing the model; waiting for it to finish.")
        : null;

    private static RevisionDecision? MissingExperts(Situation s) => s.Selection.MissingNames.Count > 0
        ? new RevisionDecision(RevisionAction.Wait, Reasons.ExpertNotFound,
            $"spec.experts.names lists {Quote(s.Selection.MissingNames)}, which do not exist in namespace " +
            $"{s.Model.Metadata.NamespaceProperty}; create them or remove them from the list.")
        : null;

    private static RevisionDecision? NothingSelected(Situation s) => s.Selection.Selected.Count == 0
        ? new RevisionDecision(RevisionAction.Wait, Reasons.NoExpertsSelected,
            $"No Expert in namespace {s.Model.Metadata.NamespaceProperty} matches spec.experts; label Experts to match " +
            "the selector or list them in spec.experts.names.")
        : null;

    private static RevisionDecision? SeedMismatch(Situation s)
    {
        var seed = s.Model.Spec.Seed.Uri;
        var others = s.Selection.Selected.Where(expert => expert.Spec.Seed.Uri != seed).ToList();
        return others.Count == 0
            ? null
            : new RevisionDecision(RevisionAction.Stall, Reasons.SeedMismatch,
                $"{Describe(others, expert => $"{expert.Metadata.Name} (seed {expert.Spec.Seed.Uri})")} not trained from the model's seed " +
                $"{seed}: every expert must be a fine-tune of the seed; fix spec.seed or deselect them.");
    }

    private static RevisionDecision? DuplicateDomain(Situation s)
    {
        var duplicates = s.Selection.Selected.GroupBy(expert => expert.Spec.Domain).Where(group => group.Count() > 1).ToList();
        return duplicates.Count == 0
            ? null
            : new RevisionDecision(RevisionAction.Stall, Reasons.DuplicateDomain,
                string.Join("; ", duplicates.Select(group => $"domain {group.Key} is claimed by {Quote(group.Select(expert => expert.Metadata.Name))}")) +
                ": routing reports could not tell them apart; select one Expert per domain.");
    }

    private static RevisionDecision? FailedExperts(Situation s)
    {
        var failed = s.Selection.Selected.Where(expert => expert.Status?.Phase == ExpertPhase.Failed).ToList();
        return failed.Count == 0
            ? null
            : new RevisionDecision(RevisionAction.Wait, Reasons.ExpertFailed,
                $"{Describe(failed, expert => $"{expert.Metadata.Name} ({StalledMessage(expert)})")} Failed; fix the Expert's spec " +
                "or deselect it.");
    }

    private static RevisionDecision? TooFewReady(Situation s)
    {
        if (s.Current is not null || s.Ready.Count >= MinimumExperts && s.Ready.Count == s.Selection.Selected.Count)
            return null;
        var pending = s.Selection.Selected.Except(s.Ready).ToList();
        return new RevisionDecision(RevisionAction.Wait, Reasons.WaitingForExperts,
            pending.Count > 0
                ? $"Waiting for {Quote(pending.Select(expert => $"{expert.Metadata.Name} ({expert.Status?.Phase ?? ExpertPhase.Pending})"))} to become Ready."
                : $"{s.Ready.Count} Expert selected; a Nexus MoE needs at least {MinimumExperts}.");
    }

    private static RevisionDecision? Initial(Situation s) => s.Current is null
        ? new RevisionDecision(RevisionAction.Build, Reasons.InitialRevision,
            $"Building revision 1 from {s.Ready.Count} experts: {Quote(s.Ready.Select(expert => expert.Metadata.Name))}.")
        { Experts = s.Ready }
        : null;

    private static RevisionDecision? SpecChanged(Situation s)
    {
        if (s.Current!.BuildSpecHash == BuildSpecHash(s.Model.Spec) || s.Ready.Count < MinimumExperts)
            return null;
        return new RevisionDecision(RevisionAction.Build, Reasons.SpecChanged,
            $"spec.seed, spec.router or spec.finetune changed since revision {s.Current.Revision} was built; upcycling " +
            $"{s.Ready.Count} experts afresh.")
        { Experts = s.Ready };
    }

    /// <summary>An Expert retrained since the current revision (a new checkpoint): its FFN in the model is stale, and an
    /// Extension cannot add and remove one name, so the model is rebuilt.</summary>
    private static RevisionDecision? RetrainedExperts(Situation s)
    {
        var built = (s.Current!.Experts ?? []).ToDictionary(expert => expert.Name, expert => expert.CheckpointSha256, StringComparer.Ordinal);
        var retrained = s.Ready
            .Where(expert => built.TryGetValue(expert.Metadata.Name, out var sha) && sha != expert.Status?.Artifacts?.Checkpoint?.Sha256)
            .ToList();
        if (retrained.Count == 0 || s.Ready.Count < MinimumExperts)
            return null;
        return new RevisionDecision(RevisionAction.Build, Reasons.SpecChanged,
            $"{Quote(retrained.Select(expert => expert.Metadata.Name))} retrained since revision {s.Current.Revision} (new checkpoints); upcycling " +
            $"{s.Ready.Count} experts afresh.")
        { Experts = s.Ready };
    }

    private static RevisionDecision? SelectionChanged(Situation s)
    {
        var inModel = (s.Current!.Experts ?? []).Select(expert => expert.Name).ToList();
        var selected = s.Selection.Selected.Select(expert => expert.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        // Only Ready experts join; one still training is added by a later extension once it is Ready.
        var add = s.Ready.Select(expert => expert.Metadata.Name).Where(name => !inModel.Contains(name)).ToList();
        var remove = inModel.Where(name => !selected.Contains(name)).ToList();
        if (add.Count == 0 && remove.Count == 0)
            return null;

        if (inModel.Count + add.Count - remove.Count < MinimumExperts)
        {
            return new RevisionDecision(RevisionAction.Wait, Reasons.WaitingForExperts,
                $"Removing {Quote(remove)} would leave fewer than {MinimumExperts} experts in the model; keeping revision " +
                $"{s.Current.Revision} until more are selected and Ready.");
        }

        var reason = add.Count > 0 ? Reasons.ExpertsAdded : Reasons.ExpertsRemoved;
        var change = string.Join(" and ", new[]
        {
            add.Count > 0 ? $"add {Quote(add)}" : null,
            remove.Count > 0 ? $"remove {Quote(remove)}" : null,
        }.OfType<string>());
        if (s.Model.Spec.Extension.Policy == ExtensionPolicy.Manual)
        {
            return new RevisionDecision(RevisionAction.AwaitApproval, Reasons.WaitingForExtension,
                $"The selection changed since revision {s.Current.Revision}: {change}. The extension policy is Manual: " +
                $"create an Extension with spec.model {s.Model.Metadata.Name} to apply it.")
            { Add = add, Remove = remove };
        }

        return new RevisionDecision(RevisionAction.Extend, reason, $"Extending revision {s.Current.Revision}: {change}.")
        { Add = add, Remove = remove };
    }

    private static string StalledMessage(Expert expert) =>
        Conditions.Get(expert.Status?.Conditions, ConditionTypes.Stalled)?.Message is { Length: > 0 } message
            ? message
            : expert.Status?.Message ?? "no message";

    private static string KeptRevisions(NexusModel model) =>
        model.Status?.Revisions is { Count: > 0 } revisions ? string.Join(", ", revisions.Select(revision => revision.Revision)) : "none";

    private static string Names(ModelRevision revision) => Quote((revision.Experts ?? []).Select(expert => expert.Name));

    private static string Quote(IEnumerable<string> names) => string.Join(", ", names);

    private static string Describe(IReadOnlyCollection<Expert> experts, Func<Expert, string> describe) =>
        (experts.Count == 1 ? "Expert " : "Experts ") + string.Join(", ", experts.Select(describe)) + (experts.Count == 1 ? " is" : " are");
}
