namespace Nexus.Operator.Specs;

/// <summary>A pipeline step the operator runs as a Job: one <c>nexus</c> subcommand in the worker image.</summary>
public enum StepKind
{
    /// <summary><c>nexus train</c>: an Expert's dense training from the seed model.</summary>
    Train,
    /// <summary><c>nexus import</c>: an Expert's existing dense checkpoint, checked against the seed and published.</summary>
    Import,
    /// <summary><c>nexus embed</c>: an Expert's domain embedding.</summary>
    Embed,
    /// <summary><c>nexus upcycle</c>: a NexusModel's experts merged into one MoE.</summary>
    Upcycle,
    /// <summary><c>nexus finetune</c>: the upcycled MoE trained on a mix of its domains.</summary>
    Finetune,
    /// <summary><c>nexus extend</c>: an Extension appends an expert (and, as its last surgery, finetunes).</summary>
    Extend,
    /// <summary><c>nexus remove</c>: an Extension drops an expert (and, as its last surgery, finetunes).</summary>
    Remove,
    /// <summary><c>nexus evaluate</c>: per-domain perplexity and routing of a revision's model.</summary>
    Evaluate,
}

public static class StepKinds
{
    /// <summary>Every step, for settings that need a value per step.</summary>
    public static IReadOnlyList<StepKind> All { get; } = Enum.GetValues<StepKind>();

    /// <summary>The <c>nexus</c> subcommand, which is also the Job's <c>app.kubernetes.io/component</c> label and the
    /// step part of its name.</summary>
    public static string CommandName(this StepKind step) => step switch
    {
        StepKind.Train => "train",
        StepKind.Import => "import",
        StepKind.Embed => "embed",
        StepKind.Upcycle => "upcycle",
        StepKind.Finetune => "finetune",
        StepKind.Extend => "extend",
        StepKind.Remove => "remove",
        StepKind.Evaluate => "evaluate",
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "Unknown step."),
    };
}
