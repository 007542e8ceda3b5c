using System.Globalization;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// Job names are a function of the owner, the step and the generation or revision: <c>news-train-g3</c>,
/// <c>demo-upcycle-r1</c>, <c>demo-add-code-extend-code-r2</c>. A restarted operator computes the same name and finds
/// the Job it created (a create then answers 409) instead of starting a second copy. Names are RFC 1123 labels of at
/// most 63 characters (a Job's name becomes its pods' <c>job-name</c> label); a longer one keeps its step suffix and
/// trades the end of the owner's name for a hash of the full name (<see cref="KubernetesNames.Label"/>).
/// </summary>
public static class JobNames
{
    /// <summary>An Expert's train, import or embed Job for its current generation.</summary>
    public static string ForExpert(Expert expert, StepKind step)
    {
        if (step is not (StepKind.Train or StepKind.Import or StepKind.Embed))
        {
            throw new ArgumentException($"An Expert runs train, import and embed Jobs, not {step}.", nameof(step));
        }

        var generation = expert.Metadata.Generation
            ?? throw new ArgumentException($"Expert {expert.Metadata.Name} has no metadata.generation: read it from the API server first.");
        return KubernetesNames.Label(expert.Metadata.Name, $"{step.CommandName()}-g{generation.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>A NexusModel's upcycle, finetune or evaluate Job for one revision.</summary>
    public static string ForModel(NexusModel model, StepKind step, int revision)
    {
        if (step is not (StepKind.Upcycle or StepKind.Finetune or StepKind.Evaluate))
        {
            throw new ArgumentException($"A NexusModel runs upcycle, finetune and evaluate Jobs, not {step}.", nameof(step));
        }

        return KubernetesNames.Label(model.Metadata.Name, $"{step.CommandName()}-{Revision(revision)}");
    }

    /// <summary>
    /// An Extension's Jobs: one per surgery, named for the expert's domain it adds or removes
    /// (<c>grow-extend-code-r3</c>), and its evaluate Job (<paramref name="domain"/> null).
    /// </summary>
    public static string ForExtension(Extension extension, StepKind step, int toRevision, string? domain = null)
    {
        var suffix = (step, domain) switch
        {
            (StepKind.Extend or StepKind.Remove, { Length: > 0 }) => $"{step.CommandName()}-{domain}-{Revision(toRevision)}",
            (StepKind.Evaluate, null) => $"{step.CommandName()}-{Revision(toRevision)}",
            _ => throw new ArgumentException(
                $"An Extension runs extend and remove Jobs (each for one domain) and an evaluate Job, not {step}{(domain is null ? "" : $" for '{domain}'")}.",
                nameof(step)),
        };
        return KubernetesNames.Label(extension.Metadata.Name, suffix);
    }

    private static string Revision(int revision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        return $"r{revision.ToString(CultureInfo.InvariantCulture)}";
    }
}
