using System.Globalization;
using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;
using Nexus.Operator.Runtime;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Controllers;

/// <summary>
/// A NexusModel's Extensions as pure functions: which one is in flight, which one goes first, the Extension the
/// Automatic policy creates, and the revision a Succeeded one becomes. An Extension writes only its own status; the
/// NexusModel records the revision it produced (<see cref="Adopt"/>), so each object has one writer.
/// </summary>
public static class NexusModelExtensions
{
    /// <summary>The Extensions of <paramref name="model"/> among <paramref name="extensions"/>, oldest first (creation
    /// time, then name): the order they run in. One owned by a model of the same name with another uid belongs to a
    /// deleted namesake (the garbage collector is about to remove it) and is not this model's.</summary>
    public static List<Extension> Of(NexusModel model, IEnumerable<Extension> extensions) =>
        extensions
            .Where(extension => extension.Spec.Model == model.Metadata.Name && extension.Metadata.NamespaceProperty == model.Metadata.NamespaceProperty)
            .Where(extension => OwningModel(extension, model.Metadata.Name) is not { } owner || owner.Uid == model.Metadata.Uid)
            .OrderBy(extension => extension.Metadata.CreationTimestamp ?? DateTime.MaxValue)
            .ThenBy(extension => extension.Metadata.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>True once the Extension can no longer change the model: it Failed, or it Succeeded and its revision is
    /// recorded (or its number was taken, or the revision it started from was pruned, so it never will be).</summary>
    public static bool IsSettled(Extension extension, NexusModel model) => extension.Status?.Phase switch
    {
        ExtensionPhase.Failed => true,
        ExtensionPhase.Succeeded => extension.Status.ToRevision is not { } to || to < ModelProgress.NextRevision(model.Status)
                                    || model.Status?.Revisions?.Any(revision => revision.Revision == extension.Status.FromRevision) != true,
        _ => false,
    };

    /// <summary>The owner reference to a NexusModel named <paramref name="model"/>, if any: the Automatic policy's
    /// Extensions are controlled by their model, and the Extension controller gives the others a plain owner reference
    /// when they start, so a deleted model's Extensions go with it.</summary>
    public static V1OwnerReference? OwningModel(Extension extension, string model) =>
        extension.Metadata.OwnerReferences?.FirstOrDefault(owner => owner.Kind == NexusModel.KubeKind && owner.Name == model
                                                                    && owner.ApiVersion == $"{NexusModel.KubeGroup}/{NexusModel.KubeApiVersion}");

    /// <summary>The first of the model's Extensions that is not settled: pending, running, or Succeeded with its revision
    /// not recorded yet. While there is one, the model builds and extends nothing else.</summary>
    public static Extension? Active(NexusModel model, IEnumerable<Extension> extensions) =>
        Of(model, extensions).FirstOrDefault(extension => !IsSettled(extension, model));

    /// <summary>The Extension that runs before <paramref name="extension"/>: one of the same model that has started and
    /// is not settled, else an older one not settled.</summary>
    public static Extension? Ahead(Extension extension, IEnumerable<Extension> siblings, NexusModel model)
    {
        var ordered = Of(model, siblings.Where(other => other.Metadata.Name != extension.Metadata.Name).Append(extension));
        var others = ordered.Where(other => other != extension && !IsSettled(other, model)).ToList();
        return others.FirstOrDefault(other => other.Status?.ToRevision is not null)
               ?? others.FirstOrDefault(other => ordered.IndexOf(other) < ordered.IndexOf(extension));
    }

    /// <summary>The revision a Succeeded Extension produced, ready to record: its experts are the from-revision's with
    /// spec.remove dropped and spec.add appended (router order), the model and metrics its status reports, and the
    /// from-revision's build-spec hash (an extension changes the experts, not the seed, router or finetune). Null when
    /// none is due: only the next revision number is adopted, from a revision still in the history.</summary>
    public static ModelRevision? Adopt(NexusModel model, IEnumerable<Extension> extensions, IReadOnlyCollection<Expert> experts, DateTimeOffset now)
    {
        var next = ModelProgress.NextRevision(model.Status);
        foreach (var extension in Of(model, extensions))
        {
            if (extension.Status is not { Phase: ExtensionPhase.Succeeded, ToRevision: { } to, FromRevision: { } from, Artifacts.Model: { } built } status
                || to != next
                || model.Status?.Revisions?.FirstOrDefault(revision => revision.Revision == from) is not { } origin)
            {
                continue;
            }

            var remove = extension.Spec.Remove ?? [];
            var kept = (origin.Experts ?? []).Where(expert => !remove.Contains(expert.Name)).Select(Copy);
            // The added experts as the surgeries used them (status.added, recorded at the start), not as they are now.
            var added = (extension.Spec.Add ?? []).Select(name =>
            {
                if (status.Added?.FirstOrDefault(recorded => recorded.Name == name) is { } recorded)
                {
                    return Copy(recorded);
                }

                var expert = experts.FirstOrDefault(candidate => candidate.Metadata.Name == name);
                return new RevisionExpert { Name = name, Domain = expert?.Spec.Domain, CheckpointSha256 = expert?.Status?.Artifacts?.Checkpoint?.Sha256 };
            });
            return new ModelRevision
            {
                Revision = to,
                Experts = kept.Concat(added).ToList(),
                Model = built,
                Metrics = status.Metrics,
                CreatedAt = (status.CompletionTime ?? now.UtcDateTime),
                Reason = (extension.Spec.Add ?? []).Count > 0 ? RevisionReason.Extension : RevisionReason.Removal,
                Extension = extension.Metadata.Name,
                BuildSpecHash = origin.BuildSpecHash,
            };
        }

        return null;
    }

    /// <summary>A copy of <paramref name="model"/> whose status has <paramref name="revision"/> recorded as its current
    /// one: what the policy judges in the reconcile that records it.</summary>
    public static NexusModel WithRevision(NexusModel model, ModelRevision revision)
    {
        var copy = ResourceCopy.Deep(model);
        var status = copy.Status ??= new NexusModelStatus();
        status.Revisions = [.. (status.Revisions ?? []).Where(kept => kept.Revision != revision.Revision), revision];
        status.CurrentRevision = revision.Revision;
        return copy;
    }

    /// <summary>Name of the Extension the Automatic policy creates for revision <paramref name="toRevision"/>: one per
    /// revision number, so a restarted operator finds the one it created.</summary>
    public static string AutomaticName(NexusModel model, int toRevision) =>
        KubernetesNames.Label(model.Metadata.Name, $"r{toRevision.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The Extension the Automatic policy creates for <paramref name="decision"/>: controlled by the model (so
    /// deleting the model deletes it), its budget the model's spec.extension.finetune.</summary>
    public static Extension Automatic(NexusModel model, RevisionDecision decision)
    {
        var toRevision = ModelProgress.NextRevision(model.Status);
        var extension = new Extension
        {
            Metadata = new V1ObjectMeta
            {
                Name = AutomaticName(model, toRevision),
                NamespaceProperty = model.Metadata.NamespaceProperty,
                Labels = new Dictionary<string, string>
                {
                    [Labels.Name] = Labels.NameValue,
                    [Labels.ManagedBy] = Labels.ManagedByValue,
                    [Labels.NexusModel] = KubernetesNames.LabelValue(model.Metadata.Name),
                },
            },
            Spec = new ExtensionSpec
            {
                Model = model.Metadata.Name,
                Add = decision.Add.Count == 0 ? null : decision.Add.ToList(),
                Remove = decision.Remove.Count == 0 ? null : decision.Remove.ToList(),
            },
        };
        OwnerReferences.SetController(extension, model);
        return extension;
    }

    /// <summary>True when <paramref name="extension"/> makes the change <paramref name="decision"/> asks for.</summary>
    public static bool Makes(Extension extension, RevisionDecision decision) =>
        (extension.Spec.Add ?? []).SequenceEqual(decision.Add) && (extension.Spec.Remove ?? []).Order().SequenceEqual(decision.Remove.Order());

    private static RevisionExpert Copy(RevisionExpert expert) =>
        new() { Name = expert.Name, Domain = expert.Domain, CheckpointSha256 = expert.CheckpointSha256 };
}
